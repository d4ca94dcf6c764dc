"""The shared loop on tiny synthetic mixtures: reports, repeatability, exact
resume, NaN handling (skip, fp32 retry, divergence), early stopping and the LR schedule."""

import math
from typing import Any

import pytest
import torch
from torch.utils.data import TensorDataset

from trainers.api import DataRequest, ListReporter, TrialRequest
from trainers.checkpoint import load_best_model, load_checkpoint
from trainers.device import DeviceBatches
from trainers.loop import train
from trainers.tasks import SeparationTask

torch.set_num_threads(1)

SMALL = {"hidden": 8, "layers": 1, "bottleneck": 8, "n_filters": 16}  # architecture overrides
TIMING = {"epoch_seconds", "samples_per_second"}


def synthetic_mixtures(count: int, length: int, seed: int) -> TensorDataset:
    """Two sources per item: an amplitude-modulated sine and a decaying noise burst."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / 8000
    freq = 200 + 600 * torch.rand(count, 1, generator=g)
    tone = torch.sin(2 * math.pi * freq * t) * (1 + torch.sin(2 * math.pi * 3 * t))
    burst = torch.randn(count, length, generator=g) * torch.exp(-20 * t)
    sources = torch.stack([tone, burst], dim=1) * 0.3
    return TensorDataset(sources.sum(1), sources)


class SyntheticTask(SeparationTask):
    """Separation on in-memory synthetic mixtures; ``bad_calls`` makes those loss calls inf."""

    def __init__(self, train_items: int = 8, bad_calls: range = range(0)) -> None:
        self.train_items = train_items
        self.bad_calls = bad_calls
        self.calls = 0

    def build_data(self, request: TrialRequest, config: Any) -> tuple[Any, Any]:
        return synthetic_mixtures(self.train_items, 800, 1), synthetic_mixtures(4, 800, 2)

    def loss(self, model_out: torch.Tensor, batch: Any) -> torch.Tensor:
        self.calls += 1
        loss = super().loss(model_out, batch)
        return loss * math.inf if self.calls - 1 in self.bad_calls else loss


def request(epochs: int = 2, **overrides: Any) -> TrialRequest:
    hparams = {**SMALL, "batch_size": 4, **overrides.pop("hparams", {})}
    fields: dict[str, Any] = {
        "model": "dprnn",
        "preset": "tiny",
        "data": DataRequest(),
        "subset_size": 8,
    }
    fields.update(overrides)
    return TrialRequest(hparams=hparams, epochs=epochs, device="cpu", **fields)


def without_timing(reports: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in reports]


def test_reports_every_metric_each_epoch_and_returns_the_best() -> None:
    reporter = ListReporter()
    outcome = train(request(epochs=3), reporter, task=SyntheticTask())
    keys = {"si_sdr", "si_sdri", "epoch", "train_loss", "lr", "grad_norm", "skipped_batches"}
    assert all(keys | TIMING <= set(r) for r in reporter.reports)
    assert [r["epoch"] for r in reporter.reports] == [1, 2, 3]
    best = max(reporter.reports, key=lambda r: r["si_sdr"])
    assert (outcome.status, outcome.epochs_run) == ("completed", 3)
    assert (outcome.best_metric, outcome.best_epoch) == (best["si_sdr"], best["epoch"])
    assert all(math.isfinite(r["grad_norm"]) and r["grad_norm"] > 0 for r in reporter.reports)
    assert outcome.extra["config"]["architecture"]["hidden"] == SMALL["hidden"]
    assert reporter.checkpoints == [None, None, None]


def test_same_seed_repeats_exactly_and_another_seed_differs() -> None:
    runs = []
    for seed in (3, 3, 4):
        reporter = ListReporter()
        train(request(seed=seed, hparams={"optimizer": "adamw"}), reporter, task=SyntheticTask())
        runs.append(without_timing(reporter.reports))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_resume_continues_exactly(tmp_path) -> None:
    straight = ListReporter()
    train(request(epochs=4), straight, task=SyntheticTask())
    first, second = ListReporter(), ListReporter()
    train(request(epochs=2, checkpoint_dir=str(tmp_path)), first, task=SyntheticTask())
    assert first.checkpoints == [tmp_path, tmp_path]
    assert load_checkpoint(tmp_path)["progress"]["epoch"] == 2
    outcome = train(
        request(epochs=4, resume_from=str(tmp_path), checkpoint_dir=str(tmp_path)),
        second,
        task=SyntheticTask(),
    )
    # the checkpoint's epochs are reported again as they were (the orchestrator may have lost
    # them), then training goes on from epoch 3
    assert [r["epoch"] for r in second.reports] == [1, 2, 3, 4]
    assert second.reports[:2] == first.reports
    assert second.checkpoints == [None, None, tmp_path, tmp_path]
    resumed = without_timing(second.reports)
    for got, expected in zip(resumed, without_timing(straight.reports), strict=True):
        assert got == pytest.approx(expected, abs=1e-6)
    assert outcome.epochs_run == 4


def test_resume_refuses_another_architecture(tmp_path) -> None:
    train(request(epochs=1, checkpoint_dir=str(tmp_path)), ListReporter(), task=SyntheticTask())
    changed = request(epochs=2, resume_from=str(tmp_path), hparams={"hidden": 12})
    with pytest.raises(ValueError, match="cannot resume: checkpoint architecture"):
        train(changed, ListReporter(), task=SyntheticTask())


def test_nan_epoch_is_retried_then_the_trial_diverges_keeping_its_best(tmp_path) -> None:
    # 16 items / batch 2 = 8 batches an epoch; every loss from epoch 2 on is inf
    task = SyntheticTask(train_items=16, bad_calls=range(8, 10**6))
    hparams = {"batch_size": 2, "max_nonfinite_batches": 2}
    reporter = ListReporter()
    outcome = train(
        request(epochs=4, hparams=hparams, checkpoint_dir=str(tmp_path)), reporter, task=task
    )
    assert outcome.status == "diverged"
    assert outcome.reason is not None
    assert "epoch 2" in outcome.reason and "fp32" in outcome.reason
    assert [r["epoch"] for r in reporter.reports] == [1]
    assert (outcome.best_metric, outcome.best_epoch) == (reporter.reports[0]["si_sdr"], 1)
    assert outcome.skipped_batches == 3 + 3  # limit 2 exceeded, then the same in the retry
    assert task.calls == 8 + 3 + 3
    assert load_best_model(tmp_path)["epoch"] == 1
    assert load_checkpoint(tmp_path)["progress"]["epoch"] == 1


def test_a_few_nan_batches_are_skipped_and_counted() -> None:
    task = SyntheticTask(train_items=16, bad_calls=range(9, 11))  # two batches of epoch 2
    reporter = ListReporter()
    outcome = train(request(epochs=2, hparams={"batch_size": 2}), reporter, task=task)
    assert outcome.status == "completed"
    assert [r["skipped_batches"] for r in reporter.reports] == [0, 2]
    assert outcome.skipped_batches == 2
    assert all(math.isfinite(r["train_loss"]) for r in reporter.reports)


def test_a_successful_fp32_retry_continues_the_trial() -> None:
    # every batch of epoch 2's first attempt fails; the replay of epoch 2 is clean
    task = SyntheticTask(train_items=8, bad_calls=range(2, 4))
    reporter = ListReporter()
    outcome = train(request(epochs=3), reporter, task=task)
    assert outcome.status == "completed"
    assert [r["epoch"] for r in reporter.reports] == [1, 2, 3]
    assert outcome.skipped_batches == 2
    assert reporter.reports[1]["skipped_batches"] == 0  # the retry's own count
    assert task.calls == 2 + 2 + 2 + 2


def test_early_stopping_without_improvement() -> None:
    reporter = ListReporter()
    hparams = {"lr": 0.0, "early_stop_patience": 2}
    outcome = train(request(epochs=10, hparams=hparams), reporter, task=SyntheticTask())
    assert outcome.status == "early_stopped"
    assert outcome.epochs_run == 3 and outcome.best_epoch == 1
    assert "no improvement of si_sdr for 2 epochs" in (outcome.reason or "")


class ConstantScoreTask(SyntheticTask):
    def evaluate(self, model: Any, loader: Any, device: torch.device) -> dict[str, float]:
        return {"si_sdr": 1.0, "si_sdri": 0.0}


def test_plateau_lowers_the_learning_rate() -> None:
    reporter = ListReporter()
    hparams = {"lr": 1e-3, "lr_patience": 0, "lr_factor": 0.5, "grad_clip": 0}
    train(request(epochs=4, hparams=hparams), reporter, task=ConstantScoreTask())
    lrs = [r["lr"] for r in reporter.reports]
    assert lrs == pytest.approx([1e-3, 1e-3, 5e-4, 2.5e-4])


def test_device_batches_cover_each_item_once_in_a_seeded_order() -> None:
    data = TensorDataset(torch.arange(10), torch.arange(10) * 2)
    batches = DeviceBatches(data, 4, shuffle=True, generator=torch.Generator().manual_seed(0))
    epoch = list(batches)
    assert [len(b[0]) for b in epoch] == [4, 4, 2] and len(batches) == 3
    seen = torch.cat([b[0] for b in epoch])
    assert sorted(seen.tolist()) == list(range(10))
    assert torch.equal(torch.cat([b[1] for b in epoch]), seen * 2)
    again = DeviceBatches(data, 4, shuffle=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.cat([b[0] for b in again]), seen)
