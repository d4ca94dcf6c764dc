"""Validation as a race: rounds, drops by a paired test, the finalists' seeds, reinvestment."""

from __future__ import annotations

import math

import pytest

from stages.racing import RaceRules, paired_p_worse, race_caveats, race_state

SEEDS = (42, 123, 456)


def test_the_first_round_runs_two_seeds_of_every_pick() -> None:
    state = race_state(["a", "b", "c"], {}, RaceRules(SEEDS, 0.1), "maximize")
    assert state.next_seeds == (42, 123) and state.survivors == ("a", "b", "c")
    assert state.runs_fixed == 9 and not state.dropped


def test_a_confidently_worse_pick_is_dropped_and_the_finalists_run_every_seed() -> None:
    scores = {
        "a": {42: 4.0, 123: 4.2},
        "b": {42: 3.0, 123: 3.1},  # 1 dB worse on both seeds, nearly the same gap: p small
        "c": {42: 4.1, 123: 3.9},
    }
    state = race_state(["a", "b", "c"], scores, RaceRules(SEEDS, 0.1), "maximize")
    assert set(state.dropped) == {"b"} and state.dropped["b"].best == "a"
    assert state.dropped["b"].seeds == 2 and state.dropped["b"].p < 0.1
    assert state.survivors == ("a", "c") and state.next_seeds == (456,)
    done = {**scores, "a": {**scores["a"], 456: 4.1}, "c": {**scores["c"], 456: 4.0}}
    final = race_state(["a", "b", "c"], done, RaceRules(SEEDS, 0.1), "maximize")
    assert final.over and final.survivors == ("a", "c")
    assert final.runs == 8 and final.to_dict()["runs_saved"] == 1


def test_nothing_is_dropped_without_evidence() -> None:
    tied = {"a": {42: 4.0, 123: 3.8}, "b": {42: 3.9, 123: 3.9}}
    state = race_state(["a", "b"], tied, RaceRules(SEEDS, 0.1), "maximize")
    assert not state.dropped and state.next_seeds == (456,)


def test_minimize_drops_the_larger_values() -> None:
    scores = {"a": {42: 0.10, 123: 0.11}, "b": {42: 0.30, 123: 0.32}}
    state = race_state(["a", "b"], scores, RaceRules(SEEDS, 0.1), "minimize")
    assert set(state.dropped) == {"b"} and state.survivors == ("a",)
    # a lone finalist still runs every configured seed
    assert state.next_seeds == (456,)


def test_reinvest_gives_saved_runs_to_the_finalists_as_new_seeds() -> None:
    scores = {
        "a": {42: 4.0, 123: 4.2, 456: 4.1},
        "b": {42: 3.0, 123: 3.1},
        "c": {42: 2.0, 123: 2.3},
        "d": {42: 4.05, 123: 4.1, 456: 4.0},
    }
    picks = ["a", "b", "c", "d"]
    rules = RaceRules(SEEDS, 0.1, reinvest=True)
    state = race_state(picks, scores, rules, "maximize")
    # 8 + 2 runs done of the fixed 12: the 2 saved runs buy one more seed for both finalists
    assert set(state.dropped) == {"b", "c"} and state.survivors == ("a", "d")
    assert state.next_seeds == (457,) and state.runs == 12 and state.runs_fixed == 12
    scores["a"][457], scores["d"][457] = 4.0, 4.0
    done = race_state(picks, scores, rules, "maximize")
    assert done.over and done.extra_seeds == (457,) and done.to_dict()["runs_saved"] == 0
    kept = race_state(picks, scores, RaceRules(SEEDS, 0.1), "maximize")
    assert kept.over and kept.to_dict()["runs_saved"] == 2  # without reinvest: saved


def test_failed_runs_count_as_run_but_not_as_evidence() -> None:
    scores = {"a": {42: 4.0, 123: math.nan}, "b": {42: 3.0, 123: 3.1}}
    state = race_state(["a", "b"], scores, RaceRules(SEEDS, 0.1), "maximize")
    assert not state.dropped and state.next_seeds == (456,)
    assert math.isnan(paired_p_worse(scores["a"], scores["b"], "maximize"))


def test_rules_and_caveats() -> None:
    with pytest.raises(ValueError, match="at least 2 seeds"):
        RaceRules((42,), 0.1)
    with pytest.raises(ValueError, match="alpha must be in"):
        RaceRules(SEEDS, 1.0)
    scores = {"a": {42: 4.0, 123: 4.2}, "b": {42: 3.0, 123: 3.1}}
    state = race_state(["a", "b"], scores, RaceRules(SEEDS, 0.1), "maximize")
    text = " ".join(race_caveats(state))
    assert "b left the race after 2 seeds" in text and "without correction" in text
