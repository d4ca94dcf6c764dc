"""Fixtures for the runner: a database, sweep YAMLs, and the product's simulated executor.

``SimExecutor`` is :class:`~orchestrator.runner.simulated.SimulatedExecutor` (the product's
Ray-free executor) with one trial at a time and a simulated kill for resume tests, so the
pipeline's logic is tested in a second without Ray.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.runner.jobs import StageJob
from orchestrator.runner.simulated import SimulatedExecutor, Steps
from orchestrator.storage import open_storage
from orchestrator.storage.base import BaseStorage
from orchestrator.sweepfile import parse_spec, spec_to_dict
from trainers import TrialRequest

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


class SimExecutor(SimulatedExecutor):
    """One trial at a time. ``interrupt_after`` raises KeyboardInterrupt in the middle of that
    many-th trial of a stage named ``interrupt_stage``, after its first epoch (a simulated kill)."""

    def __init__(
        self, tmp: Path, interrupt_stage: str | None = None, interrupt_after: int = 0
    ) -> None:
        super().__init__(workers=1)
        self.tmp = tmp
        self.interrupt_stage, self.interrupt_after = interrupt_stage, interrupt_after
        self.started: dict[str, int] = {}

    def trial_steps(self, job: StageJob, request: TrialRequest) -> Steps:
        self.started[job.name] = self.started.get(job.name, 0) + 1
        if job.name == self.interrupt_stage and self.started[job.name] == self.interrupt_after:
            return killed_after_one_epoch()
        return super().trial_steps(job, request)


def killed_after_one_epoch() -> Steps:
    yield {"score": 0.5, "epoch": 1}
    raise KeyboardInterrupt("simulated kill -9")


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
