"""get_trials/count_trials: filters, ordering with NULLs last, paging."""

from __future__ import annotations

import pytest

from orchestrator.storage import SQLStorage

# (stage, variant, status, best_value, epochs, compute_seconds)
TRIALS = [
    ("s1", "hb", "completed", 5.0, 9, 30.0),
    ("s1", "hb", "early_stopped", None, 2, 5.0),
    ("s1", "median", "completed", 9.0, 9, 40.0),
    ("s2", "hb", "running", 1.0, 4, 12.0),
    ("s2", "median", "failed", None, 0, 1.0),
    ("s2", "median", "completed", 7.0, 9, 35.0),
]


@pytest.fixture
def trial_ids(storage: SQLStorage, sweep_id: int) -> list[int]:
    stages = {
        name: storage.upsert_stage(sweep_id, name, position=i, kind="search", plan={})
        for i, name in enumerate(("s1", "s2"))
    }
    ids = []
    for n, (stage, variant, status, best, epochs, seconds) in enumerate(TRIALS):
        trial_id = storage.create_trial(
            stages[stage], variant=variant, key=f"k{n}", config={"n": n}
        )
        storage.update_trial(
            trial_id, status=status, best_value=best, epochs=epochs, compute_seconds=seconds
        )
        ids.append(trial_id)
    return ids


def _keys(trials: list) -> list[str]:
    return [trial.key for trial in trials]


def test_filters(storage: SQLStorage, sweep_id: int, trial_ids: list[int]) -> None:
    assert _keys(storage.get_trials(sweep_id)) == ["k0", "k1", "k2", "k3", "k4", "k5"]
    assert _keys(storage.get_trials(sweep_id, stage="s2")) == ["k3", "k4", "k5"]
    assert _keys(storage.get_trials(sweep_id, variant="median")) == ["k2", "k4", "k5"]
    assert _keys(storage.get_trials(sweep_id, status="completed")) == ["k0", "k2", "k5"]
    assert _keys(storage.get_trials(sweep_id, status=["failed", "running"])) == ["k3", "k4"]
    assert _keys(storage.get_trials(sweep_id, stage="s1", variant="hb", status="completed")) == [
        "k0"
    ]
    assert storage.get_trials(sweep_id, stage="nope") == []
    assert {trial.stage_name for trial in storage.get_trials(sweep_id, stage="s2")} == {"s2"}


def test_other_sweeps_are_not_listed(
    storage: SQLStorage, sweep_id: int, trial_ids: list[int]
) -> None:
    other = storage.create_sweep("other", {}, "")
    stage = storage.upsert_stage(other, "s1", position=0, kind="search", plan={})
    storage.create_trial(stage, variant="hb", key="x", config={})
    assert len(storage.get_trials(sweep_id)) == 6 and _keys(storage.get_trials(other)) == ["x"]


def test_count_matches_filters(storage: SQLStorage, sweep_id: int, trial_ids: list[int]) -> None:
    assert storage.count_trials(sweep_id) == 6
    assert storage.count_trials(sweep_id, stage="s1") == 3
    assert storage.count_trials(sweep_id, variant="hb", status=("completed", "running")) == 2
    assert storage.count_trials(sweep_id, stage="s2", variant="median", status="failed") == 1
    assert storage.count_trials(sweep_id, stage="nope") == 0


def test_order_by_best_value_puts_nulls_last(
    storage: SQLStorage, sweep_id: int, trial_ids: list[int]
) -> None:
    ascending = storage.get_trials(sweep_id, order_by="best_value")
    descending = storage.get_trials(sweep_id, order_by="best_value", descending=True)
    assert _keys(ascending) == ["k3", "k0", "k5", "k2", "k1", "k4"]
    assert _keys(descending) == ["k2", "k5", "k0", "k3", "k1", "k4"]


def test_order_ties_break_by_id(storage: SQLStorage, sweep_id: int, trial_ids: list[int]) -> None:
    assert _keys(storage.get_trials(sweep_id, order_by="epochs", descending=True)) == [
        "k0",
        "k2",
        "k5",
        "k3",
        "k1",
        "k4",
    ]
    assert _keys(storage.get_trials(sweep_id, order_by="compute_seconds"))[:2] == ["k4", "k1"]
    assert _keys(storage.get_trials(sweep_id, order_by="id", descending=True))[0] == "k5"
    assert len(storage.get_trials(sweep_id, order_by="started_at")) == 6


def test_pages_cover_every_trial_once(
    storage: SQLStorage, sweep_id: int, trial_ids: list[int]
) -> None:
    pages = [
        storage.get_trials(sweep_id, order_by="best_value", descending=True, limit=4, offset=offset)
        for offset in (0, 4, 8)
    ]
    assert [len(page) for page in pages] == [4, 2, 0]
    assert _keys(pages[0] + pages[1]) == _keys(
        storage.get_trials(sweep_id, order_by="best_value", descending=True)
    )


def test_unknown_order_is_refused(storage: SQLStorage, sweep_id: int) -> None:
    with pytest.raises(ValueError, match="order_by='loss'"):
        storage.get_trials(sweep_id, order_by="loss")
