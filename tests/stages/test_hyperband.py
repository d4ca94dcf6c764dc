"""W&B hyperband semantics: hand-computed cases and a check against a snapshot reference."""

from __future__ import annotations

import doctest
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import stages.hyperband
import stages.stopping
from stages.hyperband import (
    HyperbandStopper,
    hyperband_rungs,
    wandb_bands,
    wandb_hyperband_thresholds,
)
from stages.spec import Goal, Hyperband
from stages.stopping import StopDecision, StoppingRule
from stages.stopping_rules import make_stopping_rule


def feed(rule: HyperbandStopper, trial: str, values: list[float]) -> list[StopDecision | None]:
    return [rule.on_result(trial, i, v) for i, v in enumerate(values, start=1)]


def finished(rule: HyperbandStopper, trial: str, values: list[float]) -> None:
    assert all(d is None for d in feed(rule, trial, values)), f"{trial} should not stop"
    rule.on_complete(trial)


@pytest.mark.parametrize("module", [stages.hyperband, stages.stopping])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


# -- bands ---------------------------------------------------------------------------------------


def test_bands_max_iter_form() -> None:
    assert wandb_bands(Hyperband(max_iter=27, s=3, eta=3)) == [1, 3, 9]
    assert wandb_bands(Hyperband(max_iter=5, s=2, eta=2)) == [1, 2]  # int(2.5), int(1.25)
    assert wandb_bands(Hyperband(max_iter=10, s=5, eta=2)) == [1, 2, 5]  # 0.625 < 1: stops


def test_bands_min_iter_form_ignores_s() -> None:
    bands = wandb_bands(Hyperband(min_iter=10, s=2, eta=3))
    assert bands[:5] == [10, 30, 90, 270, 810]
    assert hyperband_rungs(Hyperband(min_iter=10, s=2, eta=3), max_epochs=50) == [10, 30]


def test_no_band_is_an_error_naming_the_fix() -> None:
    with pytest.raises(ValueError, match="no band"):
        wandb_bands(Hyperband(max_iter=2, s=1, eta=3))
    with pytest.raises(ValueError, match="eta > 1"):
        HyperbandStopper(Hyperband(min_iter=1, eta=1.0), "maximize")


def test_rungs_for_display_use_the_budget() -> None:
    rule = HyperbandStopper(Hyperband(min_iter=3, eta=3), "maximize", max_epochs=30)
    assert rule.rungs == [3, 9, 27]
    assert rule.bands[:4] == [3, 9, 27, 81]


# -- W&B's own example (max_iter=5, s=2, eta=2, minimize) -----------------------------------------

WANDB_EXAMPLE = {
    "a": [10.0, 9.0],  # finished
    "e": [10.0, 6.0, 6.0],  # finished
    "c": [10.0, 8.0, 8.0],  # running
    "d": [10.0, 7.0, 7.0],  # running
    "b": [10.0, 10.0],  # running
}


def test_wandb_example_thresholds() -> None:
    got = wandb_hyperband_thresholds(WANDB_EXAMPLE, [1, 2], eta=2, goal="minimize")
    # band 1: five 10s -> 10; band 2: sorted [6, 7, 8, 9, 10][int(0.5 * 5)] = 8
    assert got == {1: 10.0, 2: 8.0}


def test_wandb_example_stops_b_and_keeps_c_exactly_at_threshold() -> None:
    rule = HyperbandStopper(Hyperband(max_iter=5, s=2, eta=2), "minimize")
    finished(rule, "a", WANDB_EXAMPLE["a"])
    finished(rule, "e", WANDB_EXAMPLE["e"])
    # c at iteration 2: band-2 values [6, 8, 9] -> threshold index 1 = 8; c is 8: not worse.
    assert feed(rule, "c", WANDB_EXAMPLE["c"]) == [None, None, None]
    assert feed(rule, "d", WANDB_EXAMPLE["d"]) == [None, None, None]
    # b at iteration 2: band-2 values [6, 7, 8, 9, 10] -> 8; b's best is 10 (loss): stop.
    decisions = feed(rule, "b", WANDB_EXAMPLE["b"])
    assert decisions[0] is None
    assert decisions[1] == StopDecision("hyperband", 2, 2, 8.0, 10.0, "minimize")
    assert rule.thresholds() == {1: 10.0, 2: 8.0}


# -- min_iter form, eta 3, maximize: strict off vs on ----------------------------------------------


def _three_finished(strict: bool) -> HyperbandStopper:
    rule = HyperbandStopper(Hyperband(min_iter=2, eta=3, strict=strict), "maximize")
    # worst first, so that none of them is stopped while it runs
    finished(rule, "C", [0.5, 1.0])
    finished(rule, "B", [1.0, 2.0])
    finished(rule, "A", [1.0, 3.0])
    return rule


