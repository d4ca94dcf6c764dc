"""Sweep leases: which process runs a sweep, and until when, kept on the sweep's row.

A lease is two columns of the sweep: ``worker`` (the owner: a worker's name, or ``host:pid`` of a
``rungs run``) and ``lease_expires_at``. Whoever runs a sweep holds its lease and renews it
(:mod:`orchestrator.runner.heartbeat`); a lease that was not renewed in time has expired, and
its sweep may be taken by someone else:

* a worker claims the oldest sweep that is ``queued`` with no live lease, or ``running`` with an
  expired one (its runner died: ``kill -9``, a lost machine), and continues it as a resume would;
* a resume (``rungs resume``) takes a sweep whose lease is free, or its own; the API's resume
  re-queues a sweep, a running one only once its lease expired;
* a live lease keeps a re-queued sweep from starting while its old runner still stops (cancel
  then resume), and the runner writes its final state only while the sweep is still ``running``
  under its own name (a user may have cancelled or re-queued it meanwhile).

Every change is one conditional ``UPDATE ... WHERE <the lease allows it>`` whose row count says
whether it happened: atomic on SQLite (one writer at a time, ``BEGIN IMMEDIATE``) and on
PostgreSQL (an UPDATE re-checks its condition on the row it waited for). Time is the database
server's clock on PostgreSQL (``now()``), so workers on several machines need not agree on it;
SQLite is a file on one machine, whose clock is the only one.

A running sweep without a lease (``lease_expires_at`` NULL) is one nobody holds a lease on: a row
written before leases existed, or a ``rungs run`` about to take it. Workers leave it alone (it may
be live), and so does the API's resume; ``rungs resume`` may take it.
"""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, and_, func, literal, or_, select, update
from sqlalchemy.orm import Session

from orchestrator.storage.base import BaseStorage
from orchestrator.storage.models import Sweep, Timestamp
from orchestrator.storage.records import SweepRecord
from stages.states import SweepState

RUNNING = SweepState.RUNNING.value
QUEUED = SweepState.QUEUED.value


def _values(states: tuple[SweepState, ...]) -> list[str]:
    return [s.value for s in states]


def _update() -> Any:
    """An UPDATE of sweeps that leaves the session's loaded objects alone (they are refreshed
    when needed): evaluating the lease conditions in Python would compare naive SQLite times."""
    return update(Sweep).execution_options(synchronize_session=False)


def _matched(result: Any) -> int:
    """How many rows an UPDATE matched."""
    cursor: CursorResult[Any] = result
    return cursor.rowcount


