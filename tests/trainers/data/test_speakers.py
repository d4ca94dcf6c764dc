"""Speaker-labelled data: VoxCeleb-style trees, trial lists, deterministic trials, and labels
that are sorted, persistent across epochs and processes, and saved with the data (seed 001)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from trainers.api import DataRequest
from trainers.data.manifest import ManifestError
from trainers.data.speakers import (
    HOLDOUT_EVERY,
    Utterance,
    build_classification_data,
    build_trials,
    build_verification_data,
    label_map,
    read_trials,
    save_label_map,
    split_holdout,
    tree_utterances,
)

RATE = 8000
SPEAKERS = ("id_b", "id_a", "id_c")  # deliberately unsorted


def write_tone(path: Path, freq: float, seconds: float = 0.5) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * RATE)) / RATE
    sf.write(path, 0.3 * np.sin(2 * np.pi * freq * t), RATE, subtype="PCM_16")


def make_tree(root: Path, speakers=SPEAKERS, per_speaker: int = 8) -> Path:
    for s, speaker in enumerate(speakers):
        for u in range(per_speaker):
            write_tone(root / speaker / f"vid{u % 2}" / f"{u:05d}.wav", 200 + 100 * s + 5 * u)
    return root


def test_tree_utterances_are_sorted_with_speaker_from_the_first_folder(tmp_path: Path) -> None:
    utts = tree_utterances(make_tree(tmp_path / "tree", per_speaker=2))
    assert [u.speaker for u in utts] == ["id_a", "id_a", "id_b", "id_b", "id_c", "id_c"]
    assert utts == sorted(utts, key=lambda u: u.path)


def test_tree_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="does not exist"):
        tree_utterances(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ManifestError, match="no .wav/.flac files"):
        tree_utterances(tmp_path / "empty")
    write_tone(tmp_path / "flat" / "spk" / "utt.wav", 300)
    with pytest.raises(ManifestError, match="3 levels"):
        tree_utterances(tmp_path / "flat")


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


def test_label_map_is_sorted_not_hashed() -> None:
    assert label_map(["id_b", "id_a", "id_c", "id_a"]) == {"id_a": 0, "id_b": 1, "id_c": 2}


def test_saved_label_map_refuses_a_silent_relabel(tmp_path: Path) -> None:
    path = tmp_path / "labels.json"
    save_label_map(path, {"a": 0, "b": 1})
    save_label_map(path, {"a": 0, "b": 1})  # the same map: fine
    with pytest.raises(ValueError, match="different speaker label map"):
        save_label_map(path, {"a": 1, "b": 0})


def test_split_holdout_keeps_every_fourth_utterance_of_each_speaker() -> None:
    pool = [Utterance(Path(f"{i}.wav"), "a" if i % 3 else "b") for i in range(24)]
    train, held = split_holdout(pool)
    for speaker in ("a", "b"):
        mine = [u for u in pool if u.speaker == speaker]
        assert [u for u in held if u.speaker == speaker] == mine[HOLDOUT_EVERY - 1 :: HOLDOUT_EVERY]
    assert not set(train) & set(held)


def manifest_request(tree: Path, cache: Path, valid: str | None = None) -> DataRequest:
    return DataRequest(
        kind="manifest",
        train_manifest=str(tree),
        valid_manifest=valid,
        sample_rate=RATE,
        segment_seconds=0.25,
        cache_dir=str(cache),
    )


def test_classification_labels_are_fixed_across_epochs_and_saved(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    data = build_classification_data(manifest_request(tree, tmp_path / "cache"), 12, seed=0)
    assert data.labels == {"id_a": 0, "id_b": 1, "id_c": 2}
    assert json.loads(data.label_file.read_text()) == data.labels
    epoch_labels = []
    for epoch in (1, 2, 3):
        data.train.set_epoch(epoch)
        epoch_labels.append([int(data.train[i][1]) for i in range(len(data.train))])
    assert epoch_labels[0] == epoch_labels[1] == epoch_labels[2]
    assert "class balance" in data.description
    assert sum(data.class_counts.values()) == len(data.train) == 12
    valid_speakers = {int(data.valid[i][1]) for i in range(len(data.valid))}
    assert valid_speakers == {0, 1, 2}  # held-out utterances of the same speakers


CHILD = """
import json, sys
from trainers.api import DataRequest
from trainers.data.speakers import build_classification_data
data = build_classification_data(DataRequest(kind="manifest", train_manifest=sys.argv[1],
    sample_rate=8000, segment_seconds=0.25, cache_dir=sys.argv[2]), 12, seed=0)
print(json.dumps([data.labels, [int(data.train[i][1]) for i in range(len(data.train))]]))
"""


def test_classification_labels_are_identical_across_processes(tmp_path: Path) -> None:
    """Python's str hash is salted per process (seed 001's ``hash(speaker) % 2``): two children
    with different PYTHONHASHSEEDs must still agree on every label."""
    tree = make_tree(tmp_path / "tree")
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1"}
        args = [sys.executable, "-c", CHILD, str(tree), str(tmp_path / "cache")]
        done = subprocess.run(
            args, env=env, capture_output=True, text=True, check=True, cwd=Path.cwd()
        )
        outputs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == {"id_a": 0, "id_b": 1, "id_c": 2}


def test_classification_manifest_errors(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    with pytest.raises(ValueError, match="no valid_manifest"):
        build_classification_data(manifest_request(tree, tmp_path, valid="x.txt"), 4, 0)
    with pytest.raises(ManifestError, match="cannot take a subset of 99"):
        build_classification_data(manifest_request(tree, tmp_path), 99, 0)


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
