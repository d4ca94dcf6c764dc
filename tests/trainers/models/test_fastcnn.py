"""FastCNN speaker classification through ``trainers.run_trial`` on the demo corpus: accuracy
rises far above chance; presets, feature front ends and config errors."""

import dataclasses
from pathlib import Path

import pytest
import torch

from trainers import DataRequest, ListReporter, TrialRequest, run_trial
from trainers.models.fastcnn import PRESETS, build, count_parameters
from trainers.registry import model_entry
from trainers.tasks import ClassificationTask, get_task

torch.set_num_threads(1)


def demo_request(cache: Path, **hparams: object) -> TrialRequest:
    data = DataRequest(
        kind="demo", sample_rate=8000, segment_seconds=2.0, valid_size=150, cache_dir=str(cache)
    )
    return TrialRequest(
        "fastcnn", "tiny", {"batch_size": 16, "lr": 3e-3, **hparams}, data, 800, 12, device="cpu"
    )


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "speech-demo"  # shared with the other speech tests


def test_registry_entry_and_presets() -> None:
    entry = model_entry("fastcnn")
    assert (entry.task, entry.metric, entry.goal) == ("classification", "accuracy", "maximize")
    assert isinstance(get_task(entry.task), ClassificationTask)
    assert count_parameters(build(PRESETS["tiny"])) < 150_000
    for features in ("raw", "mfcc", "logmel"):
        model = build(dataclasses.replace(PRESETS["tiny"], features=features))
        assert model(torch.randn(2, 8000)).shape == (2, 600)
    with pytest.raises(ValueError, match="valid: logmel, mfcc, raw"):
        dataclasses.replace(PRESETS["tiny"], features="wav2vec")


@pytest.mark.slow
def test_tiny_fastcnn_learns_to_classify_demo_speakers(cache: Path) -> None:
    reporter = ListReporter()
    outcome = run_trial(demo_request(cache), reporter)
    first, best = reporter.reports[0], max(r["accuracy"] for r in reporter.reports)
    chance = first["chance"]
    print(f"accuracy: epoch 1 {first['accuracy']:.1f}%, best {best:.1f}%, chance {chance:.1f}%")
    assert outcome.status == "completed" and outcome.best_metric == best
    assert chance < 5.0  # dozens of speakers
    assert best >= 10 * chance and best >= 40.0
    assert best >= first["accuracy"] + 25.0
