"""What to try: one proposer per stage variant, mapping :mod:`stages.space` to a sampler.

* ``bayes``  -> Optuna's TPESampler(seed) through ask/tell on an in-memory study,
* ``random`` -> independent draws from each parameter's prior (uniform/normal/beta, categorical
  probabilities), as W&B's random search does; Optuna's RandomSampler would ignore the priors,
* ``grid``   -> the cartesian product of the discrete parameters, in order.

A proposer returns flat configs (constants included); the Ray searcher adds tags and budgets.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Mapping
from typing import Any, Literal, Protocol

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

from stages.space import Categorical, Constant, Numeric, Param, Space, is_searchable
from stages.spec import Goal

Outcome = Literal["complete", "pruned", "failed", "out_of_memory"]
_GRID_LIMIT = 10_000
# An out-of-memory trial is told to TPE as pruned and infeasible: TPE's split puts infeasible
# trials in its "bad" group (FAIL trials it ignores), so it proposes less in their region.
OOM_CONSTRAINT = "out_of_memory"


class Proposer(Protocol):
    def ask(self) -> dict[str, Any] | None:
        """The next config, or None when the proposer has nothing left (grid exhausted)."""

    def tell(self, config: Mapping[str, Any], value: float | None, outcome: Outcome) -> None:
        """A finished trial's result (also for trials finished before a restart)."""

    def enqueue(self, config: Mapping[str, Any]) -> None:
        """Try this config next (warm start)."""


def constants(space: Space) -> dict[str, Any]:
    return {name: p.value for name, p in space.items() if isinstance(p, Constant)}


def to_distribution(param: Param) -> BaseDistribution:
    """Optuna distribution of a searchable parameter. Categoricals are indices so any value
    (lists, None, mixed types) works; priors other than uniform become their bounds, because TPE
    builds its own density from the observations anyway."""
    if isinstance(param, Categorical):
        return CategoricalDistribution(tuple(range(len(param.values))))
    if isinstance(param, Numeric):
        if log_quantised(param):  # Optuna has no step on a log scale: snapped in _decode
            return FloatDistribution(param.low, param.high, log=True)
        if param.integer:
            step = max(1, int(param.q or 1))
            return IntDistribution(
                math.ceil(param.low), math.floor(param.high), log=param.log and step == 1, step=step
            )
        float_step = None if param.log else param.q  # Optuna allows no step on a log scale
        return FloatDistribution(param.low, param.high, log=param.log, step=float_step)
    raise TypeError(f"constant parameters are not searched, but got {param!r}")


def log_quantised(param: Numeric) -> bool:
    """A quantised log-scale parameter (``q_log_uniform_values``, ``q_log_normal``...): TPE
    searches its log range and the proposal is rounded to a multiple of ``q`` as W&B does (an
    integer when ``q`` is one), so ``8..64, q 8`` proposes 24, never 25.045."""
    return param.log and bool(param.q)


def _encode(space: Space, config: Mapping[str, Any]) -> dict[str, Any] | None:
    """Optuna params for ``config`` (category -> index, numbers clipped to the bounds); None when
    a categorical value is not in the space (the config cannot be warm-started here)."""
    params: dict[str, Any] = {}
    for name, param in space.items():
        if not is_searchable(param) or name not in config:
            continue
        value = config[name]
        if isinstance(param, Categorical):
            if value not in param.values:
                return None
            params[name] = param.values.index(value)
        elif isinstance(param, Numeric):
            clipped = min(max(float(value), param.low), param.high)
            whole = param.integer and not log_quantised(param)
            params[name] = int(round(clipped)) if whole else clipped
    return params


def _decode(space: Space, params: Mapping[str, Any]) -> dict[str, Any]:
    config = constants(space)
    for name, value in params.items():
        param = space[name]
        if isinstance(param, Categorical):
            config[name] = param.values[value]
        elif isinstance(param, Numeric) and log_quantised(param):
            config[name] = _number(param, param.snap(value))
        else:
            config[name] = value
    return config


