"""build_separation_data: shapes, nested subsets, a fixed validation set, repeatable crops."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from trainers.api import DataRequest
from trainers.data.datasets import SeparationData, build_separation_data, demo_corpus_dir
from trainers.data.manifest import ManifestError, ShortClipWarning

SEGMENT = 1.0
RATE = 8000


@pytest.fixture(scope="module")
def request_(tmp_path_factory: pytest.TempPathFactory) -> DataRequest:
    cache = tmp_path_factory.mktemp("cache")
    return DataRequest(kind="demo", valid_size=3, segment_seconds=SEGMENT, cache_dir=str(cache))


@pytest.fixture(scope="module")
def small(request_: DataRequest) -> SeparationData:
    return build_separation_data(request_, subset_size=4, seed=1)


@pytest.fixture(scope="module")
def large(request_: DataRequest) -> SeparationData:
    return build_separation_data(request_, subset_size=8, seed=2)


def test_items_are_float_crops_of_the_segment(small: SeparationData) -> None:
    assert (len(small.train), len(small.valid), small.sample_rate) == (4, 3, RATE)
    for dataset in (small.train, small.valid):
        mixture, sources = dataset[0]
        assert mixture.shape == (RATE,) and sources.shape == (2, RATE)
        assert mixture.dtype == sources.dtype == torch.float32
        # the corpus' mixture file is the integer sum of its sources
        assert torch.allclose(mixture, sources.sum(0), atol=1e-6)
        assert mixture.abs().max() > 0.01
    batch = next(iter(DataLoader(small.train, batch_size=4)))
    assert batch[0].shape == (4, RATE) and batch[1].shape == (4, 2, RATE)
    assert "4 training clips" in small.description


def test_validation_is_identical_across_subset_sizes_and_seeds(
    small: SeparationData, large: SeparationData
) -> None:
    assert len(small.valid) == len(large.valid)
    for i in range(len(small.valid)):
        for a, b in zip(small.valid[i], large.valid[i], strict=True):
            assert torch.equal(a, b)


def test_subsets_are_nested_and_independent_of_the_trial_seed(
    small: SeparationData, large: SeparationData, request_: DataRequest
) -> None:
    assert all(
        torch.equal(a, b) for a, b in zip(small.train.clips, large.train.clips[:4], strict=True)
    )
    other_seed = build_separation_data(request_, subset_size=4, seed=99)
    assert all(
        torch.equal(a, b) for a, b in zip(small.train.clips, other_seed.train.clips, strict=True)
    )


def test_crops_repeat_for_seed_and_epoch_and_move_with_the_epoch(request_: DataRequest) -> None:
    data = build_separation_data(request_, subset_size=8, seed=7)
    twin = build_separation_data(request_, subset_size=8, seed=7)
    data.set_epoch(3)
    twin.set_epoch(3)
    for i in reversed(range(8)):  # order does not matter
        assert torch.equal(data.train[i][0], twin.train[i][0])
    starts = [data.train.crop_start(i) for i in range(8)]
    data.set_epoch(4)
    assert starts != [data.train.crop_start(i) for i in range(8)]
    other = build_separation_data(request_, subset_size=8, seed=8)
    other.set_epoch(3)
    assert starts != [other.train.crop_start(i) for i in range(8)]
    room = data.train.clips[0].shape[-1] - RATE
    assert all(0 <= s <= room for s in starts) and room > 0


def test_to_device_keeps_items(small: SeparationData) -> None:
    moved = small.to_device("cpu")
    moved.set_epoch(5)
    small.set_epoch(5)
    assert torch.equal(moved.train[2][1], small.train[2][1])
    assert torch.equal(moved.valid[1][0], small.valid[1][0])


def test_demo_corpus_folder_is_keyed_by_data_parameters(request_: DataRequest) -> None:
    folder = demo_corpus_dir(request_)
    assert folder.name == "seed0-8000hz-3s" and (folder / "corpus.json").exists()
    assert demo_corpus_dir(replace(request_, seed=1)) != folder


def _manifests(request_: DataRequest) -> DataRequest:
    folder = demo_corpus_dir(request_)
    return replace(
        request_,
        kind="manifest",
        train_manifest=str(folder / "train.csv"),
        valid_manifest=str(folder / "valid.csv"),
        seed=3,
    )


def test_manifest_kind_draws_a_nested_subset_with_the_data_seed(
    request_: DataRequest, large: SeparationData
) -> None:
    data = _manifests(request_)
    four = build_separation_data(data, subset_size=4, seed=0)
    eight = build_separation_data(data, subset_size=8, seed=5)
    assert all(
        torch.equal(a, b) for a, b in zip(four.train.clips, eight.train.clips[:4], strict=True)
    )
    corpus = {bytes(c.numpy().tobytes()) for c in large.train.clips}
    assert {bytes(c.numpy().tobytes()) for c in eight.train.clips} == corpus
    assert [bytes(c.numpy().tobytes()) for c in four.train.clips] != [
        bytes(c.numpy().tobytes()) for c in large.train.clips[:4]
    ]


def test_manifest_subset_too_large_names_the_numbers(request_: DataRequest) -> None:
    with pytest.raises(ManifestError, match="subset of 50 clips from a set of only 8"):
        build_separation_data(_manifests(request_), subset_size=50, seed=0)


def test_manifest_short_rows_are_skipped_with_a_warning(
    request_: DataRequest, tmp_path: Path
) -> None:
    data = _manifests(request_)
    source = Path(data.train_manifest or "")
    with open(source, newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["length"] = "100"  # claims to be shorter than a segment
    for row in rows:
        for key in ("mixture_path", "source_1_path", "source_2_path"):
            row[key] = str(source.parent / row[key])
    edited = tmp_path / "train.csv"
    with open(edited, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.warns(ShortClipWarning, match=r"1 of 8 clip\(s\) are shorter"):
        built = build_separation_data(
            replace(data, train_manifest=str(edited)), subset_size=7, seed=0
        )
    assert len(built.train) == 7


def test_missing_manifest_paths_are_an_error(request_: DataRequest) -> None:
    with pytest.raises(ValueError, match="needs train_manifest and valid_manifest"):
        build_separation_data(replace(request_, kind="manifest"), subset_size=2, seed=0)
