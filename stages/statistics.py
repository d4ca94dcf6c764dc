"""Validation statistics: rank the top-k configs retrained with several seeds, honestly.

A researcher's progressive DPRNN sweep on PolSESS (W&B project polsess-thesis-experiments)
retrained its top 5 configs with seeds 42, 123 and 456 and chose "the config with the highest mean
SI-SDR across 3 seeds". :func:`rank_validation` keeps that rule (``recommended`` = best
goal-aware mean) and adds the evidence a reader needs to trust it: per-config spread and
confidence intervals, tests against the best config, and caveats that say plainly what three
seeds can and cannot show.

Everything is computed on goal-signed values (:func:`stages.trials.signed`) and reported back in
natural units, so "better" means larger for ``maximize`` and smaller for ``minimize``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from stages.spec import Goal
from stages.trials import signed


@dataclass(frozen=True)
class ConfigStats:
    """One config's seeds. ``p_vs_best`` and ``prob_better_than_best`` are NaN for the best
    config itself and wherever a side has fewer than two seeds; ``p_vs_best`` also when neither
    side has any spread (the t statistic is infinite, its p meaningless)."""

    config: str
    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    boot_low: float
    boot_high: float
    p_vs_best: float
    prob_better_than_best: float
    values: tuple[float, ...]


@dataclass(frozen=True)
class ValidationRanking:
    goal: Goal
    confidence: float
    rows: tuple[ConfigStats, ...]  # best mean first
    recommended: str
    distinguishable_from_runner_up: bool
    verdict: str
    caveats: tuple[str, ...]

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame([asdict(r) for r in self.rows])
        frame.insert(0, "rank", range(1, len(self.rows) + 1))
        return frame.drop(columns=["values"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: NaN becomes None."""
        rows = [{k: _json(v) for k, v in asdict(r).items()} for r in self.rows]
        return {
            "goal": self.goal,
            "confidence": self.confidence,
            "recommended": self.recommended,
            "distinguishable_from_runner_up": self.distinguishable_from_runner_up,
            "verdict": self.verdict,
            "caveats": list(self.caveats),
            "configs": rows,
        }

    def to_markdown(self) -> str:
        pct = f"{self.confidence:.0%}"
        head = ["rank", "config", "n", "mean", "std", f"t {pct} CI", f"bootstrap {pct} CI"]
        head += ["Welch p vs best", "P(better than best)"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for rank, r in enumerate(self.rows, start=1):
            cells = [str(rank), r.config, str(r.n), _fmt(r.mean), _fmt(r.std)]
            cells += [_interval(r.ci_low, r.ci_high), _interval(r.boot_low, r.boot_high)]
            cells += [_fmt(r.p_vs_best), _fmt(r.prob_better_than_best)]
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", f"**Recommended:** {self.recommended}. {self.verdict}", ""]
        lines += [f"- {c}" for c in self.caveats]
        return "\n".join(lines) + "\n"


def _json(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, tuple):
        return list(value)
    return value


def _fmt(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.4g}"


def _interval(lo: float, hi: float) -> str:
    return "-" if math.isnan(lo) else f"[{lo:.4g}, {hi:.4g}]"


def _t_interval(x: np.ndarray, confidence: float) -> tuple[float, float]:
    if len(x) < 2:
        return math.nan, math.nan
    half = stats.t.ppf((1 + confidence) / 2, df=len(x) - 1) * stats.sem(x)
    return float(x.mean() - half), float(x.mean() + half)


def _boot_means(x: np.ndarray, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    idx = rng.integers(0, len(x), size=(n_bootstrap, len(x)))
    return np.asarray(x[idx].mean(axis=1))


def _stats_row(
    name: str,
    x: np.ndarray,
    best: str,
    data: Mapping[str, np.ndarray],
    boot: Mapping[str, np.ndarray],
    ctx: tuple[Goal, float],
) -> ConfigStats:
    """``boot`` maps config -> bootstrap means (natural units); ``ctx`` is (goal, confidence)."""
    goal, conf = ctx
    lo, hi = _t_interval(x, conf)
    b_lo = b_hi = p = prob = math.nan
    if len(x) >= 2:
        b_lo, b_hi = (float(v) for v in np.quantile(boot[name], [(1 - conf) / 2, (1 + conf) / 2]))
    if name != best and len(x) >= 2 and len(data[best]) >= 2:
        if np.var(x) + np.var(data[best]) > 0:  # without spread t is infinite: no real p
            p = float(stats.ttest_ind(x, data[best], equal_var=False).pvalue)
        diff = signed(1.0, goal) * (boot[name] - boot[best])  # > 0: this config is better
        prob = float(np.mean(diff > 0) + 0.5 * np.mean(diff == 0))
    std = float(np.std(x, ddof=1)) if len(x) >= 2 else math.nan
    return ConfigStats(
        name, len(x), float(x.mean()), std, lo, hi, b_lo, b_hi, p, prob, tuple(map(float, x))
    )


def _clean(scores: Mapping[str, Sequence[float]]) -> tuple[dict[str, np.ndarray], list[str]]:
    clean: dict[str, np.ndarray] = {}
    notes: list[str] = []
    for name, values in scores.items():
        x = np.asarray(values, dtype=float)
        finite = x[np.isfinite(x)]
        if len(finite) < len(x):
            notes.append(f"{name}: {len(x) - len(finite)} non-finite score(s) left out.")
        if len(finite):
            clean[name] = finite
        else:
            notes.append(f"{name}: no finite score, left out of the ranking.")
    if not clean:
        raise ValueError(f"no config has a finite score; got configs {sorted(scores)}")
    return clean, notes


def _welch_df(a: np.ndarray, b: np.ndarray) -> float:
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return float(len(a) + len(b) - 2)
    return float((va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)))


def _min_rank_p(n1: int, n2: int) -> tuple[float, float]:
    """Smallest p an exact Mann-Whitney U test can give for these sample sizes (no overlap)."""
    low, high = np.arange(n1), np.arange(n1, n1 + n2)
    two = stats.mannwhitneyu(low, high, alternative="two-sided", method="exact").pvalue
    one = stats.mannwhitneyu(low, high, alternative="less", method="exact").pvalue
    return float(two), float(one)


def _small_sample_caveats(
    a: np.ndarray, b: np.ndarray, names: tuple[str, str], alpha: float
) -> list[str]:
    out = []
    two, one = _min_rank_p(len(a), len(b))
    if two >= alpha:
        out.append(
            f"With {len(a)} and {len(b)} seeds an exact rank test (Mann-Whitney U) cannot reach "
            f"p below {two:.3g} two-sided ({one:.3g} one-sided), whatever the scores: "
            "rank-based evidence needs more seeds."
        )
    df = _welch_df(a, b)
    if df < 10:
        out.append(
            f"The Welch t-test of {names[1]} against {names[0]} has only {df:.1f} degrees of "
            "freedom: its p-value leans on seed-to-seed noise being roughly normal."
        )
    n = min(len(a), len(b))
    if n <= 5:
        out.append(
            f"With {n} seeds the bootstrap sees only {math.comb(2 * n - 1, n)} distinct "
            "resamples per config: its intervals are too narrow; trust the t intervals more."
        )
    return out


def _caveats(
    rows: Sequence[ConfigStats], data: Mapping[str, np.ndarray], alpha: float
) -> list[str]:
    out = [
        f"{r.config} has one seed: no std, confidence interval or test." for r in rows if r.n < 2
    ]
    if len(rows) >= 2 and rows[0].n >= 2 and rows[1].n >= 2:
        names = (rows[0].config, rows[1].config)
        out += _small_sample_caveats(data[names[0]], data[names[1]], names, alpha)
    if len(rows) > 2:
        out.append(
            f"Each config is tested against the best one without correction for the "
            f"{len(rows) - 1} comparisons, and the best was chosen on the same scores, "
            "which favours it."
        )
    return out


def _verdict(rows: Sequence[ConfigStats], alpha: float) -> tuple[bool, str]:
    best = rows[0]
    if len(rows) < 2:
        return False, f"Only {best.config} was validated: there is nothing to compare it with."
    second = rows[1]
    gap = abs(best.mean - second.mean)
    if math.isnan(second.p_vs_best):
        why = "one of them has a single seed" if min(best.n, second.n) < 2 else "no spread"
        return False, (
            f"{best.config} leads {second.config} by {gap:.4g}, but {why}: no test can tell "
            "the two apart."
        )
    if second.p_vs_best < alpha:
        return True, (
            f"{best.config} beats the runner-up {second.config} by {gap:.4g} "
            f"(Welch p = {second.p_vs_best:.3g} < {alpha:.3g})."
        )
    return False, (
        f"{best.config} leads the runner-up {second.config} by only {gap:.4g} "
        f"(Welch p = {second.p_vs_best:.3g} >= {alpha:.3g}): treat them as tied and prefer "
        "the simpler or cheaper one, or run more seeds."
    )


def rank_validation(
    scores: Mapping[str, Sequence[float]],
    goal: Goal,
    *,
    confidence: float = 0.95,
    n_bootstrap: int = 10000,
    seed: int = 0,
) -> ValidationRanking:
    """Rank configs by goal-aware mean over their seeds; see :class:`ConfigStats` for columns.

    Non-finite scores (diverged seeds) are left out with a caveat. Deterministic for a given
    ``seed``. Raises ValueError when no config has a finite score or ``confidence`` is not in
    (0, 1).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), but got {confidence=}")
    data, notes = _clean(scores)
    order = sorted(data, key=lambda c: (-signed(float(data[c].mean()), goal), c))
    rng = np.random.default_rng(seed)
    boot = {c: _boot_means(data[c], n_bootstrap, rng) for c in order}
    rows = tuple(_stats_row(c, data[c], order[0], data, boot, (goal, confidence)) for c in order)
    alpha = 1 - confidence
    distinguishable, verdict = _verdict(rows, alpha)
    caveats = tuple(notes + _caveats(rows, data, alpha))
    return ValidationRanking(goal, confidence, rows, order[0], distinguishable, verdict, caveats)