class TPEProposer:
    """Bayesian optimisation with Optuna's TPE on an in-memory study.

    ``tell`` maps outcomes to Optuna states: complete -> COMPLETE (FAIL without a finite value),
    pruned -> PRUNED, failed -> FAIL (TPE learns nothing from a crash), out_of_memory -> PRUNED
    with the constraint ``out_of_memory = 1`` (infeasible), which TPE's sampler does use."""

    def __init__(self, space: Space, goal: Goal, seed: int) -> None:
        self.space = space
        self.dists = {n: to_distribution(p) for n, p in space.items() if is_searchable(p)}
        sampler = optuna.samplers.TPESampler(seed=seed)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = optuna.create_study(direction=goal, sampler=sampler)
        self._asked: dict[str, optuna.trial.Trial] = {}

    def ask(self) -> dict[str, Any] | None:
        trial = self.study.ask(fixed_distributions=self.dists)
        config = _decode(self.space, trial.params)
        self._asked[_fingerprint(config)] = trial
        return config

    def tell(self, config: Mapping[str, Any], value: float | None, outcome: Outcome) -> None:
        trial = self._asked.pop(_fingerprint(config), None)
        state = _STATES.get(outcome, TrialState.FAIL)
        if state == TrialState.COMPLETE and (value is None or not math.isfinite(value)):
            state = TrialState.FAIL
        told = value if state == TrialState.COMPLETE else None
        constraints = {OOM_CONSTRAINT: 1.0} if outcome == "out_of_memory" else None
        if trial is not None:
            for name, violation in (constraints or {}).items():
                trial.set_constraint(name, violation)
            self.study.tell(trial, told, state=state)
            return
        params = _encode(self.space, config)
        if params is None or set(params) != set(self.dists):
            return  # a config from another space: nothing TPE could model
        frozen = optuna.trial.create_trial(
            state=state,
            value=told,
            params=params,
            distributions=self.dists,
            constraints=constraints,
        )
        self.study.add_trial(frozen)

    def enqueue(self, config: Mapping[str, Any]) -> None:
        params = _encode(self.space, config)
        if params:
            self.study.enqueue_trial(params, skip_if_exists=True)


class RandomProposer:
    """Independent draws from each parameter's prior (W&B ``method: random``)."""

    def __init__(self, space: Space, seed: int) -> None:
        self.space = space
        self.rng = random.Random(seed)
        self.queue: list[dict[str, Any]] = []

    def ask(self) -> dict[str, Any] | None:
        if self.queue:
            return self.queue.pop(0)
        return {name: draw(param, self.rng) for name, param in self.space.items()}

    def tell(self, config: Mapping[str, Any], value: float | None, outcome: Outcome) -> None:
        return None  # random search does not learn

    def enqueue(self, config: Mapping[str, Any]) -> None:
        self.queue.append({**constants(self.space), **dict(config)})


def draw(param: Param, rng: random.Random) -> Any:
    if isinstance(param, Constant):
        return param.value
    if isinstance(param, Categorical):
        weights = list(param.probabilities) if param.probabilities else None
        return rng.choices(list(param.values), weights=weights)[0]
    if param.prior == "normal" and param.mu is not None and param.sigma is not None:
        y = rng.gauss(param.mu, param.sigma)
        return _number(param, param.snap(math.exp(y) if param.log else y))
    if param.prior == "beta" and param.alpha and param.beta:
        u = rng.betavariate(param.alpha, param.beta)
        return _number(param, param.snap(param.low + u * (param.high - param.low)))
    return _number(param, param.from_unit(rng.random()))


def _number(param: Numeric, x: float) -> int | float:
    return int(x) if param.integer else x


class GridProposer:
    """Every combination of the discrete parameters, in order (W&B ``method: grid``)."""

    def __init__(self, space: Space) -> None:
        self.space = space
        names = [n for n, p in space.items() if is_searchable(p)]
        axes = [grid_values(n, space[n]) for n in names]
        self._it: Iterator[tuple[Any, ...]] = itertools.product(*axes)
        self._names = names
        self.size = math.prod(len(a) for a in axes)
        self.queue: list[dict[str, Any]] = []

    def ask(self) -> dict[str, Any] | None:
        if self.queue:
            return self.queue.pop(0)
        combo = next(self._it, None)
        if combo is None:
            return None
        return {**constants(self.space), **dict(zip(self._names, combo, strict=True))}

    def tell(self, config: Mapping[str, Any], value: float | None, outcome: Outcome) -> None:
        return None

    def enqueue(self, config: Mapping[str, Any]) -> None:
        return None  # a grid visits every point anyway


def grid_values(name: str, param: Param) -> list[Any]:
    if isinstance(param, Categorical):
        return list(param.values)
    assert isinstance(param, Numeric)
    step = param.q or (1 if param.integer else None)
    if step is None:
        raise ValueError(
            f"grid search needs discrete parameters, but {name!r} is continuous "
            f"({param.low}..{param.high}); give it `values`, `q` or an integer distribution"
        )
    count = int(math.floor((param.high - param.low) / step + 1e-9)) + 1
    if count > _GRID_LIMIT:
        raise ValueError(f"grid for {name!r} has {count} points, more than {_GRID_LIMIT}")
    return [_number(param, param.snap(param.low + i * step)) for i in range(count)]


_STATES = {
    "complete": TrialState.COMPLETE,
    "pruned": TrialState.PRUNED,
    "out_of_memory": TrialState.PRUNED,
}


def make_proposer(method: str, space: Space, goal: Goal, seed: int) -> Proposer:
    if method == "bayes":
        return TPEProposer(space, goal, seed)
    if method == "random":
        return RandomProposer(space, seed)
    if method == "grid":
        return GridProposer(space)
    raise ValueError(f"unknown search method {method!r}; valid: bayes, random, grid")


def _fingerprint(config: Mapping[str, Any]) -> str:
    return repr(sorted((k, repr(v)) for k, v in config.items()))
