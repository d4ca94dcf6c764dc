"""Validation as a race (F-Race, irace): seeds in rounds, confidently worse configs dropped early.

The fixed validation trains every pick with every seed. A race trains the picks seed by seed:
the first round runs the first two seeds of every pick (a test needs two); every later round
runs one more seed of the picks still in the race. After each round every pick is compared with
the current best (the best mean) by a one-sided paired t-test over the seeds both ran (a seed is
a block: same data order and initialisation for both configs); a pick whose p-value is below
``alpha`` is dropped and trains no more seeds. The picks that survive (the finalists) run every
configured seed, as in the fixed validation.

What a drop saves is given back to the finalists when ``reinvest`` is on: once the configured
seeds are done, more rounds with new seeds (after the configured ones) run while at least two
picks survive and the fixed validation's run count is not exceeded. With ``reinvest`` off the
race simply spends less.

The race is a pure function of the scores stored so far (:func:`race_state`), so a resumed
sweep takes the same decisions and runs the same remaining seeds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from stages.spec import Goal
from stages.trials import signed

FIRST_ROUND = 2  # seeds every pick runs before the first test


@dataclass(frozen=True)
class RaceRules:
    seeds: tuple[int, ...]
    alpha: float
    reinvest: bool = False

    def __post_init__(self) -> None:
        if len(self.seeds) < FIRST_ROUND:
            raise ValueError(f"a race needs at least {FIRST_ROUND} seeds, but got {self.seeds}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), but got alpha={self.alpha}")

    def rounds(self) -> Iterator[tuple[tuple[int, ...], bool]]:
        """(seeds of the round, whether it is an extra round), in order; extra rounds go on
        for as long as the caller keeps asking."""
        yield self.seeds[:FIRST_ROUND], False
        for seed in self.seeds[FIRST_ROUND:]:
            yield (seed,), False
        extra = max(self.seeds) + 1
        while self.reinvest:
            yield (extra,), True
            extra += 1


@dataclass(frozen=True)
class Drop:
    """Why a pick left the race: after ``seeds`` seeds, paired p = ``p`` against ``best``."""

    seeds: int
    p: float
    best: str


@dataclass(frozen=True)
class RaceState:
    """Where a race stands given the scores so far. ``next_seeds`` is what every survivor
    trains next (empty: the race is over)."""

    survivors: tuple[str, ...]
    dropped: dict[str, Drop] = field(default_factory=dict)
    next_seeds: tuple[int, ...] = ()
    runs: int = 0  # runs the race has completed (or planned, for the round under way)
    runs_fixed: int = 0  # what the fixed validation trains: picks x configured seeds
    extra_seeds: tuple[int, ...] = ()

    @property
    def over(self) -> bool:
        return not self.next_seeds

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary for the validate stage (NaN p-values become None)."""
        return {
            "survivors": list(self.survivors),
            "dropped": {
                c: {"after_seeds": d.seeds, "p": None if math.isnan(d.p) else d.p, "vs": d.best}
                for c, d in self.dropped.items()
            },
            "runs": self.runs,
            "runs_fixed": self.runs_fixed,
            "runs_saved": self.runs_fixed - self.runs,
            "extra_seeds": list(self.extra_seeds),
        }


Scores = Mapping[str, Mapping[int, float]]  # pick -> seed -> best value (NaN: the run failed)


def race_state(picks: Sequence[str], scores: Scores, rules: RaceRules, goal: Goal) -> RaceState:
    """Replay the race on the stored ``scores``: the drops so far and the next round."""
    alive, dropped = list(picks), dict[str, Drop]()
    runs, fixed = 0, len(picks) * len(rules.seeds)
    extra: list[int] = []
    for seeds, is_extra in rules.rounds():
        cost = len(alive) * len(seeds)
        if is_extra and (len(alive) < 2 or runs + cost > fixed):
            break
        missing = any(s not in scores.get(c, {}) for c in alive for s in seeds)
        if missing:
            return RaceState(tuple(alive), dropped, seeds, runs + cost, fixed, tuple(extra))
        runs += cost
        extra += list(seeds) if is_extra else []
        for config, drop in eliminate(alive, scores, goal, rules.alpha).items():
            alive.remove(config)
            dropped[config] = drop
    return RaceState(tuple(alive), dropped, (), runs, fixed, tuple(extra))


def eliminate(alive: Sequence[str], scores: Scores, goal: Goal, alpha: float) -> dict[str, Drop]:
    """The picks a one-sided paired t-test says are worse than the best mean at ``alpha``."""
    means = {c: _mean(scores[c], goal) for c in alive}
    best = max(alive, key=lambda c: (means[c], -alive.index(c)))
    out = {}
    for config in alive:
        if config == best:
            continue
        p = paired_p_worse(scores[best], scores[config], goal)
        if p < alpha:
            out[config] = Drop(len(_finite(scores[config])), p, best)
    return out


def paired_p_worse(best: Mapping[int, float], other: Mapping[int, float], goal: Goal) -> float:
    """One-sided p-value of "``other`` is worse than ``best``" over the seeds both ran with a
    finite score; NaN below two such seeds or without spread in the differences (t is then
    infinite and its p meaningless, as in :mod:`stages.statistics`)."""
    shared = sorted(s for s in _finite(best) if s in _finite(other))
    if len(shared) < 2:
        return math.nan
    diff = np.array([signed(best[s], goal) - signed(other[s], goal) for s in shared])
    if np.std(diff) == 0:
        return math.nan
    return float(stats.ttest_1samp(diff, 0.0, alternative="greater").pvalue)


def _finite(values: Mapping[int, float]) -> dict[int, float]:
    return {s: v for s, v in values.items() if v is not None and math.isfinite(v)}


def _mean(values: Mapping[int, float], goal: Goal) -> float:
    finite = list(_finite(values).values())
    return float(np.mean([signed(v, goal) for v in finite])) if finite else -math.inf


def race_caveats(state: RaceState) -> list[str]:
    """What a reader of the ranking must know about a race (kept next to the small-n ones)."""
    out = [
        f"{c} left the race after {d.seeds} seeds: a one-sided paired t-test against {d.best} "
        f"gave p = {d.p:.3g}; its own statistics rest on those seeds only."
        for c, d in state.dropped.items()
    ]
    if state.dropped:
        out.append(
            "Each drop tests one pick against the best so far, without correction for "
            "the repeated tests of a race: an early drop can be a false one."
        )
    return out
