"""The classification task: the model's resolved config must have a class for every speaker."""

import dataclasses
from pathlib import Path

import pytest

from tests.trainers.data._speaker_trees import make_tree, manifest_request
from trainers.api import TrialRequest
from trainers.models.fastcnn import PRESETS
from trainers.tasks import ClassificationTask


def test_a_head_with_fewer_classes_than_speakers_is_an_error(tmp_path: Path) -> None:
    data = manifest_request(make_tree(tmp_path / "tree"), tmp_path / "cache")  # 3 speakers
    request = TrialRequest("fastcnn", "tiny", {}, data, subset_size=12, epochs=1)
    task = ClassificationTask()
    with pytest.raises(ValueError, match="has 3 speakers, but the model's n_classes is 2"):
        task.build_data(request, dataclasses.replace(PRESETS["tiny"], n_classes=2))
    train, valid = task.build_data(request, dataclasses.replace(PRESETS["tiny"], n_classes=3))
    assert len(train) == 12 and task.n_labels == 3
