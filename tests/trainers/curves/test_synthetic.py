"""The ``synthetic`` curve trainer's checkpoints (continue where it stopped) and its
out-of-memory fault."""

from __future__ import annotations

import os
from typing import Any

import pytest

from trainers import run_trial
from trainers.api import DataRequest, ListReporter, TrialRequest, has_checkpoint
from trainers.curves.synthetic import load_epochs


class Interrupted(Exception):
    pass


class StopAfter(ListReporter):
    """Raises after ``epochs`` reports: the process dying mid-trial."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs

    def report(self, metrics: Any, checkpoint_dir: Any = None) -> None:
        super().report(metrics, checkpoint_dir)
        if len(self.reports) == self.epochs:
            raise Interrupted


def request(**fields: Any) -> TrialRequest:
    hparams = {"lr": 2e-3, **fields.pop("hparams", {})}
    return TrialRequest(
        model="synthetic",
        preset="",
        hparams=hparams,
        data=DataRequest(),
        subset_size=2000,
        epochs=5,
        seed=7,
        **fields,
    )


def test_a_resumed_trial_reports_its_saved_epochs_then_trains_on(tmp_path):
    straight = ListReporter()
    run_trial(request(), straight)
    folder = str(tmp_path / "ckpt")
    with pytest.raises(Interrupted):
        run_trial(request(checkpoint_dir=folder), StopAfter(3))
    assert has_checkpoint(folder) and len(load_epochs(folder)) == 3

    resumed = ListReporter()
    outcome = run_trial(request(checkpoint_dir=folder, resume_from=folder), resumed)
    assert resumed.reports == straight.reports  # every epoch once, the same values
    assert resumed.checkpoints[:3] == [None] * 3  # replayed, not checkpointed again
    assert (outcome.status, outcome.epochs_run) == ("completed", 5)
    assert outcome.best_metric == max(r["score"] for r in straight.reports)
    assert [e["metrics"]["epoch"] for e in load_epochs(folder)] == [1, 2, 3, 4, 5]


def test_no_checkpoint_dir_writes_nothing_and_nothing_to_resume_from(tmp_path):
    reporter = ListReporter()
    run_trial(request(), reporter)
    assert reporter.checkpoints == [None] * 5
    assert not has_checkpoint(tmp_path) and not has_checkpoint(None)


def test_the_checkpoint_says_which_process_trained_each_epoch(tmp_path):
    folder = str(tmp_path / "ckpt")
    run_trial(request(checkpoint_dir=folder), ListReporter())
    assert {e["pid"] for e in load_epochs(folder)} == {os.getpid()}


def test_oom_above_runs_out_of_memory_before_the_first_epoch():
    reporter = ListReporter()
    too_big = request(hparams={"batch_size": 64, "hidden": 256, "oom_above": 8192})
    with pytest.raises(MemoryError, match="synthetic out of memory: batch_size x hidden = 16384"):
        run_trial(too_big, reporter)
    assert reporter.reports == []
    fits = request(hparams={"batch_size": 32, "hidden": 256, "oom_above": 8192})
    run_trial(fits, reporter)
    assert len(reporter.reports) == 5
