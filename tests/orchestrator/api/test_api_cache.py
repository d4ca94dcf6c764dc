"""The summaries cache: bounded staleness for totals, never for a sweep's state."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from orchestrator.api.cache import TTLCache
from orchestrator.storage import SQLStorage
from tests.orchestrator.api.conftest import QUICK_SPEC


def test_a_key_is_computed_once_while_fresh_and_again_when_disabled() -> None:
    calls: list[int] = []
    cache = TTLCache(seconds=60)
    assert [cache.get("k", lambda: calls.append(1) or len(calls)) for _ in range(3)] == [1, 1, 1]
    assert cache.get("other", lambda: 42) == 42
    off = TTLCache(seconds=0)
    assert [off.get("k", lambda: calls.append(1) or len(calls)) for _ in range(2)] == [2, 3]


class AskCountingLock:
    """A lock that counts the threads that have asked for it, holding it or blocked on it."""

    def __init__(self, changed: threading.Condition) -> None:
        self._lock, self._changed, self.asked = threading.Lock(), changed, 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        with self._changed:
            self.asked += 1
            self._changed.notify_all()
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def test_concurrent_misses_compute_once() -> None:
    """The first computation blocks until every thread is inside ``get`` at once: either asking
    for the key's lock (single flight) or computing too (no single flight), so the threads cannot
    miss the race by arriving after the value was stored."""
    cache, changed, n_threads = TTLCache(seconds=60), threading.Condition(), 4
    lock = AskCountingLock(changed)
    cache._lock_for = lambda key: lock  # type: ignore[method-assign]
    calls: list[int] = []

    def slow() -> int:
        with changed:
            calls.append(1)
            changed.notify_all()
            everyone_in = changed.wait_for(
                lambda: n_threads in (lock.asked, len(calls)), timeout=10
            )
        assert everyone_in, f"only {lock.asked} threads asked for the lock, {len(calls)} computed"
        return 7

    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get("k", slow)))
        for _ in range(n_threads)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == [7] * n_threads and calls == [1]


def test_a_state_change_shows_at_once_despite_the_cache(
    client: TestClient, storage: SQLStorage
) -> None:
    sweep_id = storage.create_sweep("s", QUICK_SPEC, "name: s\n")
    assert client.get("/api/sweeps").json()[0]["state"] == "queued"
    assert client.get(f"/api/sweeps/{sweep_id}").json()["state"] == "queued"
    client.post(f"/api/sweeps/{sweep_id}/cancel")
    assert client.get("/api/sweeps").json()[0]["state"] == "cancelled"
    assert client.get(f"/api/sweeps/{sweep_id}").json()["state"] == "cancelled"


def test_an_expired_value_is_served_at_once_while_one_thread_refreshes_it() -> None:
    cache, release = TTLCache(seconds=0.05), threading.Event()
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        if len(calls) > 1:  # the refresh: hold it until the test has seen the stale value
            release.wait(timeout=10)
        return len(calls)

    assert cache.get_or_refresh("k", compute, max_stale=60) == 1
    time.sleep(0.06)  # expired, not yet too stale
    assert [cache.get_or_refresh("k", compute, max_stale=60) for _ in range(3)] == [1, 1, 1]
    assert calls == [1, 1]  # one refresh running, however many readers saw the stale value
    release.set()
    deadline = time.monotonic() + 10
    while cache.get_or_refresh("k", compute, max_stale=60) != 2:
        assert time.monotonic() < deadline, "the refreshed value never arrived"
        time.sleep(0.01)


def test_a_value_past_max_stale_is_recomputed_on_the_request() -> None:
    cache = TTLCache(seconds=0.01)
    calls: list[int] = []
    assert cache.get_or_refresh("k", lambda: calls.append(1) or len(calls), max_stale=0.02) == 1
    time.sleep(0.03)
    assert cache.get_or_refresh("k", lambda: calls.append(1) or len(calls), max_stale=0.02) == 2


def test_a_failed_refresh_keeps_the_stale_value(caplog: pytest.LogCaptureFixture) -> None:
    cache = TTLCache(seconds=0.01)
    assert cache.get_or_refresh("k", lambda: 1, max_stale=60) == 1
    time.sleep(0.02)

    def broken() -> int:
        raise RuntimeError("database gone")

    assert cache.get_or_refresh("k", broken, max_stale=60) == 1
    deadline = time.monotonic() + 10
    while "refreshing the cached" not in caplog.text:
        assert time.monotonic() < deadline, "the failed refresh was not logged"
        time.sleep(0.01)

    def repaired() -> int:
        return 3

    # The next requests still get the stale value, and one of them retries the refresh: once the
    # failed refresh has let go of the key, the repaired computation's value arrives.
    deadline = time.monotonic() + 10
    while (value := cache.get_or_refresh("k", repaired, max_stale=60)) != 3:
        assert value == 1, value
        assert time.monotonic() < deadline, "the failed refresh was never retried"
        time.sleep(0.01)