def test_non_strict_compares_best_so_far_including_before_the_band() -> None:
    rule = _three_finished(strict=False)
    # band 2: [3, 2, 1, 1.5] best first, index int(4 / 3) = 1 -> 2.0; best so far 2.5 >= 2.0
    assert feed(rule, "D", [2.5, 1.5, 1.0]) == [None, None, None]


def test_strict_compares_the_value_at_the_band() -> None:
    rule = _three_finished(strict=True)
    decisions = feed(rule, "D", [2.5, 1.5])
    assert decisions == [None, StopDecision("hyperband", 2, 2, 2.0, 1.5, "maximize")]


def test_non_strict_best_so_far_includes_values_after_the_band() -> None:
    rule = _three_finished(strict=False)
    # at 2 its best (1.5) is below 2.0: stopped at the band it just passed
    assert feed(rule, "E", [1.0, 1.5])[1] == StopDecision("hyperband", 2, 2, 2.0, 1.5, "maximize")
    rule = _three_finished(strict=False)
    rule.on_result("F", 1, 1.0)
    rule.on_result("F", 2, 2.0)  # exactly at 2.0: continues
    assert rule.on_result("F", 3, 9.0) is None


# -- max_iter + s form, eta 3, ties ---------------------------------------------------------------


@pytest.mark.parametrize(("value", "stopped"), [(1.0, False), (0.99, True)])
def test_ties_at_threshold_continue(value: float, stopped: bool) -> None:
    rule = HyperbandStopper(Hyperband(max_iter=27, s=2, eta=3), "maximize")
    assert rule.bands == [3, 9]
    for name in "XYZ":
        finished(rule, name, [1.0, 1.0, 1.0])
    decision = feed(rule, "T", [0.5, 0.5, value])[2]
    assert (decision is not None) is stopped
    if decision is not None:
        assert (decision.rung, decision.threshold, decision.value) == (3, 1.0, 0.99)


def test_ties_eta2_index_falls_on_the_tied_block() -> None:
    rule = HyperbandStopper(Hyperband(min_iter=1, eta=2), "maximize")
    finished(rule, "a", [2.0])
    finished(rule, "b", [2.0])
    finished(rule, "c", [2.0])
    # [2, 2, 2, 1] best first, index int(0.5 * 4) = 2 -> 2.0
    assert rule.on_result("d", 1, 1.0) == StopDecision("hyperband", 1, 1, 2.0, 1.0, "maximize")
    assert rule.on_result("e", 1, 2.0) is None


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("goal", ["maximize", "minimize"])
def test_a_band_with_a_single_run_never_stops_it(strict: bool, goal: Goal) -> None:
    rule = HyperbandStopper(Hyperband(min_iter=1, eta=2, strict=strict), goal)
    assert feed(rule, "only", [3.0, 1.0, 7.0, 2.0, 2.0, 9.0, 0.0, 5.0]) == [None] * 8


# -- which band counts, moving thresholds, invalid values -----------------------------------------


def test_the_last_passed_band_counts() -> None:
    rule = HyperbandStopper(Hyperband(min_iter=1, eta=2, strict=True), "minimize")
    finished(rule, "f1", [5.0, 5.0, 5.0, 1.0])
    finished(rule, "f2", [5.0, 5.0, 5.0, 2.0])
    # t is level with both at bands 1 and 2; band 4's threshold is [1, 2, 3][1] = 2
    decisions = feed(rule, "t", [5.0, 5.0, 5.0, 3.0])
    assert decisions[:3] == [None, None, None]
    assert decisions[3] == StopDecision("hyperband", 4, 4, 2.0, 3.0, "minimize")


def test_threshold_moves_as_other_runs_reach_the_band() -> None:
    rule = HyperbandStopper(Hyperband(max_iter=6, s=1, eta=3), "maximize")
    assert rule.bands == [2]
    assert feed(rule, "x", [1.0, 1.0]) == [None, None]  # alone at band 2
    finished(rule, "y", [3.0, 3.0])
    finished(rule, "z", [3.0, 3.0])
    # band 2 is now [3, 3, 1]: threshold index 1 = 3; x (best 1) is stopped at its next report
    assert rule.on_result("x", 3, 1.0) == StopDecision("hyperband", 3, 2, 3.0, 1.0, "maximize")


def test_non_finite_values_are_dropped_like_wandb_filter_invalid() -> None:
    rule = HyperbandStopper(Hyperband(min_iter=2, eta=2, strict=True), "maximize")
    finished(rule, "a", [1.0, 4.0])
    finished(rule, "b", [1.0, 4.0])
    assert rule.on_result("c", 1, 1.0) is None
    assert rule.on_result("c", 2, math.nan) is None  # not an iteration for W&B
    decision = rule.on_result("c", 3, 2.0)  # c's 2nd valid value is its band-2 value
    assert decision == StopDecision("hyperband", 3, 2, 4.0, 2.0, "maximize")


