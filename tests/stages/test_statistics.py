import itertools
import json
import math
from collections.abc import Sequence

import numpy as np
import pytest
from scipy import stats

from stages.statistics import rank_validation

SCORES = {
    "fancy-sweep-62": [4.10, 4.02, 4.05],
    "rose-sweep-41": [3.80, 3.95, 3.86],
    "sunny-sweep-2": [3.60, 3.72, 3.70],
}
FIVE_SEEDS = {"a": [4.10, 4.02, 4.05, 4.21, 3.97], "b": [3.80, 4.05, 3.86, 4.12, 3.90]}
MANY_TIES = {"a": [3.0, 4.0, 5.0], "b": [2.0, 4.0, 5.0]}  # equal resample means are common
LOSSES = {"a": [0.50, 0.61, 0.55, 0.58], "b": [0.52, 0.57, 0.49, 0.56]}


def exact_bootstrap_means(values: Sequence[float]) -> np.ndarray:
    """The mean of every ordered resample with replacement: n**n equally likely draws, the
    distribution a bootstrap with infinitely many resamples would see."""
    x = np.asarray(values, dtype=float)
    every = np.array(list(itertools.product(range(len(x)), repeat=len(x))))
    return np.asarray(x[every].mean(axis=1))


def exact_quantile(means: np.ndarray, level: float) -> float:
    """Inverse CDF of equally weighted atoms: the smallest value whose CDF reaches ``level``."""
    ranked = np.sort(means)
    return float(ranked[max(math.ceil(level * len(ranked) - 1e-9), 1) - 1])


def exact_prob_better(mine: Sequence[float], best: Sequence[float], sign: float) -> float:
    """P(a resample mean of ``mine`` beats one of ``best``), ties counted as half."""
    a = sign * exact_bootstrap_means(mine)
    b = np.sort(sign * exact_bootstrap_means(best))
    below, up_to = np.searchsorted(b, a, "left"), np.searchsorted(b, a, "right")
    return float(np.mean(below + 0.5 * (up_to - below)) / len(b))


def test_ranks_by_mean_and_matches_scipy():
    ranking = rank_validation(SCORES, "maximize")
    assert [r.config for r in ranking.rows] == list(SCORES)
    assert ranking.recommended == "fancy-sweep-62"
    second = ranking.rows[1]
    x = np.array(SCORES["rose-sweep-41"])
    assert second.mean == pytest.approx(x.mean())
    assert second.std == pytest.approx(np.std(x, ddof=1))
    lo, hi = stats.t.interval(0.95, df=2, loc=x.mean(), scale=stats.sem(x))
    assert (second.ci_low, second.ci_high) == pytest.approx((lo, hi))
    welch = stats.ttest_ind(x, SCORES["fancy-sweep-62"], equal_var=False)
    assert second.p_vs_best == pytest.approx(welch.pvalue)
    assert math.isnan(ranking.rows[0].p_vs_best)


def test_probability_better_than_best_follows_the_gap():
    ranking = rank_validation(SCORES, "maximize")
    # every seed of the best beats every seed of the third: no resample reverses the order
    assert ranking.rows[2].prob_better_than_best == 0.0
    close = {"a": [1.0, 2.0, 3.0], "b": [1.1, 2.0, 2.9]}
    exact = exact_prob_better(close["b"], close["a"], 1.0)
    assert 0.3 < exact < 0.7  # nearly the same seeds: nearly a coin flip
    prob = rank_validation(close, "maximize", seed=0).rows[1].prob_better_than_best
    assert prob == pytest.approx(exact, abs=0.02)


@pytest.mark.parametrize(
    ("scores", "goal", "confidence"),
    [
        (SCORES, "maximize", 0.95),
        (FIVE_SEEDS, "maximize", 0.95),
        (FIVE_SEEDS, "maximize", 0.8),
        (MANY_TIES, "maximize", 0.95),
        (LOSSES, "minimize", 0.9),
    ],
)
def test_bootstrap_matches_the_exact_resampling_distribution(
    scores: dict[str, list[float]], goal: str, confidence: float
) -> None:
    """With a fixed seed, the 10 000 resamples' percentile interval and P(better than best) agree
    with the exact bootstrap distribution (every resample enumerated) up to Monte Carlo error:
    for these scores ~0.001 on an interval end (the tolerance is 2 % of the seeds' range) and
    ~0.005 on a probability (tolerance 0.02)."""
    ranking = rank_validation(scores, goal, confidence=confidence, seed=0)  # type: ignore[arg-type]
    sign = 1.0 if goal == "maximize" else -1.0
    best = scores[ranking.recommended]
    for row in ranking.rows:
        x = scores[row.config]
        means, tol = exact_bootstrap_means(x), 0.02 * (max(x) - min(x))
        assert row.boot_low == pytest.approx(exact_quantile(means, (1 - confidence) / 2), abs=tol)
        assert row.boot_high == pytest.approx(exact_quantile(means, (1 + confidence) / 2), abs=tol)
        if row.config != ranking.recommended:
            exact = exact_prob_better(x, best, sign)
            assert row.prob_better_than_best == pytest.approx(exact, abs=0.02), row.config


