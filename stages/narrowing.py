"""Narrowing: derive a stage's search space from an earlier stage's top trials.

This is the step a researcher's progressive DPRNN sweep on PolSESS took by hand from stage 1 to
stage 2 ("LR [3e-4, 3e-3] -> [5e-4, 2e-3]", "weight decay max 1e-4 -> 5e-5"), made a rule
(:class:`stages.spec.Narrowing`):

* **Which trials.** Trials with a finite value. Completed ones are preferred, because a trial
  stopped early reports the best value of a shorter run; when fewer than ``max(2, top_count)``
  completed, all trials with a value are used.
* **How many.** ``top_count`` or ``ceil(top * n)``; at least 1, and at least 2 when there are 2.
* **Numeric.** The top trials' range in the parameter's own scale (log for log parameters, via
  :meth:`Numeric.to_unit`), widened by ``margin`` x its width on each side, at least
  ``min_width`` x the original width (centred, then shifted to stay inside), clamped to the
  original bounds. Integer and quantised parameters are snapped outward, so the range still
  contains every top value; the range is never of zero width. The prior becomes uniform over
  the new range (:meth:`Numeric.with_bounds`).
* **Categorical.** The values some top trial used; if fewer than ``min_categories``, the values
  used by the next-best trials are added back, then the remaining ones in their original order.
  The original order is kept; probabilities are dropped (uniform over what is left), as for
  numeric priors.
* **Unchanged.** Constants, and any parameter that no top trial's config holds; every
  parameter when narrowing is off (``Narrowing.enabled``: the stage only takes the warm start).
* **Only where the subsets agree** (:func:`narrow_for_stage`). A stage narrowed from a stage
  that was itself narrowed from an earlier one is narrowed only if those two rank configs alike
  (``Narrowing.min_agreement``, :mod:`stages.fidelity`); otherwise it keeps the full space.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stages.fidelity import MIN_TRIALS, Agreement, rank_agreement
from stages.space import Categorical, Numeric, Param, Space
from stages.spec import Goal, Narrowing
from stages.stopping import format_number
from stages.trials import FINISHED, TrialSummary, signed

# Below this fraction of the original width a range is treated as a point (never zero width).
_MIN_UNIT_WIDTH = 1e-6
# Tolerance when snapping to a grid, so that 0.3 / 0.1 = 2.9999999999999996 counts as 3.
_GRID_TOL = 1e-9


@dataclass(frozen=True)
class NarrowedSpace:
    """The narrowed space and, per parameter, a note saying what changed and from what;
    ``agreement`` when the source stage's fidelity agreement was measured; ``summary``: one
    line on how the space was made (set by :func:`narrow_for_stage`)."""

    space: Space
    notes: dict[str, str]
    agreement: Agreement | None = None
    summary: str = ""

    def describe(self) -> list[str]:
        """``["lr: [0.0003, 0.003] -> ... from top 8 of 31 completed trials", ...]``."""
        return [f"{name}: {note}" for name, note in self.notes.items()]


def rank_trials(trials: Sequence[TrialSummary], goal: Goal) -> list[TrialSummary]:
    """Trials with a finite value, best first (ties keep their input order)."""
    valued = [t for t in trials if t.value is not None and math.isfinite(t.value)]
    return sorted(valued, key=lambda t: -signed(float(t.value or 0.0), goal))


def top_size(n: int, narrowing: Narrowing) -> int:
    """How many of ``n`` ranked trials are "top".

    >>> top_size(31, Narrowing(top=0.25)), top_size(3, Narrowing(top=0.1)), top_size(1, Narrowing())
    (8, 2, 1)
    """
    wanted = (
        narrowing.top_count if narrowing.top_count is not None else math.ceil(narrowing.top * n)
    )
    return min(n, max(wanted, 1, min(2, n)))


def narrow_space(
    space: Space, trials: Sequence[TrialSummary], narrowing: Narrowing, goal: Goal
) -> NarrowedSpace:
    """Narrow ``space`` around the top ``trials`` (rules: module docstring)."""
    if not narrowing.enabled:
        note = "unchanged: narrowing is off (full space, warm-started from the source stage)"
        return NarrowedSpace(space=dict(space), notes={name: note for name in space})
    pool, label = _pool(trials, narrowing, goal)
    k = top_size(len(pool), narrowing)
    source = f"from top {k} of {label}"
    configs = [t.config for t in pool]
    out: Space = {}
    notes: dict[str, str] = {}
    for name, param in space.items():
        values = [c[name] for c in configs if name in c]
        top = [c[name] for c in configs[:k] if name in c]
        out[name], notes[name] = _narrow_param(param, top, values, narrowing, source)
    return NarrowedSpace(space=out, notes=notes)


def narrow_for_stage(
    space: Space,
    source: Sequence[TrialSummary],
    earlier: Sequence[TrialSummary],
    narrowing: Narrowing,
    goal: Goal,
    names: tuple[str, str] = ("the source stage", "the stage before it"),
) -> NarrowedSpace:
    """:func:`narrow_space` from ``source``'s trials, unless ``source`` ranks configs unlike
    ``earlier`` (the stage ``source`` was narrowed from, :meth:`SweepSpec.agreement_stage`;
    empty when no check applies): below ``narrowing.min_agreement`` the full space is kept.
    The notes (per parameter) and the summary (one line) say which way it went and why.

    Why: narrowing twice on a small subset's evidence compounds its bias. Where two subsets
    already disagree, the next, bigger one is not expected to agree with either (module
    :mod:`stages.fidelity`)."""
    src, before = names
    if not narrowing.enabled:
        narrowed = narrow_space(space, source, narrowing, goal)
        return dataclasses.replace(
            narrowed, summary=f"full space, warm-started from {src} (narrowing off)"
        )
    if narrowing.min_agreement is None:
        earlier = []  # the check is off: narrow as configured
    agreement = rank_agreement(space, earlier, source) if earlier else None
    if agreement is not None and agreement.rho < (narrowing.min_agreement or 0.0):
        why = (
            f"{src} ranks configs unlike {before} ({agreement.describe()}, "
            f"below min_agreement {narrowing.min_agreement:g})"
        )
        notes = {name: f"unchanged: {why}; full space, warm-started" for name in space}
        return NarrowedSpace(dict(space), notes, agreement, f"full space, warm-started: {why}")
    narrowed = narrow_space(space, source, narrowing, goal)
    why = ""
    if agreement is not None:
        why = f"; {src} ranks configs like {before} ({agreement.describe()})"
    elif earlier:  # too few trials to tell: narrow as configured, and say so
        why = (
            f"; agreement with {before} not measured "
            f"(fewer than {MIN_TRIALS} trials with a value on a side, or no spread)"
        )
    notes = {name: note + why for name, note in narrowed.notes.items()}
    changed = [name for name, note in narrowed.notes.items() if not note.startswith("unchanged")]
    summary = f"narrowed from {src} ({', '.join(changed) or 'every range kept'}){why}"
    return NarrowedSpace(narrowed.space, notes, agreement, summary)


def top_configs(trials: Sequence[TrialSummary], goal: Goal, n: int) -> list[dict[str, Any]]:
    """The ``n`` best configs (completed trials first, each group best first), for warm starts."""
    ranked = rank_trials(trials, goal)
    ordered = [t for t in ranked if t.status == FINISHED] + [
        t for t in ranked if t.status != FINISHED
    ]
    return [dict(t.config) for t in ordered[: max(n, 0)]]


def _pool(
    trials: Sequence[TrialSummary], narrowing: Narrowing, goal: Goal
) -> tuple[list[TrialSummary], str]:
    ranked = rank_trials(trials, goal)
    if not ranked:
        raise ValueError(
            f"cannot narrow the space: none of the {len(trials)} trials has a finite value"
        )
    completed = [t for t in ranked if t.status == FINISHED]
    if len(completed) >= max(2, narrowing.top_count or 0):
        return completed, f"{len(completed)} completed trials"
    return ranked, f"{len(ranked)} trials with a value ({len(completed)} completed)"


def _narrow_param(
    param: Param, top: list[Any], used: list[Any], narrowing: Narrowing, source: str
) -> tuple[Param, str]:
    if isinstance(param, Numeric):
        numbers = [float(v) for v in top if _is_number(v)]
        if numbers:
            narrowed = _narrow_numeric(param, numbers, narrowing)
            return narrowed, f"{_range(param)} -> {_range(narrowed)} {source}"
    elif isinstance(param, Categorical):
        if any(param.contains(v) for v in top):
            narrowed_c = _narrow_categorical(param, top, used, narrowing.min_categories)
            return narrowed_c, f"{_set(param)} -> {_set(narrowed_c)} {source}"
    else:
        return param, "constant: unchanged"
    return param, "unchanged: no top trial's config holds it"


def unit_range(units: Sequence[float], margin: float, min_width: float) -> tuple[float, float]:
    """The narrowed range in [0, 1] (own-scale units) around the top trials' positions.

    >>> [round(x, 6) for x in unit_range([0.4, 0.6], margin=0.1, min_width=0.05)]
    [0.38, 0.62]
    >>> [round(x, 6) for x in unit_range([0.99, 1.0], margin=0.0, min_width=0.2)]
    [0.8, 1.0]
    """
    lo, hi = max(0.0, min(units)), min(1.0, max(units))
    pad = margin * (hi - lo)
    lo, hi = lo - pad, hi + pad
    width = max(min_width, _MIN_UNIT_WIDTH)
    if hi - lo < width:  # too narrow: centre a minimal window on the top trials
        centre = (lo + hi) / 2
        lo, hi = centre - width / 2, centre + width / 2
    if lo < 0:  # shift rather than cut, so the window keeps its width
        lo, hi = 0.0, hi - lo
    if hi > 1:
        lo, hi = lo - (hi - 1), 1.0
    return max(0.0, lo), min(1.0, hi)


def _narrow_numeric(param: Numeric, top: list[float], narrowing: Narrowing) -> Numeric:
    inside = [min(max(v, param.low), param.high) for v in top]  # values from an older space
    lo_u, hi_u = unit_range(
        [param.to_unit(v) for v in inside], narrowing.margin, narrowing.min_width
    )
    raw = dataclasses.replace(param, integer=False, q=None)  # from_unit without snapping
    # A range that reaches a bound keeps that bound exactly (exp(log(1e-6)) is not 1e-6).
    low = param.low if lo_u <= 0 else raw.from_unit(lo_u)
    high = param.high if hi_u >= 1 else raw.from_unit(hi_u)
    low, high = _snap_outward(param, low, high)
    # The round trip through log space may move a bound by an ulp past a top value.
    low, high = max(param.low, min(low, *inside)), min(param.high, max(high, *inside))
    low, high = _ensure_width(param, low, high)
    if param.integer and not param.q:
        return param.with_bounds(int(low), int(high))
    return param.with_bounds(low, high)


def _step(param: Numeric) -> float | None:
    return param.q if param.q else (1.0 if param.integer else None)


def _snap_outward(param: Numeric, low: float, high: float) -> tuple[float, float]:
    step = _step(param)
    if step is None:
        return low, high
    return math.floor(low / step + _GRID_TOL) * step, math.ceil(high / step - _GRID_TOL) * step


def _ensure_width(param: Numeric, low: float, high: float) -> tuple[float, float]:
    """Widen a point by one grid step (inside the bounds); give up on the original bounds."""
    if low < high:
        return low, high
    step = _step(param) or (param.high - param.low) * _MIN_UNIT_WIDTH
    if high + step <= param.high:
        return low, high + step
    if low - step >= param.low:
        return low - step, high
    return param.low, param.high


def _narrow_categorical(
    param: Categorical, top: list[Any], used: list[Any], min_categories: int
) -> Categorical:
    kept = [v for v in param.values if v in top]
    need = min(max(min_categories, 1), len(param.values))
    # Next-best trials' values first (``used`` is best first), then the original order.
    for v in [*used, *param.values]:
        if len(kept) >= need:
            break
        if param.contains(v) and v not in kept:
            kept.append(v)
    return Categorical(values=tuple(v for v in param.values if v in kept), source=param.source)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _bound(x: float) -> str:
    if x == int(x) and abs(x) < 1e4:
        return str(int(x))
    return f"{x:.3g}" if 1e-2 <= abs(x) < 1e4 else format_number(x)


def _range(p: Numeric) -> str:
    return f"[{_bound(p.low)}, {_bound(p.high)}]"


def _set(p: Categorical) -> str:
    return "{" + ", ".join(str(v) for v in p.values) + "}"
