"""A worker outlives the database going away and its own sweeps failing, and SIGTERM stops it the
way Ctrl-C does. (Two workers claiming at once: tests/orchestrator/api/test_worker.py; killed
workers and servers: test_worker_processes.py.)"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from orchestrator.runner.heartbeat import LeaseHeld
from orchestrator.storage import SQLStorage
from orchestrator.storage.base import BaseStorage
from orchestrator.storage.retrying import OutagePolicy
from orchestrator.worker import record_failure, stop_on_sigterm, work

GONE = OperationalError("UPDATE", {}, Exception("could not connect to server: Connection refused"))


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rungs.db'}"


def _flaky(monkeypatch: pytest.MonkeyPatch, method: str, failures: int) -> list[str]:
    """``SQLStorage.<method>`` fails ``failures`` times as if the database were down."""
    real, calls = getattr(SQLStorage, method), []

    def flaky(self: SQLStorage, *args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        if len(calls) <= failures:
            raise GONE
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SQLStorage, method, flaky)
    return calls


def _complete(storage: BaseStorage, sweep_id: int, owner: str) -> None:
    assert storage.release_lease(sweep_id, owner, "completed")


def test_the_worker_polls_on_while_the_database_is_unreachable(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweep_id = SQLStorage(url).create_sweep("s", {}, "")
    calls = _flaky(monkeypatch, "claim_next_sweep", failures=2)
    ran = work(url, name="w", poll_seconds=0.01, max_sweeps=1, runner=_complete)
    assert ran == 1 and len(calls) == 3
    assert SQLStorage(url).get_sweep(sweep_id).state == "completed"


def test_a_failure_is_recorded_once_the_database_is_back(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = SQLStorage(url)
    sweep_id = storage.create_sweep("s", {}, "")
    assert storage.acquire_lease(sweep_id, "w", 30)
    waits: list[float] = []
    patience = OutagePolicy(limit_seconds=float("inf"), sleep=waits.append, clock=lambda: 0.0)
    _flaky(monkeypatch, "release_lease", failures=3)
    record_failure(storage, sweep_id, "w", ValueError("the trainer exploded"), patience)
    sweep = storage.get_sweep(sweep_id)
    assert (sweep.state, sweep.error) == ("failed", "ValueError: the trainer exploded")
    assert waits == [0.5, 1.0, 2.0]


def test_recording_a_failure_never_takes_the_worker_down(
    url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    storage = SQLStorage(url)
    sweep_id = storage.create_sweep("s", {}, "")

    def broken(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("a bug in the storage")

    monkeypatch.setattr(storage, "release_lease", broken)
    with caplog.at_level(logging.ERROR, logger="rungs.worker"):
        record_failure(storage, sweep_id, "w", ValueError("boom"))
    assert f"could not record the failure of sweep {sweep_id}" in caplog.text


def test_a_sweep_another_process_took_is_not_marked_failed(url: str) -> None:
    storage = SQLStorage(url)
    sweep_id = storage.create_sweep("s", {}, "")

    def lost_the_race(storage: BaseStorage, sweep_id: int, owner: str) -> None:
        assert storage.acquire_lease(sweep_id, "other", 30, replacing=owner)
        raise LeaseHeld("held by other")

    assert work(url, name="w", poll_seconds=0.01, max_sweeps=1, runner=lost_the_race) == 1
    sweep = storage.get_sweep(sweep_id)
    assert (sweep.state, sweep.worker, sweep.error) == ("running", "other", None)


def test_sigterm_interrupts_like_ctrl_c() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    try:
        stop_on_sigterm()
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs as soon as this returns
    finally:
        signal.signal(signal.SIGTERM, previous)