def test_minimize_ranks_low_first_and_bootstrap_is_seeded():
    losses = {"a": [0.5, 0.6, 0.55], "b": [0.3, 0.32, 0.31]}
    ranking = rank_validation(losses, "minimize", seed=7)
    assert ranking.recommended == "b"
    assert ranking.rows[1].prob_better_than_best == 0.0
    assert ranking == rank_validation(losses, "minimize", seed=7)


def test_three_seeds_caveat_uses_the_exact_rank_test_minimum():
    ranking = rank_validation(SCORES, "maximize")
    two = stats.mannwhitneyu([1, 2, 3], [4, 5, 6], method="exact").pvalue
    text = " ".join(ranking.caveats)
    assert f"cannot reach p below {two:.3g} two-sided (0.05 one-sided)" in text
    assert "degrees of freedom" in text
    assert "10 distinct resamples" in text


def test_many_seeds_drop_the_rank_test_caveat():
    rng = np.random.default_rng(0)
    scores = {"a": rng.normal(1, 0.1, 8), "b": rng.normal(0, 0.1, 8)}
    ranking = rank_validation(scores, "maximize")
    assert not any("Mann-Whitney" in c for c in ranking.caveats)
    assert ranking.distinguishable_from_runner_up
    assert "beats the runner-up b" in ranking.verdict


def test_close_configs_are_not_distinguishable():
    ranking = rank_validation({"a": [1.0, 2.0, 3.0], "b": [1.1, 1.9, 2.9]}, "maximize")
    assert not ranking.distinguishable_from_runner_up
    assert "treat them as tied" in ranking.verdict


def test_one_seed_gives_nan_and_a_caveat_not_a_crash():
    ranking = rank_validation({"a": [2.0], "b": [1.0, 1.2, 1.1]}, "maximize")
    lone = ranking.rows[0]
    assert lone.config == "a" and math.isnan(lone.std) and math.isnan(lone.ci_low)
    assert math.isnan(ranking.rows[1].p_vs_best)
    assert any("a has one seed" in c for c in ranking.caveats)
    assert not ranking.distinguishable_from_runner_up
    assert "one of them has a single seed" in ranking.verdict


def test_seeds_without_spread_cannot_be_tested():
    ranking = rank_validation({"a": [2.0, 2.0], "b": [1.0, 1.0]}, "maximize")
    assert math.isnan(ranking.rows[1].p_vs_best)
    assert "no spread" in ranking.verdict and not ranking.distinguishable_from_runner_up


def test_non_finite_scores_are_left_out_with_a_note():
    ranking = rank_validation({"a": [1.0, float("nan"), 1.2], "b": [float("nan")]}, "maximize")
    assert [r.config for r in ranking.rows] == ["a"]
    assert ranking.rows[0].n == 2
    assert any("b: no finite score" in c for c in ranking.caveats)
    with pytest.raises(ValueError, match="no config has a finite score"):
        rank_validation({"a": [float("nan")]}, "maximize")


def test_exports_are_json_safe_and_readable():
    ranking = rank_validation({**SCORES, "solo": [3.0]}, "maximize")
    data = json.loads(json.dumps(ranking.to_dict(), allow_nan=False))
    assert data["recommended"] == "fancy-sweep-62"
    assert data["configs"][-1]["std"] is None
    frame = ranking.to_frame()
    assert list(frame["rank"]) == [1, 2, 3, 4] and "values" not in frame.columns
    text = ranking.to_markdown()
    assert "| 1 | fancy-sweep-62 | 3 |" in text and "**Recommended:** fancy-sweep-62" in text
