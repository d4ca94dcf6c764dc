"""The simulated clock: trials of one search run on ``workers`` parallel slots, in-process.

This is :mod:`stages.curves`' clock with the searcher in the loop: when a slot frees, the
:class:`TrialSource` is asked for the next trial (so a sampler sees every result that arrived
before it proposes), every reported value goes to the source (which may stop the trial), and the
end of a trial is told back. An epoch on ``n`` samples takes ``n`` units of simulated time, so
trials on bigger subsets report more slowly, as on a real machine.

Compute is counted in *sample-epochs*: ``subset x epochs actually trained``, charged per reported
epoch to the :class:`Ledger` (so a budget check sees partially trained trials too).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass
class Ledger:
    """Sample-epochs spent so far, and how many trials and epochs they were."""

    sample_epochs: float = 0.0
    trials: int = 0
    epochs: int = 0

    def charge(self, subset: int) -> None:
        self.sample_epochs += subset
        self.epochs += 1


@dataclass
class Launch:
    """A trial to start: its key, config, subset and the values it would report."""

    key: str
    config: Mapping[str, Any]
    subset: int
    values: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Running:
    launch: Launch
    iteration: int = 0

    @property
    def last(self) -> float:
        return float(self.launch.values[self.iteration - 1])

    @property
    def best(self) -> float:
        return float(np.max(self.launch.values[: self.iteration]))


class TrialSource(Protocol):
    """What to run (searcher) and when to stop it (scheduler), for one clock."""

    def next_trial(self, ledger: Ledger) -> Launch | None:
        """The next trial, or None when the source has nothing more to start."""

    def on_report(self, trial: Running) -> bool:
        """The trial reported ``trial.last`` at ``trial.iteration``; True stops it."""

    def on_end(self, trial: Running, stopped: bool) -> None:
        """The trial ended: stopped early (True) or after its last value (False)."""


def run_clock(source: TrialSource, workers: int, ledger: Ledger) -> float:
    """Run the source's trials to the end; returns the simulated end time."""
    if workers < 1:
        raise ValueError(f"the clock needs workers >= 1, but got {workers=}")
    events: list[tuple[float, int, Running]] = []
    order = 0
    now = 0.0

    def start(at: float) -> bool:
        nonlocal order
        launch = source.next_trial(ledger)
        if launch is None:
            return False
        if len(launch.values) == 0:
            raise ValueError(f"trial {launch.key} has no epochs to run")
        ledger.trials += 1
        heapq.heappush(events, (at + launch.subset, order, Running(launch)))
        order += 1
        return True

    for _ in range(workers):
        if not start(0.0):
            break
    while events:
        now, _, trial = heapq.heappop(events)
        trial.iteration += 1
        ledger.charge(trial.launch.subset)
        stop = source.on_report(trial)
        if not stop and trial.iteration < len(trial.launch.values):
            heapq.heappush(events, (now + trial.launch.subset, order, trial))
            order += 1
            continue
        source.on_end(trial, stopped=stop)
        start(now)  # the slot is free
    return now
