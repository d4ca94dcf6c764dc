"""Diversity-aware top-k: which configs go on to multi-seed validation.

A researcher's progressive DPRNN sweep on PolSESS picked its five validation configs from the
109 finished runs of its 8K stage by SI-SDR, by Euclidean distance in a normalised 5-D
hyperparameter space and by a mix of both stage variants (hyperband, median stopping).
:func:`select_top_k` does that greedily and deterministically.

**Distances.** Every searchable hyperparameter is one dimension in which two configs differ by:

* numeric: ``|to_unit(a) - to_unit(b)|`` over the parameter's *original* search bounds in its own
  scale (log for log parameters), so one full search range is 1;
* categorical: 0 for the same value, 1 otherwise (a one-hot encoding scaled by 1/sqrt(2); a
  categorical change counts as much as an extreme numeric one);
* missing (absent, None, NaN, or a non-number for a numeric parameter) in either config: 1, the
  maximum, because nothing says the two configs agree there.

Constants are ignored. The distance is the Euclidean norm over dimensions.

**Quality.** With ``s`` the goal-signed metric (:func:`stages.trials.signed`, so larger is better),
``quality = (s - s_best) / (s_best - s_median)`` over the candidates: 0 for the best candidate, -1
for the median one. So ``diversity = 1`` means "one full search range of distance is worth the gap
between the best and the median candidate", whatever the metric's units. When best and median
tie, the best-to-worst gap is used; when all values tie, quality is 0.

**Greedy.** Rank 1 is the best candidate. Each next pick maximises
``quality + diversity * distance_to_nearest_pick``; scores within ``1e-9`` tie, and ties go to
the better metric, then the smaller id (compared as strings when ids mix types).
``diversity = 0`` is exactly the plain top-k.

**Balance.** With ``balance_variants``, a variant (e.g. median stopping) that has no pick but whose
best candidate is within ``balance_tolerance`` of the k-th pick's metric *relative to its magnitude*
(``s_v >= s_k - tol * |s_k|``; 5% of 3.72 dB is 0.19 dB) replaces the last pick whose variant
keeps another pick. Rank 1 is never replaced. Distances and scores are then recomputed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stages.space import Categorical, Numeric, Space
from stages.spec import Goal
from stages.trials import TrialSummary, signed

_TIE = 1e-9


def pick_name(rank: int) -> str:
    """The one name of the ``rank``-th pick on every surface: the name its validation runs carry
    (``config1`` ... ``config5``); the trial it came from is shown beside it (:func:`pick_label`)."""
    return f"config{rank}"


def pick_label(name: str, source: str | None) -> str:
    """``config5 (median-001)``: a pick's name with the search trial it came from."""
    return f"{name} ({source})" if source else name


@dataclass(frozen=True)
class Pick:
    """One selected config: ``score`` is quality + diversity x distance (see module docs)."""

    rank: int
    trial: TrialSummary
    distance_to_nearest: float | None
    score: float

    @property
    def name(self) -> str:
        return pick_name(self.rank)


def _is_missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _dimension_gap(param: Numeric | Categorical, a: Any, b: Any) -> float:
    if _is_missing(a) or _is_missing(b):
        return 1.0
    if isinstance(param, Categorical):
        return 0.0 if a == b else 1.0
    numbers = [x for x in (a, b) if isinstance(x, (int, float)) and not isinstance(x, bool)]
    if len(numbers) < 2:
        return 1.0
    return abs(param.to_unit(float(a)) - param.to_unit(float(b)))


def config_distance(a: Mapping[str, Any], b: Mapping[str, Any], space: Space) -> float:
    """Euclidean distance between two flat configs in the normalised space (module docs)."""
    total = 0.0
    for name, param in space.items():
        if isinstance(param, (Numeric, Categorical)):
            total += _dimension_gap(param, a.get(name), b.get(name)) ** 2
    return math.sqrt(total)


def eligible(
    trials: Sequence[TrialSummary], *, require_full_budget: bool = True
) -> list[TrialSummary]:
    """Trials with a finite value that (unless disabled) trained their whole budget."""
    out = [t for t in trials if t.value is not None and math.isfinite(t.value)]
    if require_full_budget:
        out = [t for t in out if t.reached_full_budget]
    return out


