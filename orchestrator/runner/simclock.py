"""The simulated clock: the one clock on which Rungs runs trials without Ray (Syne Tune's habit).

``workers`` slots run trials in parallel. When a slot frees, the :class:`TrialSource` is asked
for the next trial, so a searcher sees every result that arrived before it proposes. A trial
trains one epoch per :meth:`TrialSource.step`; an epoch on ``n`` samples takes ``n`` units of
simulated time (a bigger subset reports more slowly, as on a real machine), and steps happen in
time order (ties: the trial started first). A trial ends when its step says so (stopped early,
or its last epoch); its slot is free at once.

Compute is counted in *sample-epochs* (subset x epochs actually trained): the source charges
each epoch it trains to the :class:`Ledger`, so a budget check sees partly trained trials too.

:class:`~orchestrator.runner.simulated.SimulatedExecutor` runs the pipeline's stage jobs on this
clock; the sample-efficiency benchmark runs its baselines and external peers on it too.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Ledger:
    """Sample-epochs spent so far, and how many trials and epochs they were."""

    sample_epochs: float = 0.0
    trials: int = 0
    epochs: int = 0

    def charge(self, subset: int) -> None:
        """One epoch trained on ``subset`` samples."""
        self.sample_epochs += subset
        self.epochs += 1


@dataclass
class Running:
    """A trial on the clock: ``iteration`` epochs trained so far; ``state`` is the source's."""

    key: str
    subset: int
    state: Any = None
    iteration: int = 0
    started_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class TrialSource(Protocol):
    """What to run (a searcher) and when to stop it (a scheduler), for one run of the clock."""

    def next_trial(self, ledger: Ledger) -> Running | None:
        """The next trial to start, or None when there is nothing more to start."""

    def step(self, trial: Running, ledger: Ledger) -> bool:
        """Train the trial's next epoch (charging it); True when the trial goes on."""


def run_clock(source: TrialSource, workers: int, ledger: Ledger) -> float:
    """Run the source's trials to the end on ``workers`` slots; returns the simulated end time."""
    if workers < 1:
        raise ValueError(f"the clock needs workers >= 1, but got {workers=}")
    events: list[tuple[float, int, Running]] = []
    order = 0

    def start(at: float) -> bool:
        nonlocal order
        trial = source.next_trial(ledger)
        if trial is None:
            return False
        if trial.subset <= 0:
            raise ValueError(f"trial {trial.key} has subset {trial.subset}: nothing to train")
        ledger.trials += 1
        trial.started_at = at
        heapq.heappush(events, (at + trial.subset, order, trial))
        order += 1
        return True

    for _ in range(workers):
        if not start(0.0):
            break
    now = 0.0
    while events:
        now, rank, trial = heapq.heappop(events)
        if source.step(trial, ledger):
            heapq.heappush(events, (now + trial.subset, rank, trial))
            continue
        start(now)  # the slot is free
    return now
