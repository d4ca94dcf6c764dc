"""Fidelity agreement: does a bigger subset rank configs the way a smaller one did?

Narrowing trusts the source stage's ranking. That is safe when small subsets rank configs like
the full data (as on the augmented Hartmann-6), and throws away the optimum when they do not (on
the seed-004 simulator, 2K and 16K agree with Spearman 0.53, and narrowing twice lost up to 0.4
dB: benchmarks/results/RESULTS_sample_efficiency.md). Rungs cannot see the full data's ranking,
but by the time a stage narrows from a stage that was itself narrowed from an earlier one, it has two
fidelities side by side and can measure how far they agree.

:func:`rank_agreement` compares them without retraining anything: for every trial of the
*higher* stage it predicts what the *lower* stage would have reported at that config (the mean of
the lower stage's ``neighbours`` nearest trials in the normalised space, the distance used by
diversity selection), then takes the Spearman correlation between those predictions and the
higher stage's values. Early-stopped trials count with the best value they reached: stopping
removes poor configs early on both stages alike, so including them keeps the estimate about
the whole space, not about the few trials that completed. Values keep their natural sign, so
the goal does not matter.

The statistic is a heuristic, not a test: on 12 worlds of each benchmark (template stages 1 and
2) it was 0.27 median on the simulator (range -0.24..0.62) and 0.74 on Hartmann-6 (0.21..0.85).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from stages.selection import config_distance
from stages.space import Space
from stages.trials import TrialSummary

NEIGHBOURS = 5
MIN_TRIALS = 8  # fewer higher-stage trials than this measure nothing
MIN_TRIAL_SHARE = 0.25  # a stage cut by agreement keeps at least this share of its trials


@dataclass(frozen=True)
class Agreement:
    """Spearman ``rho`` between the higher stage's values and the lower stage's predictions,
    over ``n`` higher-stage trials (predicted from ``n_lower`` lower-stage trials)."""

    rho: float
    n: int
    n_lower: int

    def describe(self) -> str:
        return f"rank agreement {self.rho:+.2f} over {self.n} trials"


def _valued(trials: Sequence[TrialSummary]) -> list[TrialSummary]:
    return [t for t in trials if t.value is not None and math.isfinite(t.value)]


def rank_agreement(
    space: Space,
    lower: Sequence[TrialSummary],
    higher: Sequence[TrialSummary],
    neighbours: int = NEIGHBOURS,
) -> Agreement | None:
    """How well ``lower``'s landscape ranks ``higher``'s trials (module docstring); None when
    there is too little to measure (fewer than MIN_TRIALS on either side, or constant values)."""
    low, high = _valued(lower), _valued(higher)
    if len(high) < MIN_TRIALS or len(low) < MIN_TRIALS:
        return None
    k = min(neighbours, len(low))
    low_values = np.array([float(t.value) for t in low])  # type: ignore[arg-type]
    predicted = []
    for trial in high:
        gaps = np.array([config_distance(trial.config, t.config, space) for t in low])
        predicted.append(float(low_values[np.argsort(gaps, kind="stable")[:k]].mean()))
    observed = [float(t.value) for t in high]  # type: ignore[arg-type]
    if len(set(predicted)) < 2 or len(set(observed)) < 2:
        return None
    rho = float(stats.spearmanr(predicted, observed).statistic)
    return Agreement(rho=rho, n=len(high), n_lower=len(low))


def trial_share(rho: float) -> float:
    """The share of its trials a stage runs when the two stages below it agree at ``rho``
    (``Narrowing.trials_by_agreement``): ``min(1, 2 (1 - rho))``, at least MIN_TRIAL_SHARE.

    At or below rho = 0.5 (the default ``min_agreement``: the subsets disagree, the space was
    not narrowed) the stage runs every trial; above it, each 0.1 of agreement cuts a fifth,
    because a bigger subset that ranks configs like the smaller ones mostly confirms them."""
    return max(MIN_TRIAL_SHARE, min(1.0, 2.0 * (1.0 - rho)))


def shared_trials(counts: dict[str, int], share: float) -> dict[str, int]:
    """``counts`` (variant -> trials) times ``share``, rounded, at least one trial each."""
    return {name: max(1, round(trials * share)) for name, trials in counts.items()}