def quality(values: Sequence[float]) -> np.ndarray:
    """Goal-signed values -> quality: 0 for the best, -1 for the median (module docs)."""
    s = np.asarray(values, dtype=float)
    best = float(s.max())
    spread = best - float(np.median(s))
    if spread <= 0:
        spread = best - float(s.min())
    if spread <= 0:
        return np.zeros_like(s)
    return (s - best) / spread


def _order_key(trial: TrialSummary, goal: Goal) -> tuple[float, str]:
    assert trial.value is not None
    return (-signed(trial.value, goal), str(trial.id))


def _nearest(trial: TrialSummary, picked: Sequence[TrialSummary], space: Space) -> float | None:
    if not picked:
        return None
    return min(config_distance(trial.config, p.config, space) for p in picked)


def _greedy(
    pool: list[TrialSummary], q: Mapping[int, float], space: Space, k: int, diversity: float
) -> list[TrialSummary]:
    # pool is sorted best first, so max() over (score, position) with a tolerance keeps the order
    picked = [pool[0]]
    rest = list(range(1, len(pool)))
    while rest and len(picked) < k:
        scores = {i: q[i] + diversity * (_nearest(pool[i], picked, space) or 0.0) for i in rest}
        top = max(scores.values())
        choice = min(i for i in rest if scores[i] >= top - _TIE)
        picked.append(pool[choice])
        rest.remove(choice)
    return picked


def _balance(
    picked: list[TrialSummary], pool: list[TrialSummary], goal: Goal, tolerance: float
) -> list[TrialSummary]:
    picked = list(picked)
    s_k = signed(_value(picked[-1]), goal)  # the k-th pick before any replacement
    best_by_variant: dict[str, TrialSummary] = {}
    for trial in pool:  # best first: the first one seen per variant is its best
        best_by_variant.setdefault(trial.variant, trial)
    for variant, best in best_by_variant.items():
        if any(p.variant == variant for p in picked):
            continue
        if signed(_value(best), goal) < s_k - tolerance * abs(s_k):
            continue
        for pos in range(len(picked) - 1, 0, -1):
            if sum(p.variant == picked[pos].variant for p in picked) > 1:
                picked[pos] = best
                break
    return picked


def _value(trial: TrialSummary) -> float:
    assert trial.value is not None
    return trial.value


def select_top_k(
    candidates: Sequence[TrialSummary],
    space: Space,
    *,
    k: int,
    goal: Goal,
    diversity: float = 1.0,
    balance_variants: bool = True,
    balance_tolerance: float = 0.05,
    require_full_budget: bool = True,
) -> list[Pick]:
    """Pick up to ``k`` configs, best first (module docs for the rules).

    Raises ValueError when ``k < 1``, ``diversity < 0`` or when no candidate is eligible.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, but got {k=}")
    if diversity < 0 or balance_tolerance < 0:
        raise ValueError(f"need diversity >= 0 and tolerance >= 0, got {diversity=}")
    pool = eligible(candidates, require_full_budget=require_full_budget)
    pool.sort(key=lambda t: _order_key(t, goal))
    if not pool:
        rule = "reached the full budget" if require_full_budget else "have a finite value"
        raise ValueError(f"no candidates: none of the {len(candidates)} trials {rule}")
    q_all = quality([signed(_value(t), goal) for t in pool])
    q = {i: float(v) for i, v in enumerate(q_all)}
    picked = _greedy(pool, q, space, k, diversity)
    if balance_variants:
        picked = _balance(picked, pool, goal, balance_tolerance)
    by_id = {id(t): q[i] for i, t in enumerate(pool)}
    picks = []
    for rank, trial in enumerate(picked, start=1):
        dist = _nearest(trial, picked[: rank - 1], space)
        score = by_id[id(trial)] + diversity * (dist or 0.0)
        picks.append(Pick(rank=rank, trial=trial, distance_to_nearest=dist, score=score))
    return picks
