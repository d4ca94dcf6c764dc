"""Aggregates the dashboard reads in one query: results of many trials, totals per status."""

from __future__ import annotations

import pytest

from orchestrator.storage import ResultRow, SQLStorage


def test_results_for_trials_groups_and_orders(storage: SQLStorage, stage_id: int) -> None:
    a = storage.create_trial(stage_id, variant="hb", key="a", config={})
    b = storage.create_trial(stage_id, variant="hb", key="b", config={})
    storage.append_results([ResultRow(a, s, {"v": s}) for s in (2, 0, 1)])
    storage.append_results([ResultRow(b, 0, {"v": 10})])
    got = storage.get_results_for_trials([b, a, 999_999])
    assert [r.step for r in got[a]] == [0, 1, 2]
    assert [r.metrics["v"] for r in got[b]] == [10]
    assert got[999_999] == []
    assert storage.get_results_for_trials([]) == {}


def test_trial_totals(storage: SQLStorage, sweep_id: int, stage_id: int) -> None:
    assert storage.trial_totals(sweep_id) == {"by_status": {}, "compute_seconds": 0.0}
    for key, status, seconds in (
        ("x", "completed", 1.5),
        ("y", "completed", 2.0),
        ("z", "failed", 0.25),
    ):
        trial = storage.create_trial(stage_id, variant="hb", key=key, config={})
        storage.update_trial(trial, status=status, compute_seconds=seconds)
    storage.create_trial(stage_id, variant="hb", key="r", config={})  # running, no seconds yet
    totals = storage.trial_totals(sweep_id)
    assert totals["by_status"] == {"completed": 2, "failed": 1, "running": 1}
    assert totals["compute_seconds"] == pytest.approx(3.75)


def test_trial_totals_unknown_sweep(storage: SQLStorage) -> None:
    with pytest.raises(KeyError, match="4242"):
        storage.trial_totals(4242)
