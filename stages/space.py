"""Search-space parameters: the one representation every part of Rungs shares.

A W&B sweep distribution (``log_uniform_values``, ``q_normal``, ``values`` ...) is parsed once, by
``orchestrator.sweepfile``, into one of three frozen dataclasses:

* :class:`Constant` - a fixed value (W&B ``value`` / ``constant``),
* :class:`Categorical` - a finite set of values (W&B ``values`` / ``categorical``),
* :class:`Numeric` - a number with bounds, a scale (linear or log), optional quantisation and a
  prior (uniform, normal or beta).

Everything downstream (narrowing, Optuna mapping, diversity distances, plots) works on these.
Two conventions hold everywhere:

* ``low``/``high`` are always in the parameter's natural units (``1e-4``, not ``-9.2``), even for
  W&B's ``log_uniform`` whose YAML bounds are exponents; ``source`` keeps the W&B name so the
  original YAML can be reproduced.
* "the parameter's own scale" means log space when ``log`` is true. :meth:`Numeric.to_unit` maps a
  value to [0, 1] in that scale; narrowing and distances use it so that 1e-5..1e-3 is as wide as
  1e-3..1e-1.

For unbounded priors (normal, log-normal) ``low``/``high`` are mu +/- 3 sigma in the own scale:
the region that holds 99.7% of the prior mass, which is what normalisation and narrowing need.

Nested W&B ``parameters`` are flattened to dotted names (``optimizer.lr``); see :func:`unflatten`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Prior = Literal["uniform", "normal", "beta"]


@dataclass(frozen=True)
class Constant:
    value: Any
    source: str = "value"

    def contains(self, x: Any) -> bool:
        return bool(x == self.value)


@dataclass(frozen=True)
class Categorical:
    values: tuple[Any, ...]
    probabilities: tuple[float, ...] | None = None
    source: str = "values"

    def contains(self, x: Any) -> bool:
        return x in self.values


@dataclass(frozen=True)
class Numeric:
    """A numeric parameter. See the module docstring for the conventions on bounds and scale.

    ``prior`` is how random search draws values: ``uniform`` draws uniformly in the own scale;
    ``normal`` draws N(mu, sigma) in the own scale (so a W&B ``log_normal`` is log=True, normal);
    ``beta`` draws Beta(alpha, beta) on [low, high].
    """

    low: float
    high: float
    log: bool = False
    integer: bool = False
    q: float | None = None
    prior: Prior = "uniform"
    mu: float | None = None
    sigma: float | None = None
    alpha: float | None = None
    beta: float | None = None
    source: str = "uniform"
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"Numeric needs low < high, but got {self.low=} {self.high=}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log-scale parameter needs low > 0, but got {self.low=}")

    # -- own-scale helpers -------------------------------------------------------------------
    def _fwd(self, x: float) -> float:
        return math.log(x) if self.log else float(x)

    def _inv(self, y: float) -> float:
        return math.exp(y) if self.log else y

    def to_unit(self, x: float) -> float:
        """Position of ``x`` in [0, 1] over [low, high] in the own scale (not clipped)."""
        lo, hi = self._fwd(self.low), self._fwd(self.high)
        if self.log and x <= 0:
            return 0.0
        return (self._fwd(x) - lo) / (hi - lo)

    def from_unit(self, u: float) -> float:
        """Inverse of :meth:`to_unit`, snapped to the integer/quantisation grid."""
        lo, hi = self._fwd(self.low), self._fwd(self.high)
        return self.snap(self._inv(lo + u * (hi - lo)))

    def snap(self, x: float) -> float:
        if self.q:
            x = round(x / self.q) * self.q
        if self.integer:
            x = float(round(x))
        return x

    def contains(self, x: Any) -> bool:
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            return False
        tol = 1e-9 * max(1.0, abs(self.high), abs(self.low)) + (self.q or 0) / 2
        return self.low - tol <= float(x) <= self.high + tol

    def with_bounds(self, low: float, high: float) -> Numeric:
        """A copy over new bounds (narrowing); the prior becomes uniform over them."""
        return Numeric(
            low=low,
            high=high,
            log=self.log,
            integer=self.integer,
            q=self.q,
            prior="uniform",
            source=self.source,
        )


Param = Constant | Categorical | Numeric
Space = dict[str, Param]


def is_searchable(param: Param) -> bool:
    """Constants are part of a config but not of the search."""
    return not isinstance(param, Constant)


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"opt.lr": 1}`` -> ``{"opt": {"lr": 1}}`` (W&B nested parameters)."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def flatten(nested: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Inverse of :func:`unflatten`."""
    out: dict[str, Any] = {}
    for key, value in nested.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, prefix=f"{name}."))
        else:
            out[name] = value
    return out


def param_to_dict(param: Param) -> dict[str, Any]:
    """JSON-safe description (stored in the database, shown by ``rungs validate``)."""
    if isinstance(param, Constant):
        return {"type": "constant", "value": param.value, "source": param.source}
    if isinstance(param, Categorical):
        return {
            "type": "categorical",
            "values": list(param.values),
            "probabilities": list(param.probabilities) if param.probabilities else None,
            "source": param.source,
        }
    keys = ("low", "high", "log", "integer", "q", "prior", "mu", "sigma", "alpha", "beta", "source")
    return {"type": "numeric", **{k: getattr(param, k) for k in keys}}


def param_from_dict(data: Mapping[str, Any]) -> Param:
    kind = data["type"]
    if kind == "constant":
        return Constant(value=data["value"], source=data.get("source", "value"))
    if kind == "categorical":
        probs = data.get("probabilities")
        return Categorical(
            values=tuple(data["values"]),
            probabilities=tuple(probs) if probs else None,
            source=data.get("source", "values"),
        )
    if kind == "numeric":
        fields = {k: v for k, v in data.items() if k != "type"}
        return Numeric(**fields)
    raise ValueError(f"unknown parameter type {kind!r}; valid: constant, categorical, numeric")


def space_to_dict(space: Mapping[str, Param]) -> dict[str, dict[str, Any]]:
    return {name: param_to_dict(p) for name, p in space.items()}


def space_from_dict(data: Mapping[str, Mapping[str, Any]]) -> Space:
    return {name: param_from_dict(d) for name, d in data.items()}
