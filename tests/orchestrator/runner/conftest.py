"""Fixtures for the runner: a database, sweep YAMLs, and a Ray-free simulated executor.

The simulated executor drives a StageJob's searcher, scheduler and recorder exactly as Ray's
TuneController does (suggest -> start -> results through the scheduler -> complete/error), one
trial at a time, so the pipeline's logic is tested in a second without Ray.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher

from orchestrator.runner.jobs import StageJob
from orchestrator.runner.trainable import build_request, final_report
from orchestrator.storage import open_storage
from orchestrator.storage.base import BaseStorage
from orchestrator.sweepfile import parse_spec, spec_to_dict
from trainers import run_trial

QUICK = """
name: quick
method: bayes
metric: {name: score, goal: maximize}
model: {name: synthetic, fixed: {noise: 0.05}}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
  weight_decay: {distribution: log_uniform_values, min: 1.0e-6, max: 1.0e-3}
  optimizer: {values: [adam, sgd]}
early_terminate: {type: hyperband, min_iter: 2, eta: 2}
epochs: 6
stages:
  - {name: stage1, subset: 2000, trials: 10}
  - {name: stage2, subset: 4000, trials: 6}
  - name: stage3
    subset: 8000
    variants:
      - {name: hyperband, trials: 5}
      - {name: conservative, trials: 5, early_terminate: {type: median, grace: 2, min_samples: 2}}
selection: {k: 2, require_full_budget: true}
validation: {subset: 16000, seeds: [42, 123]}
wandb: false
"""


class StopTrial(Exception):
    """What ray.tune.report does when the scheduler stops a trial: it does not return."""


class FakeTrial:
    def __init__(
        self, trial_id: str, config: dict[str, Any], error_file: str | None = None
    ) -> None:
        self.trial_id, self.config, self.error_file = trial_id, config, error_file


class _Reporter:
    def __init__(self, job: StageJob, trial: FakeTrial) -> None:
        self.job, self.trial = job, trial
        self.last: dict[str, Any] = {}
        self.iteration = 0

    def report(self, metrics: Mapping[str, float], checkpoint_dir: Path | None = None) -> None:
        self.iteration += 1
        self.last = dict(metrics)
        deliver(self.job, self.trial, {**metrics, "training_iteration": self.iteration})


def deliver(job: StageJob, trial: FakeTrial, result: dict[str, Any]) -> None:
    """Ray's order: scheduler, then searcher (unless stopped), then callbacks."""
    decision = job.scheduler.on_trial_result(None, trial, result)
    if decision != TrialScheduler.STOP:
        job.searcher.on_trial_result(trial.trial_id, result)
    job.recorder.on_trial_result(0, [], trial, result)
    if decision == TrialScheduler.STOP:
        raise StopTrial


class SimExecutor:
    """Runs a job's trials sequentially in-process. ``interrupt_after`` raises KeyboardInterrupt
    in the middle of that many-th trial of a stage named ``interrupt_stage`` (a simulated kill)."""

    def __init__(
        self, tmp: Path, interrupt_stage: str | None = None, interrupt_after: int = 0
    ) -> None:
        self.tmp, self.ids = tmp, itertools.count()
        self.interrupt_stage, self.interrupt_after = interrupt_stage, interrupt_after
        self.executed: list[str] = []

    def execute(self, job: StageJob) -> None:
        self.executed.append(job.name)
        started = 0
        while True:
            trial_id = f"t{next(self.ids)}"
            config = job.searcher.suggest(trial_id)
            if config is None or config == Searcher.FINISHED:
                return
            assert isinstance(config, dict)
            trial = FakeTrial(trial_id, config)
            started += 1
            crash = job.name == self.interrupt_stage and started == self.interrupt_after
            self._run(job, trial, crash)

    def _run(self, job: StageJob, trial: FakeTrial, crash: bool) -> None:
        job.recorder.on_trial_start(0, [], trial)
        reporter = _Reporter(job, trial)
        try:
            if crash:
                reporter.report({"score": 0.5, "epoch": 1})
                job.recorder.flush()
                raise KeyboardInterrupt("simulated kill -9")
            outcome = run_trial(build_request(job.ctx, trial.config, None), reporter)
            deliver(job, trial, final_report(outcome, reporter.last, job.ctx.metric))
        except StopTrial:
            pass
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            trial.error_file = str(self.tmp / f"{trial.trial_id}.txt")
            Path(trial.error_file).write_text(f"Traceback ...\n{type(exc).__name__}: {exc}\n")
            job.recorder.on_trial_error(0, [], trial)
            job.searcher.on_trial_complete(trial.trial_id, None, error=True)
            return
        job.scheduler.on_trial_complete(None, trial, reporter.last)
        job.searcher.on_trial_complete(trial.trial_id, reporter.last)
        job.recorder.on_trial_complete(0, [], trial)


@pytest.fixture
def storage(tmp_path: Path) -> BaseStorage:
    return open_storage(f"sqlite:///{tmp_path / 'rungs.db'}")


@pytest.fixture
def make_sweep(storage: BaseStorage) -> Callable[[str], int]:
    def make(text: str = QUICK) -> int:
        parsed = parse_spec(text, "quick.yaml")
        return storage.create_sweep(
            parsed.spec.name, spec_to_dict(parsed.spec), text, state="running"
        )

    return make


@pytest.fixture
def quick_yaml() -> str:
    return QUICK


@pytest.fixture
def sim_executor_cls() -> type[SimExecutor]:
    return SimExecutor
