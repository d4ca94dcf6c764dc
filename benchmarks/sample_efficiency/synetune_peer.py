"""Syne Tune's BOHB (syne-tune 0.16.0, ``syne_tune.optimizer.baselines.BOHB``: asynchronous
successive halving with a TPE-like KDE model), as shipped, driven through its scheduler
interface (suggest / on_trial_add / on_trial_result / on_trial_complete) with the data-subset size
as the resource: a trial reports at 2K, and goes on to 4K, 8K and 16K (a new training run on
each subset) while ASHA's rungs (reduction factor 2) let it. The recommendation is the best
result on the largest subset reached."""

from __future__ import annotations

import datetime
from collections import deque
from collections.abc import Mapping
from typing import Any

from benchmarks.sample_efficiency.peer_runs import levels, run_peer
from benchmarks.sample_efficiency.pipeline_runs import Outcome
from benchmarks.sample_efficiency.strategies import SEED_STRIDE, Run
from stages.space import Categorical, Numeric, Space
from stages.trials import signed

METRIC, RESOURCE = "value", "subset"


def syne_config_space(space: Space) -> dict[str, Any]:
    from syne_tune.config_space import choice, lograndint, loguniform, randint, uniform

    out: dict[str, Any] = {}
    for name, p in space.items():
        if isinstance(p, Numeric) and p.integer:
            out[name] = (lograndint if p.log else randint)(int(p.low), int(p.high))
        elif isinstance(p, Numeric):
            out[name] = (loguniform if p.log else uniform)(float(p.low), float(p.high))
        elif isinstance(p, Categorical):
            out[name] = choice(list(p.values))
    return out


def syne_tune_bohb(run: Run) -> Outcome:
    from syne_tune.backend.trial_status import Trial
    from syne_tune.optimizer.baselines import BOHB
    from syne_tune.optimizer.scheduler import SchedulerDecision

    budgets, goal = levels(run), run.bench.goal
    scheduler = BOHB(
        syne_config_space(run.bench.space),
        metric=METRIC,
        time_attr=RESOURCE,
        max_t=budgets[-1],
        grace_period=budgets[0],
        reduction_factor=2,
        do_minimize=goal == "minimize",
        random_seed=SEED_STRIDE * run.rep % 2**31,
    )
    going_on: deque[tuple[Any, int]] = deque()  # (trial, next subset) promoted by ASHA
    best: dict[int, tuple[float, Mapping[str, Any]]] = {}  # subset -> best (signed, config)

    def ask() -> tuple[Any, dict[str, Any], int] | None:
        if going_on:
            trial, subset = going_on.popleft()
            return (trial, subset), dict(trial.config), subset
        suggestion = scheduler.suggest()
        if suggestion is None:
            return None
        trial = Trial(len(best) + ask.count, suggestion.config, datetime.datetime.now())  # type: ignore[attr-defined]
        ask.count += 1  # type: ignore[attr-defined]
        scheduler.on_trial_add(trial)
        return (trial, budgets[0]), dict(trial.config), budgets[0]

    ask.count = 0  # type: ignore[attr-defined]

    def tell(handle: Any, value: float) -> None:
        trial, subset = handle
        score = signed(value, goal)
        if subset not in best or score > best[subset][0]:
            best[subset] = (score, {k: trial.config[k] for k in run.bench.space})
        result = {METRIC: value, RESOURCE: subset}
        if subset >= budgets[-1]:
            scheduler.on_trial_complete(trial, result)
            return
        if scheduler.on_trial_result(trial, result) == SchedulerDecision.CONTINUE:
            going_on.append((trial, budgets[budgets.index(subset) + 1]))

    return run_peer(run, ask, tell, lambda: best[max(best)][1])
