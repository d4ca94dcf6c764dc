"""Run the validation as a race (``validation.racing``; the rules are :mod:`stages.racing`).

Each round is one validation job of the picks still in the race x the round's seeds, under the
same stable keys as the fixed validation (``config<rank>-seed<seed>``). Before every round the
race is replayed from the stored runs, so an interrupted race resumes where it stopped and takes
the same decisions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from orchestrator.runner.jobs import Executor, SweepEnv, validation_job
from orchestrator.runner.searchers import QueuedTrial
from stages.racing import RaceRules, RaceState, Scores, race_state
from stages.selection import pick_name
from stages.states import TrialState

MakeRuns = Callable[[Sequence[dict[str, Any]], Sequence[int]], list[QueuedTrial]]


def run_race(
    env: SweepEnv,
    executor: Executor,
    stage: tuple[str, int],
    picks: Sequence[dict[str, Any]],
    shape: tuple[int, int],
    make_runs: MakeRuns,
) -> RaceState | None:
    """Race ``picks`` on ``stage`` (name, id), ``shape`` = (subset, epochs); the final state,
    or None when the sweep was stopped on the way."""
    val = env.spec.validation
    rules = RaceRules(tuple(val.seeds), val.alpha, val.reinvest)
    names = [pick_name(p["rank"]) for p in picks]
    previous: RaceState | None = None
    while True:
        state = race_state(names, stored_scores(env, stage[0]), rules, env.goal)
        if state.over:
            return state
        if state == previous:  # the round ran and stored nothing: never loop on it
            raise RuntimeError(f"validation round {state.next_seeds} stored no result")
        alive = [p for p in picks if pick_name(p["rank"]) in state.survivors]
        runs = make_runs(alive, state.next_seeds)
        executor.execute(validation_job(env, stage[0], stage[1], runs, *shape))
        if env.stopped():
            return None
        previous = state


def stored_scores(env: SweepEnv, stage: str) -> Scores:
    """Pick -> seed -> best value of every ended validation run (NaN: it ended without one)."""
    scores: dict[str, dict[int, float]] = {}
    for trial in env.storage.get_trials(env.sweep.id, stage=stage):
        if trial.status in (TrialState.RUNNING, TrialState.CANCELLED, TrialState.PENDING):
            continue
        value = trial.best_value if trial.best_value is not None else math.nan
        scores.setdefault(trial.name, {})[trial.seed] = value
    return scores
