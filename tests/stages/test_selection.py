import math

import pytest

from stages.selection import config_distance, quality, select_top_k
from stages.space import Categorical, Constant, Numeric
from stages.trials import TrialSummary

SPACE = {
    "lr": Numeric(1e-4, 1e-2, log=True),
    "clip": Numeric(0.0, 10.0),
    "opt": Categorical(("adam", "sgd")),
    "batch": Constant(8),
}


def trial(id, value, lr=1e-3, clip=5.0, opt="adam", variant="hyperband", **kw):
    config = {"lr": lr, "clip": clip, "opt": opt, "batch": 8}
    return TrialSummary(id=id, config=config, value=value, variant=variant, **kw)


def cluster_and_outlier():
    """Three near-duplicates at the top, one distant config slightly worse, a tail.

    Quality spread (best - median) is 4.0 - 3.475: the distant trial 4 loses 0.095 of quality
    and gains a distance of sqrt(0.5**2 + 0.5**2 + 1) = 1.22."""
    return [
        trial(1, 4.00, clip=5.0),
        trial(2, 3.99, clip=5.1),
        trial(3, 3.98, clip=4.9),
        trial(4, 3.95, lr=1e-4, clip=0.0, opt="sgd"),
        trial(5, 3.00, clip=6.0),
        trial(6, 2.50, clip=7.0),
        trial(7, 2.00, clip=8.0),
        trial(8, 1.50, clip=9.0),
    ]


def ids(picks):
    return [p.trial.id for p in picks]


def test_distance_uses_own_scale_and_categorical_unit_gap():
    a = {"lr": 1e-4, "clip": 0.0, "opt": "adam", "batch": 1}
    b = {"lr": 1e-3, "clip": 0.0, "opt": "sgd", "batch": 2}
    # lr moves half its log range; opt differs (1); the constant is ignored
    assert config_distance(a, b, SPACE) == pytest.approx(math.sqrt(0.5**2 + 1))


def test_missing_value_counts_as_maximally_distant():
    a = {"lr": 1e-3, "clip": 5.0, "opt": "adam"}
    assert config_distance(a, {"lr": 1e-3, "opt": "adam"}, SPACE) == 1.0
    assert config_distance(a, {**a, "clip": float("nan")}, SPACE) == 1.0


def test_quality_is_zero_at_best_and_minus_one_at_median():
    assert list(quality([5.0, 3.0, 1.0])) == [0.0, -1.0, -2.0]
    assert list(quality([2.0, 2.0])) == [0.0, 0.0]


def test_diversity_zero_is_plain_top_k():
    picks = select_top_k(cluster_and_outlier(), SPACE, k=3, goal="maximize", diversity=0.0)
    assert ids(picks) == [1, 2, 3]
    assert picks[0].distance_to_nearest is None
    assert [p.rank for p in picks] == [1, 2, 3]


def test_distant_slightly_worse_config_is_picked_with_diversity():
    for diversity in (0.1, 1.0):
        picks = select_top_k(
            cluster_and_outlier(), SPACE, k=3, goal="maximize", diversity=diversity
        )
        assert ids(picks) == [1, 4, 2]
    assert picks[1].distance_to_nearest == pytest.approx(math.sqrt(1.5))
    assert picks[1].score == pytest.approx(-0.05 / 0.525 + math.sqrt(1.5))


def test_minimize_goal_prefers_low_values():
    trials = [trial(i, -v) for i, v in ((1, 1.0), (2, 3.0), (3, 2.0))]
    picks = select_top_k(trials, SPACE, k=2, goal="minimize", diversity=0.0)
    assert ids(picks) == [2, 3]
    flipped = [trial(t.id, -t.value, clip=t.config["clip"]) for t in cluster_and_outlier()]
    picks = select_top_k(flipped, SPACE, k=3, goal="minimize", diversity=1.0)
    assert ids(picks) == [1, 4, 2]


def test_balance_keeps_a_median_stopping_config_within_tolerance():
    trials = [*cluster_and_outlier(), trial(9, 3.97, clip=2.0, variant="median")]
    plain = select_top_k(trials, SPACE, k=3, goal="maximize", diversity=0.0, balance_variants=False)
    assert "median" not in {p.trial.variant for p in plain}
    picks = select_top_k(trials, SPACE, k=3, goal="maximize", diversity=0.0)
    assert ids(picks) == [1, 2, 9]
    assert picks[2].distance_to_nearest == pytest.approx(0.3)


def test_balance_leaves_a_variant_out_beyond_tolerance():
    trials = [*cluster_and_outlier(), trial(9, 3.0, variant="median")]
    picks = select_top_k(trials, SPACE, k=3, goal="maximize", diversity=0.0)
    assert ids(picks) == [1, 2, 3]


def test_only_full_budget_trials_unless_disabled():
    trials = [
        trial(1, 9.0, status="early_stopped", epochs=3, max_epochs=10),
        trial(2, 8.0, epochs=10, max_epochs=10),
        trial(3, 7.0, epochs=4, max_epochs=10),
        trial(4, None),
    ]
    assert ids(select_top_k(trials, SPACE, k=5, goal="maximize")) == [2]
    every = select_top_k(trials, SPACE, k=5, goal="maximize", require_full_budget=False)
    assert ids(every) == [1, 2, 3]


def test_ties_go_to_better_metric_then_id_and_result_is_deterministic():
    trials = [trial("b", 1.0), trial("a", 1.0), trial("c", 2.0)]
    first = select_top_k(trials, SPACE, k=3, goal="maximize")
    again = select_top_k(list(reversed(trials)), SPACE, k=3, goal="maximize")
    assert ids(first) == ids(again) == ["c", "a", "b"]
    assert first == again


def test_errors_are_self_describing():
    with pytest.raises(ValueError, match="k=0"):
        select_top_k(cluster_and_outlier(), SPACE, k=0, goal="maximize")
    with pytest.raises(ValueError, match="none of the 1 trials"):
        select_top_k([trial(1, None)], SPACE, k=1, goal="maximize")
