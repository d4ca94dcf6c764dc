"""Ray Tune's median stopping rule: hand-built curves and a snapshot reference."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import stages.median
from stages.median import MedianStopper
from stages.spec import Goal, MedianStopping
from stages.stopping import StopDecision, StoppingRule
from stages.stopping_rules import make_stopping_rule


def feed(rule: MedianStopper, trial: str, values: list[float]) -> list[StopDecision | None]:
    return [rule.on_result(trial, i, v) for i, v in enumerate(values, start=1)]


def finished(rule: MedianStopper, trial: str, values: list[float]) -> None:
    assert all(d is None for d in feed(rule, trial, values)), f"{trial} should not stop"
    rule.on_complete(trial)


def with_others(others: dict[str, list[float]], grace: int = 1, goal: Goal = "maximize"):
    rule = MedianStopper(MedianStopping(grace=grace, min_samples=3), goal)
    for name, values in others.items():
        finished(rule, name, values)
    return rule


def test_doctests() -> None:
    result = doctest.testmod(stages.median)
    assert result.attempted > 0 and result.failed == 0


def test_stops_below_the_median_of_running_means_after_grace() -> None:
    rule = with_others({"a": [1.0, 2.0, 3.0], "b": [2.0, 2.0, 2.0], "c": [0.0, 1.0, 2.0]}, grace=2)
    decisions = feed(rule, "d", [0.5, 0.6])
    assert decisions[0] is None  # iteration 1 < grace
    # means over iterations 2..2: a 2, b 2, c 1 -> median 2; d's best 0.6
    assert decisions[1] == StopDecision("median", 2, None, 2.0, 0.6, "maximize")


def test_best_so_far_counts_values_before_grace() -> None:
    rule = with_others({"a": [1.0, 2.0, 3.0], "b": [2.0, 2.0, 2.0], "c": [0.0, 1.0, 2.0]}, grace=2)
    assert feed(rule, "d", [5.0, 0.0, 0.0]) == [None, None, None]


def test_running_mean_not_latest_value() -> None:
    rule = with_others({n: [0.0, 0.0, 3.0] for n in "abc"})
    # at 3 the others' latest is 3 but their mean over 1..3 is 1; d's best 1.5 beats it
    assert feed(rule, "d", [0.5, 0.5, 1.5]) == [None, None, None]
    assert rule.on_result("e", 1, -1.0) is not None  # below the median 0 at iteration 1


def test_a_tie_with_the_median_continues() -> None:
    rule = with_others({"a": [1.0], "b": [2.0], "c": [3.0]})
    assert rule.on_result("d", 1, 2.0) is None
    assert rule.on_result("e", 1, 1.999) == StopDecision("median", 1, None, 2.0, 1.999, "maximize")


def test_needs_min_samples_of_other_trials_that_reached_the_iteration() -> None:
    rule = with_others({"a": [5.0, 5.0], "b": [5.0, 5.0], "c": [5.0]})
    assert rule.on_result("d", 1, 0.0) is not None  # a, b and c reached 1
    assert rule.on_result("f", 1, 6.0) is None
    assert rule.on_result("f", 2, 0.0) is None  # only a and b reached 2: too few to judge


def test_even_count_median_is_the_mean_of_the_middle_two() -> None:
    rule = with_others({"a": [1.0], "b": [2.0], "c": [4.0], "x": [8.0]})
    decision = rule.on_result("d", 1, 2.9)
    assert decision is not None and decision.threshold == 3.0


def test_stopped_trials_keep_counting() -> None:
    rule = with_others({"a": [4.0], "b": [4.0], "c": [0.0]})
    assert rule.on_result("s", 1, 0.0) is not None  # stopped, but its value stays
    # d at 1 is compared with a, b, c and s: median of [4, 4, 0, 0] = 2 (4 without s)
    assert rule.on_result("d", 1, 1.0) == StopDecision("median", 1, None, 2.0, 1.0, "maximize")


def test_minimize_reports_natural_units() -> None:
    rule = with_others({"a": [1.0], "b": [2.0], "c": [3.0]}, goal="minimize")
    decision = rule.on_result("d", 1, 2.5)
    assert decision == StopDecision("median", 1, None, 2.0, 2.5, "minimize")
    assert decision.describe("loss") == (
        "stopped by median stopping at iteration 1: best loss 2.50 above median 2.00"
    )
    assert rule.on_result("e", 1, 1.5) is None


def test_nan_is_ignored_and_late_results_are_not_judged() -> None:
    rule = with_others({"a": [1.0], "b": [1.0], "c": [1.0]})
    assert rule.on_result("d", 1, float("nan")) is None
    assert rule.on_result("e", 1, 0.0) is not None
    assert rule.on_result("e", 2, -5.0) is None


def test_bad_min_samples_is_a_described_error() -> None:
    with pytest.raises(ValueError, match="min_samples"):
        MedianStopper(MedianStopping(min_samples=0), "maximize")


def test_factory_and_protocol() -> None:
    rule = make_stopping_rule(MedianStopping(grace=2), "minimize")
    assert isinstance(rule, MedianStopper) and isinstance(rule, StoppingRule)


def ray_snapshot_stops(
    seen: dict[str, list[float]], trial: str, t: int, grace: int, min_samples: int
) -> bool:
    """Ray's procedure written out on a snapshot (maximize): trials beyond t, means, median."""
    if t < grace:
        return False
    others = [h for k, h in seen.items() if k != trial and len(h) >= t]
    if len(others) < min_samples:
        return False
    median = np.median([np.mean(h[grace - 1 : t]) for h in others])
    return bool(max(median, max(seen[trial])) != max(seen[trial]))


@settings(max_examples=150, deadline=None)
@given(
    curves=st.dictionaries(
        st.sampled_from("abcdefg"),
        st.lists(st.integers(-4, 4).map(float), min_size=1, max_size=8),
        min_size=1,
    ),
    order=st.randoms(use_true_random=False),
    grace=st.integers(1, 3),
    min_samples=st.integers(1, 3),
)
def test_matches_ray_snapshot_at_every_report(curves, order, grace, min_samples) -> None:
    rule = MedianStopper(MedianStopping(grace=grace, min_samples=min_samples), "maximize")
    events = [(t, i) for t, h in curves.items() for i in range(len(h))]
    order.shuffle(events)
    events.sort(key=lambda e: e[1])
    seen: dict[str, list[float]] = {t: [] for t in curves}
    stopped: set[str] = set()
    for trial, i in events:
        if trial in stopped:
            continue
        seen[trial].append(curves[trial][i])
        got = rule.on_result(trial, i + 1, curves[trial][i])
        want = ray_snapshot_stops(seen, trial, i + 1, grace, min_samples)
        assert (got is not None) == want, (trial, i + 1, seen)
        if got is not None:
            stopped.add(trial)