def test_no_decision_after_stop_or_completion() -> None:
    rule = HyperbandStopper(Hyperband(min_iter=1, eta=2), "maximize")
    finished(rule, "a", [5.0, 5.0])
    finished(rule, "b", [5.0, 5.0])
    assert rule.on_result("c", 1, 0.0) is not None
    assert rule.on_result("c", 2, 0.0) is None  # a late result after STOP
    rule.on_complete("a")
    assert rule.on_result("a", 3, -100.0) is None


def test_a_late_result_after_stop_still_counts_in_its_band() -> None:
    rule = HyperbandStopper(Hyperband(min_iter=1, eta=2), "maximize")
    finished(rule, "a", [5.0, 1.0])
    finished(rule, "b", [5.0, 5.0])
    assert rule.thresholds()[2] == 1.0  # [5, 1][int(0.5 * 2)]
    assert rule.on_result("c", 1, 0.0) is not None
    assert rule.on_result("c", 2, 9.0) is None  # delivered after STOP, like a killed W&B run's log
    assert rule.thresholds()[2] == 5.0  # [9, 5, 1][int(0.5 * 3)]


def test_decision_json_and_sentence_are_in_natural_units() -> None:
    decision = StopDecision("hyperband", 9, 9, 1.85, 1.2, "maximize")
    data = json.loads(json.dumps(decision.to_dict()))
    assert data["threshold"] == 1.85 and data["value"] == 1.2
    assert data["message"] == "stopped by hyperband at rung 9: metric 1.20 below threshold 1.85"
    assert StopDecision.from_dict(data) == decision
    loss = StopDecision("hyperband", 3, 3, 0.5, 0.75, "minimize")
    assert loss.describe("loss") == "stopped by hyperband at rung 3: loss 0.75 above threshold 0.50"


def test_factory_and_protocol() -> None:
    rule = make_stopping_rule(Hyperband(min_iter=3), "maximize")
    assert isinstance(rule, HyperbandStopper) and isinstance(rule, StoppingRule)
    guarded = make_stopping_rule(Hyperband(min_iter=3), "maximize", max_epochs=30)
    assert isinstance(guarded, StoppingRule)  # wrapped in FinalEpochGuard
    assert make_stopping_rule(None, "maximize") is None


# -- the incremental rule equals W&B's snapshot computation at every report -----------------------


def wandb_snapshot_stops(
    histories: dict[str, list[float]], trial: str, hb: Hyperband, goal: Goal
) -> bool:
    """W&B's procedure written out independently: lower is better, index int(r * n)."""
    sign = -1.0 if goal == "maximize" else 1.0
    clean = {k: [sign * v for v in h if math.isfinite(v)] for k, h in histories.items()}
    bands, r = wandb_bands(hb), 1.0 / hb.eta
    history = clean[trial]
    passed = [b for b in bands if b <= len(history)]
    if not passed:
        return False
    band = passed[-1]
    at_band = sorted(h[band - 1] for h in clean.values() if len(h) >= band)
    threshold = at_band[int(r * len(at_band))]
    compared = history[band - 1] if hb.strict else min(history)
    return compared > threshold


value = st.one_of(st.integers(-3, 3).map(float), st.just(math.nan))
curves = st.dictionaries(st.sampled_from("abcdef"), st.lists(value, max_size=10), min_size=1)


@settings(max_examples=150, deadline=None)
@given(
    curves=curves,
    order_seed=st.randoms(use_true_random=False),
    eta=st.sampled_from([2.0, 3.0]),
    min_iter=st.sampled_from([1, 2]),
    strict=st.booleans(),
    goal=st.sampled_from(["maximize", "minimize"]),
)
def test_matches_wandb_snapshot_at_every_report(
    curves: dict[str, list[float]], order_seed, eta, min_iter, strict, goal
) -> None:
    hb = Hyperband(min_iter=min_iter, eta=eta, strict=strict)
    rule = HyperbandStopper(hb, goal)
    events = [(t, i) for t, h in curves.items() for i in range(len(h))]
    order_seed.shuffle(events)
    events.sort(key=lambda e: e[1])  # keep each trial's own values in order, interleave trials
    seen: dict[str, list[float]] = {t: [] for t in curves}
    stopped: set[str] = set()
    for trial, i in events:
        if trial in stopped:
            continue
        seen[trial].append(curves[trial][i])
        got = rule.on_result(trial, i + 1, curves[trial][i])
        want = math.isfinite(curves[trial][i]) and wandb_snapshot_stops(seen, trial, hb, goal)
        assert (got is not None) == want, (trial, seen)
        if got is not None:
            stopped.add(trial)
    snapshot = {t: h for t, h in seen.items() if h}
    assert wandb_hyperband_thresholds(snapshot, rule.bands[:5], eta, goal) == {
        b: t for b, t in rule.thresholds().items() if b in rule.bands[:5]
    }
