"""Speaker verification data: trial lists, deterministic trials, and training items that group
utterances of one speaker."""

from pathlib import Path

import numpy as np
import pytest

from tests.trainers.data._speaker_trees import make_tree, manifest_request
from trainers.api import DataRequest
from trainers.data.manifest import ManifestError
from trainers.data.verification import build_trials, build_verification_data, read_trials


def test_read_trials_resolves_paths_and_reports_malformed_lines(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "test", per_speaker=2)
    good = root / "trials.txt"
    good.write_text(
        "1 id_a/vid0/00000.wav id_a/vid1/00001.wav\n0 id_a/vid0/00000.wav id_b/vid0/00000.wav\n"
    )
    utts, trials = read_trials(good)
    assert [u.speaker for u in utts] == ["id_a", "id_a", "id_b"]
    assert [(t.label, t.first, t.second) for t in trials] == [(1, 0, 1), (0, 0, 2)]
    bad = root / "bad.txt"
    bad.write_text("2 a b\n1 id_a/vid0/00000.wav\n1 id_a/vid0/00000.wav id_x/v/nope.wav\n")
    with pytest.raises(ManifestError) as error:
        read_trials(bad)
    assert "line 1" in str(error.value) and "line 2" in str(error.value)
    assert "nope.wav" in str(error.value)


def test_build_trials_is_deterministic_balanced_and_capped() -> None:
    speakers = [f"s{i % 5}" for i in range(30)]
    trials = build_trials(speakers, max_pairs=40, seed=3)
    assert trials == build_trials(speakers, max_pairs=40, seed=3)
    assert len(trials) == 40 and sum(t.label for t in trials) == 20
    for t in trials:
        assert (speakers[t.first] == speakers[t.second]) == bool(t.label)
        assert t.first < t.second
    with pytest.raises(ValueError, match="need a speaker with 2"):
        build_trials(["a", "b", "c"], 10, 0)


def test_verification_from_tree_and_trial_list(tmp_path: Path) -> None:
    train = make_tree(tmp_path / "dev", per_speaker=4)
    test = make_tree(tmp_path / "test", speakers=("id_x", "id_y"), per_speaker=2)
    (test / "trials.txt").write_text(
        "1 id_x/vid0/00000.wav id_x/vid1/00001.wav\n0 id_x/vid0/00000.wav id_y/vid0/00000.wav\n"
    )
    request = manifest_request(train, tmp_path / "cache", valid=str(test / "trials.txt"))
    data = build_verification_data(request, 6, seed=0, n_per_speaker=3, max_test_pairs=10)
    assert data.n_speakers == len({int(data.train[i][1]) for i in range(len(data.train))})
    crops, label = data.train[0]
    assert crops.shape == (3, 2000) and label.dtype.is_floating_point is False
    assert len(data.valid) == 3 and len(data.trials) == 2
    with pytest.raises(ManifestError, match="disjoint"):
        overlap = manifest_request(train, tmp_path, valid=str(test / "trials.txt"))
        (train / "trials.txt").write_text(
            "1 id_a/vid0/00000.wav id_a/vid1/00001.wav\n0 id_a/vid0/00000.wav id_b/vid0/00000.wav\n"
        )
        build_verification_data(
            DataRequest(**{**overlap.__dict__, "valid_manifest": str(train / "trials.txt")}),
            6,
            0,
            2,
            10,
        )
    with pytest.raises(ValueError, match="needs train_manifest"):
        build_verification_data(manifest_request(train, tmp_path), 6, 0, 2, 10)


def test_verification_group_items_are_one_speaker(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "dev", per_speaker=4)
    test = make_tree(tmp_path / "test", speakers=("id_x",), per_speaker=2)
    (test / "t.txt").write_text("1 id_x/vid0/00000.wav id_x/vid1/00001.wav\n")
    data = build_verification_data(
        manifest_request(tree, tmp_path, str(test / "t.txt")), 12, 0, 2, 10
    )
    store = data.train.store
    for index in range(len(data.train)):
        crops, label = data.train[index]
        # each crop is a tone of the item's own speaker: its dominant frequency band matches
        own = np.abs(np.fft.rfft(store.piece(index, 0, 2000).numpy())).argmax()
        for crop in crops:
            assert (
                abs(int(np.abs(np.fft.rfft(crop.numpy())).argmax()) - int(own)) <= 12
            )  # 48 Hz: under half the 100 Hz speaker spacing
