"""Results: idempotent appends, per-trial reads, the per-sweep cursor."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orchestrator.storage import ResultRow, SQLStorage


@pytest.fixture
def trial_id(storage: SQLStorage, stage_id: int) -> int:
    return storage.create_trial(stage_id, variant="hb", key="t", config={})


def _rows(trial_id: int, steps: range) -> list[ResultRow]:
    return [ResultRow(trial_id, step, {"si_sdr": float(step), "loss": -step}) for step in steps]


def test_append_counts_new_rows_only(storage: SQLStorage, trial_id: int) -> None:
    assert storage.append_results(_rows(trial_id, range(3))) == 3
    assert storage.append_results(_rows(trial_id, range(5))) == 2  # a resume re-reports 0..2
    assert storage.append_results(_rows(trial_id, range(5))) == 0
    assert storage.append_results([]) == 0
    assert [r.step for r in storage.get_results(trial_id)] == [0, 1, 2, 3, 4]


def test_first_copy_wins(storage: SQLStorage, trial_id: int) -> None:
    first, repeat = ResultRow(trial_id, 0, {"v": 1}), ResultRow(trial_id, 0, {"v": 2})
    assert storage.append_results([first, repeat]) == 1
    assert storage.append_results([repeat]) == 0
    assert [r.metrics for r in storage.get_results(trial_id)] == [{"v": 1}]


def test_get_results_ordered_by_step(storage: SQLStorage, trial_id: int) -> None:
    storage.append_results(_rows(trial_id, range(4, 8)))
    storage.append_results(_rows(trial_id, range(0, 4)))
    results = storage.get_results(trial_id)
    assert [r.step for r in results] == list(range(8))
    assert results[2].metrics == {"si_sdr": 2.0, "loss": -2} and results[2].trial_id == trial_id
    assert all(r.created_at.tzinfo is not None for r in results)


def test_trial_without_results(storage: SQLStorage, trial_id: int, sweep_id: int) -> None:
    assert storage.get_results(trial_id) == [] and storage.results_after(sweep_id) == []


def test_metrics_are_plain_json(storage: SQLStorage, trial_id: int) -> None:
    metrics = {
        "loss": float("nan"),
        "si_sdr": np.float32(3.5),
        "curve": np.arange(3),
        "inf": math.inf,
    }
    storage.append_results([ResultRow(trial_id, 0, metrics)])
    (result,) = storage.get_results(trial_id)
    assert result.metrics == {"loss": None, "si_sdr": 3.5, "curve": [0, 1, 2], "inf": None}


def test_unknown_trial_inserts_nothing(storage: SQLStorage, trial_id: int) -> None:
    rows = [*_rows(trial_id, range(2)), ResultRow(555, 0, {}), ResultRow(556, 0, {})]
    with pytest.raises(KeyError, match=r"no trial with id 555 \(unknown trial ids: \[555, 556\]\)"):
        storage.append_results(rows)
    assert storage.get_results(trial_id) == []


def test_results_after_pages_by_id_per_sweep(
    storage: SQLStorage, sweep_id: int, stage_id: int
) -> None:
    a = storage.create_trial(stage_id, variant="hb", key="a", config={})
    b = storage.create_trial(stage_id, variant="hb", key="b", config={})
    other_sweep = storage.create_sweep("other", {}, "")
    other_stage = storage.upsert_stage(other_sweep, "s", position=0, kind="search", plan={})
    other = storage.create_trial(other_stage, variant="hb", key="o", config={})
    for step in range(12):  # interleave trials and sweeps
        storage.append_results(
            [ResultRow(a, step, {}), ResultRow(other, step, {}), ResultRow(b, step, {})]
        )
    seen, cursor = [], 0
    while page := storage.results_after(sweep_id, cursor, limit=5):
        assert len(page) <= 5 and [r.id for r in page] == sorted(r.id for r in page)
        seen.extend(page)
        cursor = page[-1].id
    assert len(seen) == 24 and {r.trial_id for r in seen} == {a, b}
    assert len({r.id for r in seen}) == 24
    assert storage.results_after(sweep_id, cursor) == []
    assert {r.trial_id for r in storage.results_after(other_sweep)} == {other}


def test_latest_result_id_is_the_cursor_after_everything(
    storage: SQLStorage, sweep_id: int, trial_id: int
) -> None:
    assert storage.latest_result_id(sweep_id) == 0
    storage.append_results(_rows(trial_id, range(4)))
    latest = storage.latest_result_id(sweep_id)
    assert latest == max(r.id for r in storage.results_after(sweep_id))
    assert storage.results_after(sweep_id, latest) == []
    storage.append_results(_rows(trial_id, range(4, 6)))
    assert [r.step for r in storage.results_after(sweep_id, latest)] == [4, 5]
    with pytest.raises(KeyError, match="no sweep with id 4242"):
        storage.latest_result_id(4242)
