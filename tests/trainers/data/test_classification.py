"""Speaker classification data: held-out utterances of the same speakers, and labels that are
sorted, fixed across epochs and processes, and saved with the data (a researcher's
speaker-classification log records labels from a per-process ``hash`` and labels re-drawn every
epoch)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.trainers.data._speaker_trees import make_tree, manifest_request
from trainers.data.classification import (
    HOLDOUT_EVERY,
    build_classification_data,
    save_label_map,
    split_holdout,
)
from trainers.data.manifest import ManifestError
from trainers.data.utterances import Utterance


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
from trainers.data.classification import build_classification_data
data = build_classification_data(DataRequest(kind="manifest", train_manifest=sys.argv[1],
    sample_rate=8000, segment_seconds=0.25, cache_dir=sys.argv[2]), 12, seed=0)
print(json.dumps([data.labels, [int(data.train[i][1]) for i in range(len(data.train))]]))
"""


def test_classification_labels_are_identical_across_processes(tmp_path: Path) -> None:
    """Python's str hash is salted per process (the log's ``hash(speaker_id) % 2``): two children
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
