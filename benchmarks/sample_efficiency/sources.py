"""Trial sources for the product's simulated clock (:mod:`orchestrator.runner.simclock`) that are
not Rungs' pipeline (which runs through ``run_sweep`` on the simulated executor): fixed runs
(subset-hyperband's rungs, the external peers' evaluations), Ray's ASHA over random search, and
Optuna's TPE + HyperbandPruner. Each trial reports a precomputed learning curve epoch by epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from orchestrator.runner.proposers import RandomProposer, to_distribution
from orchestrator.runner.simclock import Ledger, Running
from stages.space import Categorical, Space, is_searchable
from stages.spec import Goal
from stages.trials import signed

# (config, subset, epochs, seed) -> the values a trial reports
Trainer = Callable[[Mapping[str, Any], int, int, int], np.ndarray]


@dataclass
class Curve:
    """A trial's config and the values it would report (read as far as it trains)."""

    config: Mapping[str, Any]
    values: Sequence[float]
    extra: dict[str, Any] = field(default_factory=dict)


def launch(key: str, config: Mapping[str, Any], subset: int, values: Any, **extra: Any) -> Running:
    return Running(key, subset, Curve(config, values, dict(extra)))


def last_value(trial: Running) -> float:
    return float(trial.state.values[trial.iteration - 1])


def best_value(trial: Running, goal: Goal) -> float:
    """The trial's best value so far in natural units (the recorder's ``best_value``)."""
    seen = np.asarray(trial.state.values[: trial.iteration], dtype=float)
    return float(np.max(seen) if goal == "maximize" else np.min(seen))


class CurveSource:
    """A clock source over curves: each step trains one epoch, shows it to :meth:`on_report`
    (True stops the trial), and ends the trial at a stop or after its last value."""

    def step(self, trial: Running, ledger: Ledger) -> bool:
        ledger.charge(trial.subset)
        trial.iteration += 1
        stop = self.on_report(trial)
        if stop or trial.iteration >= len(trial.state.values):
            self.on_end(trial, stopped=stop)
            return False
        return True

    def on_report(self, trial: Running) -> bool:
        return False

    def on_end(self, trial: Running, stopped: bool) -> None:
        return None


@dataclass(frozen=True)
class FixedRun:
    key: str
    config: Mapping[str, Any]
    seed: int


@dataclass
class FixedSource(CurveSource):
    """Runs given configs to the end with no early stopping; ``results`` holds each run's best
    value. Runs start while the ledger is under ``budget``."""

    runs: Sequence[FixedRun]
    train: Trainer
    subset: int
    epochs: int
    goal: Goal
    budget: float = math.inf
    results: dict[str, float] = field(default_factory=dict)  # key -> best value
    _next: int = 0

    def next_trial(self, ledger: Ledger) -> Running | None:
        if self._next >= len(self.runs) or ledger.sample_epochs >= self.budget:
            return None
        run = self.runs[self._next]
        self._next += 1
        values = self.train(run.config, self.subset, self.epochs, run.seed)
        return launch(run.key, run.config, self.subset, values)

    def on_end(self, trial: Running, stopped: bool) -> None:
        self.results[trial.key] = best_value(trial, self.goal)


@dataclass
class _RayTrialRef:
    trial_id: str


@dataclass
class AshaSource(CurveSource):
    """Random search + Ray Tune's ASHA (its own ``_Bracket`` maths, defaults: grace 1,
    reduction factor 4, one bracket, stop_last_trials). Trials launch while budget remains."""

    space: Space
    train: Trainer
    subset: int
    epochs: int
    seed: int
    goal: Goal
    budget: float
    grace: int = 1
    reduction_factor: float = 4.0
    last: dict[str, float] = field(default_factory=dict)  # key -> last reported value
    configs: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from ray.tune.schedulers.async_hyperband import _Bracket

        self.bracket = _Bracket(self.grace, self.epochs, self.reduction_factor, 0, True)
        self.proposer = RandomProposer(self.space, self.seed)

    def next_trial(self, ledger: Ledger) -> Running | None:
        if ledger.sample_epochs >= self.budget:
            return None
        config = self.proposer.ask()
        assert config is not None
        key = f"asha-{len(self.configs):04d}"
        self.configs[key] = config
        return launch(
            key, config, self.subset, self.train(config, self.subset, self.epochs, self.seed)
        )

    def on_report(self, trial: Running) -> bool:
        from ray.tune.schedulers import TrialScheduler

        self.last[trial.key] = last_value(trial)
        reward = signed(last_value(trial), self.goal)  # Ray's metric_op: inside, all maximise
        # _Bracket reads only ``trial.trial_id``: a stand-in spares a real ray Trial per run.
        action = self.bracket.on_result(_RayTrialRef(trial.key), trial.iteration, reward)  # type: ignore[arg-type]
        return bool(action == TrialScheduler.STOP)

    def best_config(self) -> Mapping[str, Any]:
        """Ray's ``ResultGrid.get_best_result()`` default: best *last* reported value."""
        key = max(self.last, key=lambda k: signed(self.last[k], self.goal))
        return self.configs[key]


@dataclass
class OptunaSource(CurveSource):
    """Optuna in-process: TPESampler + HyperbandPruner (min_resource 1, max_resource = epochs,
    reduction factor 3) through ask/tell; the objective's value is the last epoch's metric, as
    a typical Optuna objective returns. Trials launch while budget remains."""

    space: Space
    train: Trainer
    subset: int
    epochs: int
    seed: int
    goal: Goal
    budget: float

    def __post_init__(self) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.dists = {n: to_distribution(p) for n, p in self.space.items() if is_searchable(p)}
        self.study = optuna.create_study(
            direction=self.goal,
            sampler=optuna.samplers.TPESampler(seed=self.seed),
            pruner=optuna.pruners.HyperbandPruner(
                min_resource=1, max_resource=self.epochs, reduction_factor=3
            ),
        )

    def next_trial(self, ledger: Ledger) -> Running | None:
        if ledger.sample_epochs >= self.budget:
            return None
        trial = self.study.ask(fixed_distributions=self.dists)
        config = _decode(self.space, trial.params)
        values = self.train(config, self.subset, self.epochs, self.seed)
        return launch(f"optuna-{trial.number:04d}", config, self.subset, values, trial=trial)

    def on_report(self, trial: Running) -> bool:
        handle = trial.state.extra["trial"]
        handle.report(last_value(trial), step=trial.iteration)
        return bool(handle.should_prune())

    def on_end(self, trial: Running, stopped: bool) -> None:
        handle = trial.state.extra["trial"]
        if stopped:
            self.study.tell(handle, state=TrialState.PRUNED)
        else:
            self.study.tell(handle, last_value(trial))

    def best_config(self) -> Mapping[str, Any]:
        return _decode(self.space, self.study.best_trial.params)


def _decode(space: Space, params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in params.items():
        param = space[name]
        out[name] = param.values[value] if isinstance(param, Categorical) else value
    return out
