"""W&B sweep distributions -> :mod:`stages.space` parameters (natural units, W&B name in source).

==========================  ===============================================================
W&B distribution            Rungs parameter
==========================  ===============================================================
constant / ``value``        ``Constant(value)``
categorical / ``values``    ``Categorical(values, probabilities)``
int_uniform                 ``Numeric(min, max, integer=True)``
uniform                     ``Numeric(min, max)``
q_uniform                   ``Numeric(min, max, q=q)``; ``integer`` when ``q`` is an integer
log_uniform                 ``Numeric(e**min, e**max, log=True)`` - YAML bounds are exponents
log_uniform_values          ``Numeric(min, max, log=True)``
q_log_uniform(_values)      as above with ``q``
inv_log_uniform             ``Numeric(e**-max, e**-min, log=True)`` - W&B samples e**-U
inv_log_uniform_values      ``Numeric(min, max, log=True)`` (log(1/X) uniform: log-uniform)
normal / q_normal           prior normal(mu, sigma), bounds mu +/- 3 sigma
log_normal / q_log_normal   log=True, prior normal in log space, bounds e**(mu +/- 3 sigma)
beta / q_beta               prior beta(a, b) on [0, 1]
==========================  ===============================================================

Inference without ``distribution`` follows W&B: ``value`` -> constant, ``values`` ->
categorical, integer min/max -> int_uniform, any float bound -> uniform. ``q`` defaults to 1,
``mu``/``sigma`` to 0/1 and ``a``/``b`` to 1, as in W&B.
"""

from __future__ import annotations

import math
from typing import Any

from orchestrator.sweepfile.reader import Section, describe, is_json_safe, is_number
from stages.space import Categorical, Constant, Numeric, Param

_BOUNDS = ("min", "max")
_KEYS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "categorical": ("values", "probabilities"),
    "categorical_w_probabilities": ("values", "probabilities"),
    "int_uniform": _BOUNDS,
    "uniform": _BOUNDS,
    "q_uniform": (*_BOUNDS, "q"),
    "log_uniform": _BOUNDS,
    "log_uniform_values": _BOUNDS,
    "q_log_uniform": (*_BOUNDS, "q"),
    "q_log_uniform_values": (*_BOUNDS, "q"),
    "inv_log_uniform": _BOUNDS,
    "inv_log_uniform_values": _BOUNDS,
    "normal": ("mu", "sigma"),
    "q_normal": ("mu", "sigma", "q"),
    "log_normal": ("mu", "sigma"),
    "q_log_normal": ("mu", "sigma", "q"),
    "beta": ("a", "b"),
    "q_beta": ("a", "b", "q"),
}
DISTRIBUTIONS: tuple[str, ...] = tuple(_KEYS)
# exp() of more than this overflows a float: no sane log_uniform exponent comes close
_MAX_EXPONENT = 700.0


def infer_distribution(sec: Section) -> str | None:
    """W&B's inference rules; None when nothing can be inferred (the caller reports it)."""
    if sec.has("value"):
        return "constant"
    if sec.has("values"):
        return "categorical"
    if sec.has("min") and sec.has("max"):
        lo, hi = sec.raw("min"), sec.raw("max")
        ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi))
        return "int_uniform" if ints else "uniform"
    return None


def parse_distribution(sec: Section, dist: str, explicit: bool) -> Param | None:
    """Build the parameter for ``dist`` from ``sec``; None (errors recorded) when invalid."""
    sec.check_keys(("distribution", *_KEYS[dist]))
    if dist == "constant":
        return _constant(sec, explicit)
    if dist.startswith("categorical"):
        return _categorical(sec, dist if explicit else "values")
    if dist in ("normal", "q_normal", "log_normal", "q_log_normal"):
        return _normal(sec, dist)
    if dist in ("beta", "q_beta"):
        return _beta(sec, dist)
    return _bounded(sec, dist)


def _constant(sec: Section, explicit: bool) -> Param | None:
    if not sec.has("value"):
        sec.error(None, "a constant needs `value`")
        return None
    value = sec.raw("value")
    if not is_json_safe(value):
        sec.error(
            "value", f"expected a number, string, boolean, null or list, but got {describe(value)}"
        )
        return None
    return Constant(value=value, source="constant" if explicit else "value")


def _categorical(sec: Section, source: str) -> Param | None:
    values = sec.raw("values")
    if not isinstance(values, list) or not values:
        sec.error(
            "values" if sec.has("values") else None,
            f"expected a non-empty list, but got {describe(values)}",
        )
        return None
    if not is_json_safe(values):
        sec.error(
            "values", "values must be numbers, strings, booleans, null or lists/maps of those"
        )
        return None
    if sec.has("probabilities") and not _probabilities_ok(sec, len(values)):
        return None
    probs = sec.raw("probabilities")
    probabilities = tuple(float(p) for p in probs) if probs is not None else None
    return Categorical(values=tuple(values), probabilities=probabilities, source=source)


