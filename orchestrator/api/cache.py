"""A small per-app TTL memo for the summaries every open dashboard polls.

Fifty dashboards on one running sweep ask the same questions every few seconds; the answers
(trial counts, compute time, a stage's curves) cost one query per trial. Recomputing them at
most once per ``seconds`` per key bounds that work by the number of sweeps, not of viewers.
Only answers that may be a little old are cached: keys carry whatever must never be stale
(a sweep's state), and the curves' cursor is read before the curves, so a client that
continues with ``results?after=cursor`` still sees every row.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("rungs.api")


class TTLCache:
    """Thread-safe memo: ``get(key, compute)`` returns a value at most ``seconds`` old.

    Concurrent misses on one key compute once (the others wait for it), so a burst of
    identical requests costs one computation. ``seconds <= 0`` disables caching.
    """

    def __init__(self, seconds: float, max_entries: int = 512) -> None:
        self.seconds, self.max_entries = seconds, max_entries
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        if self.seconds <= 0:
            return compute()
        hit = self._fresh(key)
        if hit is not None:
            return hit[1]  # type: ignore[no-any-return]
        with self._lock_for(key):
            hit = self._fresh(key)  # another thread may have computed it meanwhile
            if hit is not None:
                return hit[1]  # type: ignore[no-any-return]
            value = compute()
            self._store(key, value)
            return value

    def get_or_refresh(self, key: Hashable, compute: Callable[[], T], max_stale: float) -> T:
        """Stale-while-revalidate: a value older than ``seconds`` (but at most ``max_stale``) is
        returned at once while one background thread recomputes it.

        For answers that are expensive (a stage's curves: one query and a JSON document of a few
        hundred kB) and safe to serve a little old: recomputing them on the request path made
        every request queued behind it wait, on every expiry, under load."""
        if self.seconds <= 0:
            return compute()
        with self._guard:
            hit = self._values.get(key)
        if hit is None or time.monotonic() - hit[0] >= max_stale:
            return self.get(key, compute)
        if time.monotonic() - hit[0] >= self.seconds:
            self._refresh_in_background(key, compute)
        return hit[1]  # type: ignore[no-any-return]

    def _refresh_in_background(self, key: Hashable, compute: Callable[[], Any]) -> None:
        lock = self._lock_for(key)
        if not lock.acquire(blocking=False):  # a refresh (or a first computation) is running
            return

        def refresh() -> None:
            try:
                self._store(key, compute())
            except Exception:  # the stale value stays; the next request retries (and may raise)
                log.exception("refreshing the cached %r failed", key)
            finally:
                lock.release()

        threading.Thread(target=refresh, name="rungs-cache-refresh", daemon=True).start()

    def _fresh(self, key: Hashable) -> tuple[float, Any] | None:
        with self._guard:
            hit = self._values.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.seconds:
            return hit
        return None

    def _lock_for(self, key: Hashable) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _store(self, key: Hashable, value: Any) -> None:
        with self._guard:
            if len(self._values) >= self.max_entries:  # stale keys of finished sweeps: start over
                self._values.clear()
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            self._values[key] = (time.monotonic(), value)