class SQLLeases(BaseStorage):
    """The lease methods of :class:`~orchestrator.storage.sql.SQLStorage`, which provides the
    transactions they run in."""

    @property
    @abc.abstractmethod
    def _is_sqlite(self) -> bool:
        """Whether the database is SQLite (else PostgreSQL)."""

    @abc.abstractmethod
    def _session(self, write: bool = False) -> AbstractContextManager[Session]:
        """One transaction, committed on success."""

    # -- the clock --------------------------------------------------------------------------
    def _now(self) -> ColumnElement[Any]:
        if self._is_sqlite:
            return literal(datetime.now(UTC), Timestamp)
        return func.now()

    def _expiry(self, seconds: float) -> ColumnElement[Any]:
        if self._is_sqlite:
            return literal(datetime.now(UTC) + timedelta(seconds=seconds), Timestamp)
        return func.now() + timedelta(seconds=seconds)

    def _free(self) -> ColumnElement[bool]:
        """Nobody holds a live lease."""
        return or_(Sweep.lease_expires_at.is_(None), Sweep.lease_expires_at < self._now())

    def _change(self, condition: ColumnElement[bool], **values: Any) -> bool:
        """One conditional UPDATE in its own transaction; whether a row matched."""
        with self._session(write=True) as session:
            result = session.execute(_update().where(condition).values(**values))
            return bool(_matched(result))

    # -- the contract -----------------------------------------------------------------------
    def claim_next_sweep(self, worker: str, lease_seconds: float) -> SweepRecord | None:
        """The oldest sweep that is queued with no live lease, or running with an expired one,
        now running under ``worker``'s new lease; None when there is none.

        PostgreSQL: ``FOR UPDATE SKIP LOCKED`` (a second worker takes the next sweep instead of
        waiting); SQLite: the ``BEGIN IMMEDIATE`` write lock serialises claimers.
        """
        queued = and_(Sweep.state == QUEUED, self._free())
        orphaned = and_(Sweep.state == RUNNING, Sweep.lease_expires_at < self._now())
        claimable = or_(queued, orphaned)
        pick = select(Sweep).where(claimable).order_by(Sweep.id).limit(1)
        with self._session(write=True) as session:
            sweep = session.scalars(pick.with_for_update(skip_locked=True)).first()
            if sweep is None:
                return None
            claim = _update().where(Sweep.id == sweep.id, claimable)
            values = self._taken(worker, lease_seconds)
            if not _matched(session.execute(claim.values(**values))):
                return None
            session.refresh(sweep)
            return sweep.to_record()

    def _taken(self, owner: str, lease_seconds: float) -> dict[str, Any]:
        return {
            "state": RUNNING,
            "worker": owner,
            "lease_expires_at": self._expiry(lease_seconds),
            "error": None,
            "updated_at": datetime.now(UTC),
        }

    def acquire_lease(
        self, sweep_id: int, owner: str, lease_seconds: float, *, replacing: str | None = None
    ) -> bool:
        """Mark the sweep running under ``owner``'s lease, if its state may resume (not
        completed) and its lease is free, already ``owner``'s, or ``replacing``'s (a holder the
        caller knows is dead). False otherwise; nothing changes then."""
        holder = [Sweep.worker == owner, self._free()]
        if replacing is not None:
            holder.append(Sweep.worker == replacing)
        resumable = Sweep.state.in_(_values(SweepState.leading_to(SweepState.RUNNING)))
        condition = and_(Sweep.id == sweep_id, resumable, or_(*holder))
        return self._change(condition, **self._taken(owner, lease_seconds))

    def renew_lease(self, sweep_id: int, owner: str, lease_seconds: float) -> bool:
        """Extend ``owner``'s lease; False when the sweep is no longer running under it
        (cancelled, re-queued, taken over): its runner must stop."""
        mine = and_(Sweep.id == sweep_id, Sweep.worker == owner, Sweep.state == RUNNING)
        return self._change(mine, lease_expires_at=self._expiry(lease_seconds))

    def release_lease(
        self, sweep_id: int, owner: str, state: str | None = None, error: str | None = None
    ) -> bool:
        """Give ``owner``'s lease back. With ``state``, end the sweep in it (and store
        ``error``), only while it is still running under ``owner``. Returns whether the state
        was written."""
        ours = and_(Sweep.id == sweep_id, Sweep.worker == owner)
        with self._session(write=True) as session:
            written = 0
            if state is not None:
                final = SweepState.check(state).value
                ending = _update().where(ours, Sweep.state == RUNNING)
                values = {"state": final, "error": error, "updated_at": datetime.now(UTC)}
                written = _matched(session.execute(ending.values(**values)))
            session.execute(_update().where(ours).values(lease_expires_at=None))
            return bool(written)

    def requeue_sweep(self, sweep_id: int) -> bool:
        """Queue the sweep for a worker again (the API's resume): from a state that may be
        re-queued, and from running only once its lease expired (without a lease, who runs it
        is unknown). A live lease of a runner that is still stopping is kept: the sweep waits in
        the queue until it is given back."""
        requeueable = Sweep.state.in_(_values(SweepState.leading_to(SweepState.QUEUED)))
        not_live = or_(Sweep.state != RUNNING, Sweep.lease_expires_at < self._now())
        condition = and_(Sweep.id == sweep_id, requeueable, not_live)
        return self._change(condition, state=QUEUED, error=None, updated_at=datetime.now(UTC))
