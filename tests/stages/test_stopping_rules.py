"""A trial is never stopped at its last epoch (it already spent its budget)."""

from __future__ import annotations

from stages.hyperband import HyperbandStopper
from stages.spec import Hyperband, MedianStopping
from stages.stopping_rules import FinalEpochGuard, make_stopping_rule


def _feed(rule, values: dict[str, float], iteration: int = 1):  # type: ignore[no-untyped-def]
    return {t: rule.on_result(t, iteration, v) for t, v in values.items()}


def test_unguarded_hyperband_stops_the_worst_at_rung_one() -> None:
    rule = HyperbandStopper(Hyperband(min_iter=1, eta=2), "maximize", max_epochs=4)
    decisions = _feed(rule, {"b": 2.0, "c": 3.0, "d": 4.0, "a": 1.0})
    assert decisions["a"] is not None and decisions["a"].rung == 1


def test_guard_drops_a_stop_at_the_last_epoch_but_keeps_earlier_ones() -> None:
    last = FinalEpochGuard(HyperbandStopper(Hyperband(min_iter=1, eta=2), "maximize", 1), 1)
    assert _feed(last, {"b": 2.0, "c": 3.0, "d": 4.0, "a": 1.0})["a"] is None
    early = FinalEpochGuard(HyperbandStopper(Hyperband(min_iter=1, eta=2), "maximize", 4), 4)
    assert _feed(early, {"b": 2.0, "c": 3.0, "d": 4.0, "a": 1.0})["a"] is not None


def test_make_stopping_rule_guards_both_rules_when_the_budget_is_known() -> None:
    hb = make_stopping_rule(Hyperband(min_iter=1, eta=2), "maximize", max_epochs=3)
    median = make_stopping_rule(MedianStopping(grace=1, min_samples=1), "minimize", max_epochs=3)
    assert isinstance(hb, FinalEpochGuard) and isinstance(median, FinalEpochGuard)
    assert make_stopping_rule(None, "maximize", max_epochs=3) is None
    assert not isinstance(make_stopping_rule(Hyperband(min_iter=1), "maximize"), FinalEpochGuard)
