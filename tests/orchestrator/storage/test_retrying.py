"""A storage that waits out a database outage: retries with backoff, gives up after the limit,
never retries a real error. The clock and the sleeps are simulated."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from orchestrator.storage import SQLStorage
from orchestrator.storage.records import ResultRow
from orchestrator.storage.retrying import (
    DatabaseOutage,
    OutagePolicy,
    failure_text,
    is_disconnect,
    retrying,
    unwrapped,
)

GONE = OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))


class FakeTime:
    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, list[float]()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def policy(self, limit: float = 120.0) -> OutagePolicy:
        return OutagePolicy(limit_seconds=limit, sleep=self.sleep, clock=lambda: self.now)


def failing(times: int, error: Exception, result: Any = "ok") -> Callable[[], Any]:
    calls = {"n": 0}

    def call() -> Any:
        calls["n"] += 1
        if calls["n"] <= times:
            raise error
        return result

    return call


def test_an_outage_is_waited_out_with_growing_waits() -> None:
    time = FakeTime()
    assert time.policy().call(failing(6, GONE)) == "ok"
    assert time.sleeps == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_an_outage_longer_than_the_limit_raises_a_clear_error() -> None:
    time = FakeTime()
    with pytest.raises(DatabaseOutage, match=r"unreachable for 10 s.*RUNGS_DB_OUTAGE_LIMIT_S"):
        time.policy(limit=10).call(failing(100, GONE))
    assert sum(time.sleeps) == 10  # the last wait is cut to the limit


@pytest.mark.parametrize(
    "error",
    [
        KeyError("no sweep with id 3"),
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: sweeps")),
    ],
)
def test_errors_no_wait_can_fix_are_raised_at_once(error: Exception) -> None:
    time = FakeTime()
    with pytest.raises(type(error)):
        time.policy().call(failing(1, error))
    assert time.sleeps == [] and not is_disconnect(error)


def test_the_limit_comes_from_the_environment() -> None:
    assert OutagePolicy.from_env({}).limit_seconds == 120
    assert OutagePolicy.from_env({"RUNGS_DB_OUTAGE_LIMIT_S": "7.5"}).limit_seconds == 7.5
    with pytest.raises(ValueError, match="RUNGS_DB_OUTAGE_LIMIT_S must be a number"):
        OutagePolicy.from_env({"RUNGS_DB_OUTAGE_LIMIT_S": "soon"})


def test_a_wrapped_storage_retries_every_method_and_stores_each_row_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = SQLStorage(f"sqlite:///{tmp_path / 'r.db'}")
    sweep = storage.create_sweep("s", {}, "")
    stage = storage.upsert_stage(sweep, "s1", position=0, kind="search", plan={})
    trial = storage.create_trial(stage, variant="main", key="k", config={})
    real_append = storage.append_results
    outage = {"left": 2}

    def append_during_outage(rows: Any) -> int:
        if outage["left"]:
            outage["left"] -= 1
            raise GONE
        return real_append(rows)

    monkeypatch.setattr(storage, "append_results", append_during_outage)
    time = FakeTime()
    patient = retrying(storage, time.policy())
    assert patient.append_results([ResultRow(trial, 1, {"score": 1.0})]) == 1
    assert [r.step for r in patient.get_results(trial)] == [1]
    assert time.sleeps == [0.5, 1.0]
    assert retrying(patient) is patient and unwrapped(patient) is storage
    storage.close()


def test_a_failure_caused_by_an_outage_is_told_as_the_outage() -> None:
    try:
        try:
            raise DatabaseOutage("the database was unreachable for 120 s")
        except DatabaseOutage:
            raise RuntimeError("Traceback (most recent call last): ...")  # noqa: B904 (Ray's way)
    except RuntimeError as wrapped:
        assert failure_text(wrapped) == "DatabaseOutage: the database was unreachable for 120 s"
    assert failure_text(ValueError("bad")) == "ValueError: bad"
    assert failure_text(KeyboardInterrupt()) == "KeyboardInterrupt"
