"""Replay recorded learning curves through a stopping rule on a simulated clock (Syne Tune's
habit): whole-stage behaviour of a rule, tested in milliseconds without Ray.

The clock: ``workers`` slots; trials start in the order of ``curves``, the first ``workers`` of
them at ``0, stagger, 2 * stagger, ...``, every later one when a slot frees. Each iteration takes
``epoch_time`` of simulated time, so trial ``t`` started at ``s`` reports its ``k``-th value at
``s + k * epoch_time``. Reports are fed to the rule in time order (ties: earlier start first),
exactly as the orchestrator feeds Ray results; a stop or the last value frees the slot at once.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stages.stopping import StopDecision, StoppingRule


@dataclass(frozen=True)
class ReplayResult:
    """What a rule did to a set of curves.

    ``stopped`` maps a trial to the iteration it was stopped at; ``completed`` lists the trials
    that reported every value; ``iterations`` is the total number of values reported (the compute
    spent); ``feed`` is every ``(trial, iteration, value)`` in the order the rule saw it, so a
    fresh rule can be replayed on it (what the orchestrator does on resume).
    """

    stopped: dict[str, int]
    completed: list[str]
    iterations: int
    decisions: dict[str, StopDecision] = field(default_factory=dict)
    feed: list[tuple[str, int, float]] = field(default_factory=list)
    end_time: float = 0.0

    @property
    def finished_fraction(self) -> float:
        total = len(self.completed) + len(self.stopped)
        return len(self.completed) / total if total else 0.0


def replay_curves(
    curves: Mapping[str, Sequence[float]],
    rule: StoppingRule | None,
    workers: int = 1,
    stagger: float = 0.0,
    epoch_time: float = 1.0,
) -> ReplayResult:
    """Run every curve through ``rule`` (None: no early stopping) on the simulated clock."""
    if workers < 1 or epoch_time <= 0 or stagger < 0:
        raise ValueError(
            "replay needs workers >= 1, epoch_time > 0 and stagger >= 0, "
            f"but got {workers=} {epoch_time=} {stagger=}"
        )
    queue = [trial for trial, curve in curves.items() if len(curve)]  # empty: never starts
    events: list[tuple[float, int, str, int]] = []  # (time, start order, trial, iteration)
    order = {trial: i for i, trial in enumerate(queue)}
    for slot, trial in enumerate(queue[:workers]):
        heapq.heappush(events, (slot * stagger + epoch_time, order[trial], trial, 1))
    waiting = queue[workers:]
    stopped: dict[str, int] = {}
    completed: list[str] = []
    decisions: dict[str, StopDecision] = {}
    feed: list[tuple[str, int, float]] = []
    now = 0.0
    while events:
        now, rank, trial, iteration = heapq.heappop(events)
        value = float(curves[trial][iteration - 1])
        feed.append((trial, iteration, value))
        decision = rule.on_result(trial, iteration, value) if rule is not None else None
        if decision is not None:
            stopped[trial], decisions[trial] = iteration, decision
        elif iteration < len(curves[trial]):
            heapq.heappush(events, (now + epoch_time, rank, trial, iteration + 1))
            continue
        else:
            completed.append(trial)
            if rule is not None:
                rule.on_complete(trial)
        if waiting:  # the slot is free: the next trial starts now
            nxt = waiting.pop(0)
            heapq.heappush(events, (now + epoch_time, order[nxt], nxt, 1))
    return ReplayResult(stopped, completed, len(feed), decisions, feed, now)


def refeed(feed: Sequence[tuple[str, int, float]], rule: StoppingRule) -> dict[str, StopDecision]:
    """Feed recorded results to a fresh rule (resume); the decisions it makes, per trial.

    Completion is not re-signalled: it changes no decision, only which trials are asked about.
    """
    out: dict[str, StopDecision] = {}
    for trial, iteration, value in feed:
        decision = rule.on_result(trial, iteration, value)
        if decision is not None:
            out[trial] = decision
    return out