def _probabilities_ok(sec: Section, n: int) -> bool:
    """Probabilities: one per value, each >= 0, summing to 1 (W&B's rule); errors recorded."""
    probs = sec.raw("probabilities")
    if not isinstance(probs, list) or not all(is_number(p) and p >= 0 for p in probs):
        sec.error("probabilities", f"expected a list of numbers >= 0, but got {describe(probs)}")
        return False
    if len(probs) != n:
        sec.error("probabilities", f"has {len(probs)} entries but `values` has {n}")
        return False
    if not math.isclose(sum(probs), 1.0, abs_tol=1e-6):
        sec.error("probabilities", f"must sum to 1, but they sum to {sum(probs):g}")
        return False
    return True


def _q(sec: Section) -> float:
    return float(sec.number("q", 1.0, above=0.0))


def _integer_q(sec: Section) -> bool:
    """W&B returns integers from a quantised distribution whose ``q`` is an integer
    (``q: 8`` -> 24, ``q: 8.0`` -> 24.0); its default ``q`` is 1.0, a float."""
    q = sec.raw("q")
    return isinstance(q, int) and not isinstance(q, bool)


def _bounded(sec: Section, dist: str) -> Param | None:
    lo, hi = sec.raw("min"), sec.raw("max")
    ok = True
    for key in _BOUNDS:
        if not sec.has(key):
            sec.error(None, f"{dist} needs `{key}`")
            ok = False
        elif not is_number(sec.raw(key)):
            sec.error(key, f"expected a number, but got {describe(sec.raw(key))}")
            ok = False
        elif dist == "int_uniform" and float(sec.raw(key)) != int(sec.raw(key)):
            sec.error(key, f"int_uniform needs integer bounds, but got {describe(sec.raw(key))}")
            ok = False
    if not ok:
        return None
    if lo >= hi:
        sec.error("min", f"min ({lo}) must be below max ({hi})")
        return None
    if dist.endswith("_values") and lo <= 0:
        sec.error("min", f"min ({lo}) must be > 0: {dist} bounds are values on a log scale")
        return None
    if (
        dist in ("log_uniform", "q_log_uniform", "inv_log_uniform")
        and max(abs(lo), abs(hi)) > _MAX_EXPONENT
    ):
        sec.error(
            "max", f"{dist} bounds are natural-log exponents; {max(abs(lo), abs(hi))} overflows"
        )
        return None
    low, high = _natural_bounds(dist, float(lo), float(hi))
    if dist in ("log_uniform", "q_log_uniform") and 0 < lo < hi <= 1:
        sec.warn(
            "min",
            f"{dist} bounds are natural-log exponents, so this samples [{low:.4g}, {high:.4g}]; did you mean {dist}_values?",
        )
    q = _q(sec) if dist.startswith("q_") else None
    integer = dist == "int_uniform" or (q is not None and _integer_q(sec))
    return _numeric(sec, low=low, high=high, log="log" in dist, integer=integer, q=q, source=dist)


def _natural_bounds(dist: str, lo: float, hi: float) -> tuple[float, float]:
    if dist in ("log_uniform", "q_log_uniform"):
        return math.exp(lo), math.exp(hi)
    if dist == "inv_log_uniform":  # W&B samples exp(-U), U ~ uniform(min, max)
        return math.exp(-hi), math.exp(-lo)
    return lo, hi


def _normal(sec: Section, dist: str) -> Param | None:
    mu = sec.number("mu", 0.0)
    sigma = sec.number("sigma", 1.0, above=0.0)
    log = "log" in dist
    low, high = mu - 3 * sigma, mu + 3 * sigma
    if log and max(abs(low), abs(high)) > _MAX_EXPONENT:
        sec.error("sigma", f"{dist}: mu +/- 3 sigma ({low:g}, {high:g}) overflows as an exponent")
        return None
    if log:
        low, high = math.exp(low), math.exp(high)
    q = _q(sec) if dist.startswith("q_") else None
    return _numeric(
        sec,
        low=low,
        high=high,
        log=log,
        integer=q is not None and _integer_q(sec),
        q=q,
        prior="normal",
        mu=float(mu),
        sigma=float(sigma),
        source=dist,
    )


def _beta(sec: Section, dist: str) -> Param | None:
    a = sec.number("a", 1.0, above=0.0)
    b = sec.number("b", 1.0, above=0.0)
    q = _q(sec) if dist == "q_beta" else None
    integer = q is not None and _integer_q(sec)
    return _numeric(
        sec,
        low=0.0,
        high=1.0,
        integer=integer,
        q=q,
        prior="beta",
        alpha=float(a),
        beta=float(b),
        source=dist,
    )


def _numeric(sec: Section, **kwargs: Any) -> Param | None:
    """Numeric(...) with its own checks turned into a located error, never an exception."""
    low, high = kwargs["low"], kwargs["high"]
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        sec.error(None, f"the bounds ({low:g}, {high:g}) are not a usable finite range")
        return None
    try:
        return Numeric(**kwargs)
    except ValueError as exc:
        sec.error(None, str(exc))
        return None
