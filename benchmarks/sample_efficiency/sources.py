"""Trial sources for the simulated clock (:mod:`.simulate`): Rungs' stage (proposer + stopping
rule per variant, exactly as the runner's StageSearcher/RuleScheduler wire them), fixed runs
(validation, promotions), Ray's ASHA over random search, and Optuna's TPE + HyperbandPruner."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from benchmarks.sample_efficiency.simulate import Launch, Ledger, Running
from orchestrator.runner.proposers import Proposer, RandomProposer, to_distribution
from stages.space import Categorical, Space, is_searchable
from stages.spec import Goal
from stages.stopping import StoppingRule
from stages.trials import FINISHED, TrialSummary, signed

# (config, subset, epochs, seed) -> the values a trial reports
Trainer = Callable[[Mapping[str, Any], int, int, int], np.ndarray]
STOPPED = "early_stopped"


@dataclass
class VariantState:
    """One stage variant: the runner's VariantBudget plus its stopping rule."""

    name: str
    remaining: int
    proposer: Proposer
    rule: StoppingRule | None
    ordinal: int = 0


@dataclass
class StageSource:
    """A Rungs search stage. Each new trial goes to the variant with the most budget left (ties:
    declaration order), as ``StageSearcher`` does; a finished trial is told to its proposer with
    its best value, PRUNED when a rule stopped it (``searchers.trial_outcome``)."""

    stage: str
    variants: list[VariantState]
    train: Trainer
    subset: int
    epochs: int
    seed: int
    goal: Goal
    budget: float = math.inf  # stop launching once the ledger has spent this much
    trials: list[TrialSummary] = field(default_factory=list)

    def next_trial(self, ledger: Ledger) -> Launch | None:
        open_ = [v for v in self.variants if v.remaining > 0]
        if not open_ or ledger.sample_epochs >= self.budget:
            return None
        variant = max(open_, key=lambda v: v.remaining)
        config = variant.proposer.ask()
        if config is None:
            variant.remaining = 0
            return self.next_trial(ledger)
        variant.remaining -= 1
        key = f"{variant.name}-{variant.ordinal:03d}"
        variant.ordinal += 1
        values = self.train(config, self.subset, self.epochs, self.seed)
        return Launch(key, config, self.subset, values, {"variant": variant})

    def on_report(self, trial: Running) -> bool:
        rule = trial.launch.extra["variant"].rule
        if rule is None:
            return False
        return rule.on_result(trial.launch.key, trial.iteration, trial.last) is not None

    def on_end(self, trial: Running, stopped: bool) -> None:
        variant: VariantState = trial.launch.extra["variant"]
        if variant.rule is not None and not stopped:
            variant.rule.on_complete(trial.launch.key)
        best = _best(trial, self.goal)
        variant.proposer.tell(trial.launch.config, best, "pruned" if stopped else "complete")
        self.trials.append(
            TrialSummary(
                id=trial.launch.key,
                config=dict(trial.launch.config),
                value=best,
                name=trial.launch.key,
                stage=self.stage,
                variant=variant.name,
                status=STOPPED if stopped else FINISHED,
                epochs=trial.iteration,
                max_epochs=self.epochs,
            )
        )


def _best(trial: Running, goal: Goal) -> float:
    """The trial's best value in natural units (the recorder's ``best_value``)."""
    seen = trial.launch.values[: trial.iteration]
    return float(np.max(seen) if goal == "maximize" else np.min(seen))


@dataclass(frozen=True)
class FixedRun:
    key: str
    config: Mapping[str, Any]
    seed: int


@dataclass
class FixedSource:
    """Runs given configs to the end with no early stopping (validation, promotions)."""

    runs: Sequence[FixedRun]
    train: Trainer
    subset: int
    epochs: int
    goal: Goal
    budget: float = math.inf
    results: dict[str, float] = field(default_factory=dict)  # key -> best value
    _next: int = 0

    def next_trial(self, ledger: Ledger) -> Launch | None:
        if self._next >= len(self.runs) or ledger.sample_epochs >= self.budget:
            return None
        run = self.runs[self._next]
        self._next += 1
        values = self.train(run.config, self.subset, self.epochs, run.seed)
        return Launch(run.key, run.config, self.subset, values)

    def on_report(self, trial: Running) -> bool:
        return False

    def on_end(self, trial: Running, stopped: bool) -> None:
        self.results[trial.launch.key] = _best(trial, self.goal)


@dataclass
class _RayTrialRef:
    trial_id: str


@dataclass
class AshaSource:
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

    def next_trial(self, ledger: Ledger) -> Launch | None:
        if ledger.sample_epochs >= self.budget:
            return None
        config = self.proposer.ask()
        assert config is not None
        key = f"asha-{len(self.configs):04d}"
        self.configs[key] = config
        return Launch(
            key, config, self.subset, self.train(config, self.subset, self.epochs, self.seed)
        )

    def on_report(self, trial: Running) -> bool:
        from ray.tune.schedulers import TrialScheduler

        key = trial.launch.key
        self.last[key] = trial.last
        reward = signed(trial.last, self.goal)  # Ray's metric_op: everything inside maximises
        # _Bracket reads only ``trial.trial_id``: a stand-in spares a real ray Trial per run.
        action = self.bracket.on_result(_RayTrialRef(key), trial.iteration, reward)  # type: ignore[arg-type]
        return bool(action == TrialScheduler.STOP)

    def on_end(self, trial: Running, stopped: bool) -> None:
        return None

    def best_config(self) -> Mapping[str, Any]:
        """Ray's ``ResultGrid.get_best_result()`` default: best *last* reported value."""
        key = max(self.last, key=lambda k: signed(self.last[k], self.goal))
        return self.configs[key]


@dataclass
class OptunaSource:
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

    def next_trial(self, ledger: Ledger) -> Launch | None:
        if ledger.sample_epochs >= self.budget:
            return None
        trial = self.study.ask(fixed_distributions=self.dists)
        config = _decode(self.space, trial.params)
        values = self.train(config, self.subset, self.epochs, self.seed)
        return Launch(f"optuna-{trial.number:04d}", config, self.subset, values, {"trial": trial})

    def on_report(self, trial: Running) -> bool:
        handle = trial.launch.extra["trial"]
        handle.report(trial.last, step=trial.iteration)
        return bool(handle.should_prune())

    def on_end(self, trial: Running, stopped: bool) -> None:
        handle = trial.launch.extra["trial"]
        if stopped:
            self.study.tell(handle, state=TrialState.PRUNED)
        else:
            self.study.tell(handle, trial.last)

    def best_config(self) -> Mapping[str, Any]:
        return _decode(self.space, self.study.best_trial.params)


def _decode(space: Space, params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in params.items():
        param = space[name]
        out[name] = param.values[value] if isinstance(param, Categorical) else value
    return out
