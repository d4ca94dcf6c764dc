"""The recorder while the database is away: it retries with backoff and keeps every buffered row
until stored; past the outage limit it raises, still holding them for the next flush."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from orchestrator.runner import tags
from orchestrator.runner.recorder import Recorder
from orchestrator.storage import SQLStorage
from orchestrator.storage.base import BaseStorage
from orchestrator.storage.retrying import DatabaseOutage, OutagePolicy, retrying

GONE = OperationalError("INSERT", {}, Exception("terminating connection: administrator command"))


class _Trial:
    def __init__(self, key: str) -> None:
        self.trial_id, self.error_file = f"ray-{key}", None
        self.config = {"lr": 0.1, tags.KEY: key, tags.VARIANT: "main", tags.SEED: 3}


class Outage:
    """``append_results`` fails while ``down`` is set, until ``back_after`` waits (if given);
    the simulated clock moves with the waits."""

    def __init__(self, storage: SQLStorage, monkeypatch: pytest.MonkeyPatch) -> None:
        self.down, self.now, self.waits = False, 0.0, list[float]()
        self.back_after: int | None = None
        real = storage.append_results

        def append(rows: Any) -> int:
            if self.down:
                raise GONE
            return real(rows)

        monkeypatch.setattr(storage, "append_results", append)

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        if self.back_after is not None and len(self.waits) >= self.back_after:
            self.down = False

    def policy(self, limit: float) -> OutagePolicy:
        return OutagePolicy(limit_seconds=limit, sleep=self.wait, clock=lambda: self.now)


def _recorder(storage: BaseStorage, sweep_id: int) -> Recorder:
    stage_id = storage.upsert_stage(sweep_id, "s1", position=0, kind="search", plan={})
    return Recorder(storage, stage_id, metric="score", goal="maximize", decisions={})


def _report(recorder: Recorder, trial: _Trial, epochs: range) -> None:
    for epoch in epochs:
        result = {"score": float(epoch), "epoch": epoch, "training_iteration": epoch}
        recorder.on_trial_result(0, [], trial, result)


def test_a_flush_waits_out_an_outage_and_stores_each_row_once(
    storage: SQLStorage, make_sweep: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    sweep_id, outage = make_sweep(), Outage(storage, monkeypatch)
    patient = retrying(storage, outage.policy(limit=120))
    recorder, trial = _recorder(patient, sweep_id), _Trial("k")
    recorder.on_trial_start(0, [], trial)
    _report(recorder, trial, range(1, 4))
    outage.down, outage.back_after = True, 3
    recorder.flush()
    assert outage.waits == [0.5, 1.0, 2.0] and recorder.buffer == []
    db_id = storage.get_trials(sweep_id)[0].id
    assert [r.step for r in storage.get_results(db_id)] == [1, 2, 3]


def test_past_the_limit_the_rows_stay_buffered_for_the_next_flush(
    storage: SQLStorage, make_sweep: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    sweep_id, outage = make_sweep(), Outage(storage, monkeypatch)
    recorder = _recorder(retrying(storage, outage.policy(limit=5)), sweep_id)
    trial = _Trial("k")
    recorder.on_trial_start(0, [], trial)
    _report(recorder, trial, range(1, 3))
    outage.down = True
    with pytest.raises(DatabaseOutage, match="RUNGS_DB_OUTAGE_LIMIT_S"):
        recorder.flush()
    assert [row.step for row in recorder.buffer] == [1, 2]
    outage.down = False
    recorder.flush()
    db_id = storage.get_trials(sweep_id)[0].id
    assert [r.step for r in storage.get_results(db_id)] == [1, 2]
