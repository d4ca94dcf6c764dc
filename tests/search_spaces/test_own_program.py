"""The shipped example of a user's own script: its sweep validates, and one trial of it, run as
Rungs runs it (real wandb, offline), reports a validation SI-SDR that improves."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from orchestrator.runner.programs import ProgramTrials
from orchestrator.sweepfile import load_spec
from trainers import run_trial
from trainers.api import DataRequest, ListReporter, TrialRequest

EXAMPLE = Path(__file__).resolve().parents[2] / "search_spaces" / "own_program"


def test_the_example_sweep_validates_without_warnings() -> None:
    parsed = load_spec(EXAMPLE / "sweep.yaml")
    assert parsed.warnings == []
    spec = parsed.spec
    assert spec.program is not None and spec.program.workdir == str(EXAMPLE)
    assert [s.subset for s in spec.stages] == [1000, 2000, 4000] and spec.validation.subset == 8000


@pytest.mark.slow
def test_one_trial_of_the_example_learns(tmp_path: Path) -> None:
    spec = load_spec(EXAMPLE / "sweep.yaml").spec
    assert spec.program is not None
    trials = ProgramTrials(spec.program, str(tmp_path), "val_si_sdr", "maximize", "ex", "wide")
    config = {"lr": 1e-3, "hidden": 16, "batch_size": 32}
    base = TrialRequest("program", "", config, DataRequest(), subset_size=600, epochs=3, seed=0)
    reporter = ListReporter()
    outcome = run_trial(trials.request(base, "main-000"), reporter)
    values = [r["val_si_sdr"] for r in reporter.reports if "val_si_sdr" in r]
    assert outcome.status == "completed" and len(values) == 3
    assert all(math.isfinite(v) for v in values) and values[-1] > values[0]
