"""Riding out a database outage: a storage that waits and retries instead of failing.

A PostgreSQL restart takes seconds; a sweep runs for hours and must not fail because of it.
:func:`retrying` wraps a storage so that every call that fails because the database cannot be
reached (:func:`is_disconnect`) is tried again, waiting 0.5 s, then twice as long each time up to
5 s, until it succeeds or the outage has lasted longer than ``RUNGS_DB_OUTAGE_LIMIT_S``
(default 120 s). Then :class:`DatabaseOutage` is raised: the sweep fails
with that reason, recorded once the database is back, and can be resumed.

Repeating a call is safe: every write the runner makes is idempotent (results on
``(trial_id, step)``, trials on ``(stage_id, key)``, upserts and states set values), so a call
whose commit reached the server before the connection dropped does no harm when it is repeated.
Only disconnects are retried; any other error is the caller's, at once.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from orchestrator.storage.base import BaseStorage

OUTAGE_LIMIT_ENV = "RUNGS_DB_OUTAGE_LIMIT_S"
DEFAULT_OUTAGE_LIMIT_S = 120.0

log = logging.getLogger("rungs.storage")
_T = TypeVar("_T")


class DatabaseOutage(RuntimeError):
    """The database stayed unreachable for longer than the outage limit."""


def is_disconnect(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached (worth waiting for), rather than
    that a statement was wrong. SQLite's "no such table/column" is an OperationalError too, but
    no wait will fix it."""
    if isinstance(exc, DatabaseOutage):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError):
        return "no such " not in str(exc.orig)
    return isinstance(exc, InterfaceError)


@dataclass(frozen=True)
class OutagePolicy:
    """How long to wait for the database, and how often to try again meanwhile."""

    limit_seconds: float = DEFAULT_OUTAGE_LIMIT_S
    first_wait: float = 0.5
    max_wait: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OutagePolicy:
        env = os.environ if env is None else env
        raw = env.get(OUTAGE_LIMIT_ENV, "").strip()
        try:
            limit = float(raw) if raw else DEFAULT_OUTAGE_LIMIT_S
        except ValueError:
            raise ValueError(
                f"{OUTAGE_LIMIT_ENV} must be a number of seconds, but got {raw!r}"
            ) from None
        return cls(limit_seconds=limit)

    def call(self, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """``function(*args, **kwargs)``, tried again while the database is unreachable."""
        since: float | None = None
        wait = self.first_wait
        while True:
            try:
                return function(*args, **kwargs)
            except Exception as exc:
                if not is_disconnect(exc):
                    raise
                since = self.clock() if since is None else since
                waited = self.clock() - since
                if waited >= self.limit_seconds:
                    raise self._outage(waited, exc) from exc
                log.warning("database unreachable (%s); trying again in %.1f s", _short(exc), wait)
                self.sleep(min(wait, self.limit_seconds - waited))
                wait = min(2 * wait, self.max_wait)

    def _outage(self, waited: float, cause: BaseException) -> DatabaseOutage:
        return DatabaseOutage(
            f"the database was unreachable for {waited:.0f} s, longer than the "
            f"{self.limit_seconds:g} s that {OUTAGE_LIMIT_ENV} allows (last error: "
            f"{_short(cause)}); the sweep can be resumed once the database is back"
        )


def failure_text(exc: BaseException) -> str:
    """``"<type>: <message>"`` (or the type alone) of ``exc``, or of the :class:`DatabaseOutage`
    behind it: Ray Tune
    re-raises a callback's error as a TuneError holding a whole traceback, which would bury the
    one line a user needs."""
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, DatabaseOutage):
        seen = seen.__cause__ or seen.__context__
    shown = seen or exc
    name, message = type(shown).__name__, str(shown)
    return f"{name}: {message}" if message else name


def _short(exc: BaseException) -> str:
    """The first line of the driver's message: SQLAlchemy appends the statement and a link."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0] if lines else ''}"


class RetryingStorage:
    """Every public method of ``inner``, called through ``policy`` (see the module docstring).

    A proxy rather than a subclass: it forwards whatever methods the storage has, present and
    future, and the caller sees it as the storage it wraps (:func:`retrying`)."""

    def __init__(self, inner: BaseStorage, policy: OutagePolicy) -> None:
        self.inner, self.policy = inner, policy

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name.startswith("_") or not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def patiently(*args: Any, **kwargs: Any) -> Any:
            return self.policy.call(attribute, *args, **kwargs)

        return patiently


def retrying(storage: BaseStorage, policy: OutagePolicy | None = None) -> BaseStorage:
    """``storage`` with every call retried through a database outage (once: a retrying storage
    is returned as it is)."""
    if isinstance(storage, RetryingStorage):
        return storage
    return cast(BaseStorage, RetryingStorage(storage, policy or OutagePolicy.from_env()))


def unwrapped(storage: BaseStorage) -> BaseStorage:
    """The storage under :func:`retrying`'s wrapper (itself when it has none): for callers that
    must not wait, such as a lease's heartbeat."""
    return storage.inner if isinstance(storage, RetryingStorage) else storage
