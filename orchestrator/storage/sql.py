"""``SQLStorage``: the one :class:`BaseStorage` implementation, on SQLite or PostgreSQL.

How the contract of :mod:`orchestrator.storage.base` is kept:

* every public method is one short transaction and returns detached records (never ORM
  objects); writes go through an ORM ``Session``, reads select plain columns on a connection
  (building ORM objects was most of a dashboard request's time under load);
* SQLite runs in WAL mode with a busy timeout, and every writing method starts with
  ``BEGIN IMMEDIATE``: it takes the database's single write lock up front, so a transaction that
  reads and then writes can never fail half-way with ``SQLITE_BUSY`` when another process wrote
  in between (what a deferred ``BEGIN`` risks in WAL mode);
* PostgreSQL uses row locks (``FOR UPDATE SKIP LOCKED`` to claim a sweep) and
  ``INSERT ... ON CONFLICT`` for the idempotent inserts;
* the lease methods (claim, acquire, renew, release, re-queue) come from
  :class:`~orchestrator.storage.leases.SQLLeases`, one conditional UPDATE each;
* JSON documents are written without NaN or infinity (see :func:`settings.plain_json`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session

from orchestrator.storage.leases import SQLLeases
from orchestrator.storage.migrate import upgrade_schema
from orchestrator.storage.models import (
    Base,
    Result,
    Stage,
    Sweep,
    Trial,
    result_record,
    stage_record,
    sweep_record,
    trial_record,
)
from orchestrator.storage.records import (
    ResultRecord,
    ResultRow,
    StageRecord,
    SweepRecord,
    TrialRecord,
)
from orchestrator.storage.settings import (
    SQLITE_BEGIN_OPTION,
    create_storage_engine,
    is_sqlite_memory,
)
from stages.states import StageState, SweepState, TrialState

TRIAL_ORDER_COLUMNS = {
    "id": Trial.id,
    "best_value": Trial.best_value,
    "epochs": Trial.epochs,
    "started_at": Trial.started_at,
    "compute_seconds": Trial.compute_seconds,
}
SWEEPS, STAGES, TRIALS, RESULTS = (
    Sweep.__table__,
    Stage.__table__,
    Trial.__table__,
    Result.__table__,
)
# First key of PostgreSQL's two-key advisory locks taken by Rungs ("RUNG"); the second is a
# sweep id (results) or 0 (schema creation).
_LOCK_NAMESPACE = 0x52554E47


# -- helpers ------------------------------------------------------------------------------------
def _now() -> datetime:
    return datetime.now(UTC)


def _finite(value: float | None) -> float | None:
    """NaN/inf metric values are stored as NULL: "no usable value" on both backends."""
    return value if value is None or math.isfinite(value) else None


def _statuses(status: str | Sequence[str]) -> list[str]:
    return [str(status)] if isinstance(status, str) else [str(s) for s in status]


def _trial_filters(
    sweep_id: int,
    stage: str | None,
    variant: str | None,
    status: str | Sequence[str] | None,
) -> list[ColumnElement[bool]]:
    filters = [Trial.sweep_id == sweep_id]
    if stage is not None:
        filters.append(Stage.name == stage)
    if variant is not None:
        filters.append(Trial.variant == variant)
    if status is not None:
        filters.append(Trial.status.in_(_statuses(status)))
    return filters


def _order_column(order_by: str, descending: bool) -> ColumnElement[Any]:
    if order_by not in TRIAL_ORDER_COLUMNS:
        raise ValueError(
            f"order_by must be one of {sorted(TRIAL_ORDER_COLUMNS)}, but got {order_by=}"
        )
    column = TRIAL_ORDER_COLUMNS[order_by]
    return (column.desc() if descending else column.asc()).nulls_last()


class SQLStorage(SQLLeases):
    """:class:`BaseStorage` on any SQLAlchemy URL; tested on SQLite and PostgreSQL.

    Create one instance per process (engines and their pools must not cross a ``fork``); one
    instance is safe to share between threads.
    """

    def __init__(self, url: str, *, create_tables: bool = True) -> None:
        self._dialect = make_url(url).get_backend_name()
        if self._dialect not in ("sqlite", "postgresql"):
            shown = make_url(url).render_as_string(hide_password=True)
            raise ValueError(f"Rungs stores sweeps in SQLite or PostgreSQL, but got url={shown!r}")
        self.url = url
        self._engine = create_storage_engine(url)
        # One in-memory SQLite connection is shared by every thread: take turns.
        self._turn = threading.RLock() if is_sqlite_memory(url) else None
        if create_tables:
            self.create_tables()

    def __repr__(self) -> str:
        return f"SQLStorage({make_url(self.url).render_as_string(hide_password=True)!r})"

    @property
    def _is_sqlite(self) -> bool:
        return self._dialect == "sqlite"

    def close(self) -> None:
        """Close the pooled connections (the instance can still be used: it reconnects)."""
        self._engine.dispose()

    def create_tables(self) -> None:
        """Create the schema, or upgrade an older one (:mod:`.migrate`: a database newer than
        this release raises ``SchemaTooNew``); safe when several processes start at once."""
        upgrade_schema(self._engine)

    @contextmanager
    def _session(self, write: bool = False) -> Iterator[Session]:
        """One transaction, committed on success; SQLite writers take the write lock first."""
        with (
            self._turn or nullcontext(),
            Session(self._engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            if write and self._is_sqlite:
                session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            yield session

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """One read transaction on a pooled connection: consistent across its queries."""
        with (
            self._turn or nullcontext(),
            self._engine.connect() as connection,
            connection.begin(),
        ):
            yield connection

    def _insert(self, table: type[Base]) -> Any:
        """The dialect's INSERT, which has ``on_conflict_do_nothing/do_update``."""
        dialect_insert = sqlite.insert if self._is_sqlite else postgresql.insert
        return dialect_insert(table)

    # -- sweeps ---------------------------------------------------------------------------------
    def create_sweep(
        self,
        name: str,
        spec: dict[str, Any],
        yaml_text: str,
        source_path: str | None = None,
        state: str = SweepState.QUEUED,
    ) -> int:
        state = SweepState.check(state).value  # the plain string, whatever the caller passed
        now = _now()
        sweep = Sweep(
            name=name,
            state=state,
            spec=spec,
            yaml_text=yaml_text,
            source_path=source_path,
            created_at=now,
            updated_at=now,
        )
        with self._session(write=True) as session:
            session.add(sweep)
            session.flush()
            return sweep.id

    def get_sweep(self, sweep_id: int) -> SweepRecord:
        query = select(SWEEPS).where(SWEEPS.c.id == sweep_id)
        with self._read() as connection:
            row = connection.execute(query).first()
        if row is None:
            raise KeyError(f"no sweep with id {sweep_id}")
        return sweep_record(row)

    def list_sweeps(self) -> list[SweepRecord]:
        """Oldest first."""
        with self._read() as connection:
            rows = connection.execute(select(SWEEPS).order_by(SWEEPS.c.id)).all()
        return [sweep_record(row) for row in rows]

    def set_sweep_state(self, sweep_id: int, state: str, error: str | None = None) -> None:
        """``error`` describes the new state: it replaces the old one (None clears it)."""
        state = SweepState.check(state).value
        with self._session(write=True) as session:
            sweep = _get(session, Sweep, sweep_id)
            sweep.state, sweep.error, sweep.updated_at = state, error, _now()

    # -- stages ---------------------------------------------------------------------------------
    def upsert_stage(
        self,
        sweep_id: int,
        name: str,
        *,
        position: int,
        kind: str,
        plan: dict[str, Any],
        space: dict[str, Any] | None = None,
        state: str = StageState.PENDING,
    ) -> int:
        state = StageState.check(state).value
        values = {"position": position, "kind": kind, "plan": plan, "space": space, "state": state}
        stmt = self._insert(Stage).values(sweep_id=sweep_id, name=name, **values)
        stmt = stmt.on_conflict_do_update(index_elements=["sweep_id", "name"], set_=values)
        with self._session(write=True) as session:
            _get(session, Sweep, sweep_id)
            return int(session.execute(stmt.returning(Stage.id)).scalar_one())

    def set_stage_state(
        self, stage_id: int, state: str, summary: dict[str, Any] | None = None
    ) -> None:
        """Entering running stamps started_at (once); a final state stamps finished_at.
        ``summary`` replaces the stored one when given."""
        state = StageState.check(state).value
        with self._session(write=True) as session:
            stage = _get(session, Stage, stage_id)
            stage.state = state
            if state == StageState.RUNNING and stage.started_at is None:
                stage.started_at = _now()
            if StageState(state).is_final:
                stage.finished_at = _now()
            if summary is not None:
                stage.summary = summary

    def get_stages(self, sweep_id: int) -> list[StageRecord]:
        query = (
            select(STAGES)
            .where(STAGES.c.sweep_id == sweep_id)
            .order_by(STAGES.c.position, STAGES.c.id)
        )
        with self._read() as connection:
            stages = [stage_record(row) for row in connection.execute(query)]
            if not stages:
                _require(connection, Sweep, sweep_id)
            return stages

    # -- trials ---------------------------------------------------------------------------------
    def create_trial(
        self,
        stage_id: int,
        *,
        variant: str,
        key: str,
        config: dict[str, Any],
        seed: int = 0,
        name: str | None = None,
        status: str = TrialState.RUNNING,
    ) -> int:
        """Idempotent on ``(stage_id, key)``: an existing trial's id is returned unchanged.

        ``name`` defaults to ``<stage>-<variant>-<n>``, n counting that variant's trials from 1.
        A running trial gets started_at now, a final one finished_at too.
        """
        status = TrialState.check(status).value
        with self._session(write=True) as session:
            stage = _get(session, Stage, stage_id)
            existing = _trial_id(session, stage_id, key)
            if existing is not None:
                return existing
            values = self._new_trial(session, stage, variant, key, config, seed, name, status)
            stmt = self._insert(Trial).values(**values)
            stmt = stmt.on_conflict_do_nothing(index_elements=["stage_id", "key"])
            new_id = session.execute(stmt.returning(Trial.id)).scalar()
            # None: a concurrent writer (PostgreSQL) created the same trial first; use it.
            return int(new_id) if new_id is not None else _trial_id_required(session, stage_id, key)

    @staticmethod
    def _new_trial(
        session: Session,
        stage: Stage,
        variant: str,
        key: str,
        config: dict[str, Any],
        seed: int,
        name: str | None,
        status: str,
    ) -> dict[str, Any]:
        if name is None:
            count = select(func.count()).where(Trial.stage_id == stage.id, Trial.variant == variant)
            name = f"{stage.name}-{variant}-{(session.scalar(count) or 0) + 1}"
        now = _now()
        return {
            "sweep_id": stage.sweep_id,
            "stage_id": stage.id,
            "variant": variant,
            "key": key,
            "name": name,
            "config": config,
            "seed": seed,
            "status": status,
            "epochs": 0,
            "compute_seconds": 0.0,
            "started_at": now if status != TrialState.PENDING else None,
            "finished_at": now if TrialState(status).is_final else None,
        }

    def update_trial(
        self,
        trial_id: int,
        *,
        status: str | None = None,
        stop_reason: dict[str, Any] | None = None,
        best_value: float | None = None,
        last_value: float | None = None,
        epochs: int | None = None,
        compute_seconds: float | None = None,
        finished: bool = False,
    ) -> None:
        """Only the given (non-None) fields change; the config never does.

        Entering running stamps started_at once; ``finished=True`` stamps finished_at. A NaN or
        infinite best/last value is stored as NULL (no usable value, on both backends).
        """
        if status is not None:
            status = TrialState.check(status).value
        changes = {
            "status": status,
            "stop_reason": stop_reason,
            "best_value": _finite(best_value),
            "last_value": _finite(last_value),
            "epochs": epochs,
            "compute_seconds": compute_seconds,
        }
        with self._session(write=True) as session:
            trial = _get(session, Trial, trial_id)
            for field, value in changes.items():
                if value is not None:
                    setattr(trial, field, value)
            if status == TrialState.RUNNING and trial.started_at is None:
                trial.started_at = _now()
            if finished:
                trial.finished_at = _now()

    def get_trial(self, trial_id: int) -> TrialRecord:
        query = _trials_query().where(TRIALS.c.id == trial_id)
        with self._read() as connection:
            row = connection.execute(query).first()
        if row is None:
            raise KeyError(f"no trial with id {trial_id}")
        return trial_record(row, row.stage_name)

    def get_trials(
        self,
        sweep_id: int,
        *,
        stage: str | None = None,
        variant: str | None = None,
        status: str | Sequence[str] | None = None,
        order_by: str = "id",
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[TrialRecord]:
        """``order_by`` is one of id, best_value, epochs, started_at, compute_seconds; NULLs
        last in both directions; ties in id order, so pages never overlap."""
        query = (
            _trials_query()
            .where(*_trial_filters(sweep_id, stage, variant, status))
            .order_by(_order_column(order_by, descending), Trial.id)
            .limit(limit)
            .offset(offset)
        )
        with self._read() as connection:
            rows = connection.execute(query).all()
        return [trial_record(row, row.stage_name) for row in rows]

    def count_trials(
        self,
        sweep_id: int,
        *,
        stage: str | None = None,
        variant: str | None = None,
        status: str | Sequence[str] | None = None,
    ) -> int:
        query = (
            select(func.count(Trial.id))
            .join(Stage)
            .where(*_trial_filters(sweep_id, stage, variant, status))
        )
        with self._read() as connection:
            return int(connection.scalar(query) or 0)

    # -- results --------------------------------------------------------------------------------
    def append_results(self, rows: Iterable[ResultRow]) -> int:
        """Insert in one transaction; returns how many rows were new.

        ``INSERT ... ON CONFLICT (trial_id, step) DO NOTHING`` keeps the first copy of a row,
        also against a concurrent writer; repeats within ``rows`` count once. Raises KeyError
        naming unknown trial ids (and inserts nothing). See :meth:`results_after` for why
        PostgreSQL writers of one sweep take turns.
        """
        unique = _first_of_each(rows)
        if not unique:
            return 0
        with self._session(write=True) as session:
            return self._insert_results(session, list(unique.values()))

    def _insert_results(self, session: Session, rows: list[ResultRow]) -> int:
        sweep_of = _sweeps_of_trials(session, {row.trial_id for row in rows})
        self._lock_results(session, sweep_of.values())
        now = _now()
        values = [
            {
                "sweep_id": sweep_of[row.trial_id],
                "trial_id": row.trial_id,
                "step": row.step,
                "metrics": row.metrics,
                "created_at": now,
            }
            for row in rows
        ]
        stmt = self._insert(Result).on_conflict_do_nothing(index_elements=["trial_id", "step"])
        return len(session.connection().execute(stmt.returning(Result.id), values).all())

    def _lock_results(self, session: Session, sweep_ids: Iterable[int]) -> None:
        """PostgreSQL: hold each sweep's results lock until commit (sorted: no deadlock)."""
        if self._is_sqlite:
            return  # BEGIN IMMEDIATE already holds the database's one write lock
        for sweep_id in sorted(set(sweep_ids)):
            session.execute(
                text("SELECT pg_advisory_xact_lock(:ns, :sweep)"),
                {"ns": _LOCK_NAMESPACE, "sweep": sweep_id},
            )

    def get_results(self, trial_id: int) -> list[ResultRecord]:
        """Ordered by step; KeyError naming the id when the trial does not exist."""
        query = select(RESULTS).where(RESULTS.c.trial_id == trial_id).order_by(RESULTS.c.step)
        with self._read() as connection:
            results = [result_record(row) for row in connection.execute(query)]
            if not results:
                _require(connection, Trial, trial_id)
            return results

    def results_after(
        self, sweep_id: int, cursor: int = 0, limit: int = 10000
    ) -> list[ResultRecord]:
        """Results of the sweep with id > cursor, ordered by id (KeyError for an unknown sweep).

        Reading with the last id seen as the next cursor sees every row exactly once, because a
        row with a smaller id is always committed before a row with a larger one of the same
        sweep becomes visible:

        * PostgreSQL hands out sequence values at insert time but transactions commit in any
          order, so a reader could see id 11 before id 10 commits and then skip 10 forever.
          :meth:`append_results` therefore takes a transaction-scoped advisory lock per sweep
          *before* inserting: writers of one sweep take turns, the next one draws its ids only
          after the previous one committed. (Writers of different sweeps do not wait; their
          interleaved ids do not matter, since the cursor is per sweep.) We chose this over a
          commit-lag window because it is exact and costs little: appends are short.
        * SQLite allows one writer at a time (``BEGIN IMMEDIATE``) and its ids come from
          ``AUTOINCREMENT``, never reused, so commit order is id order.
        """
        query = (
            select(RESULTS)
            .where(RESULTS.c.sweep_id == sweep_id, RESULTS.c.id > cursor)
            .order_by(RESULTS.c.id)
            .limit(limit)
        )
        with self._read() as connection:
            results = [result_record(row) for row in connection.execute(query)]
            if not results:
                _require(connection, Sweep, sweep_id)
            return results

    def latest_result_id(self, sweep_id: int) -> int:
        """The largest result id of the sweep visible now, 0 when it has none (KeyError for an
        unknown sweep). A valid cursor: every smaller id of the sweep is committed too (see
        :meth:`results_after`), so ``results_after(sweep_id, latest)`` misses nothing later."""
        query = select(func.max(Result.id)).where(Result.sweep_id == sweep_id)
        with self._read() as connection:
            latest = connection.scalar(query)
            if latest is None:
                _require(connection, Sweep, sweep_id)
            return int(latest or 0)

    def get_results_for_trials(self, trial_ids: Sequence[int]) -> dict[int, list[ResultRecord]]:
        ids = sorted(set(trial_ids))
        out: dict[int, list[ResultRecord]] = {i: [] for i in ids}
        if not ids:
            return out
        query = (
            select(RESULTS)
            .where(RESULTS.c.trial_id.in_(ids))
            .order_by(RESULTS.c.trial_id, RESULTS.c.step)
        )
        with self._read() as connection:
            for row in connection.execute(query):
                out[row.trial_id].append(result_record(row))
        return out

    def trial_totals(self, sweep_id: int) -> dict[str, Any]:
        query = (
            select(
                Trial.status,
                func.count(Trial.id),
                func.coalesce(func.sum(Trial.compute_seconds), 0.0),
            )
            .where(Trial.sweep_id == sweep_id)
            .group_by(Trial.status)
        )
        with self._read() as connection:
            rows = connection.execute(query).all()
            if not rows:
                _require(connection, Sweep, sweep_id)
        return {
            "by_status": {status: int(count) for status, count, _ in rows},
            "compute_seconds": float(sum(float(seconds) for _, _, seconds in rows)),
        }


_Row = TypeVar("_Row", Sweep, Stage, Trial)


def _require(connection: Connection, model: type[_Row], row_id: int) -> None:
    """KeyError (as :func:`_get` words it) unless the row exists."""
    table = model.__table__
    if connection.scalar(select(table.c.id).where(table.c.id == row_id)) is None:
        raise KeyError(f"no {model.__tablename__[:-1]} with id {row_id}")


def _trials_query() -> Any:
    """Every trial column plus its stage's name (as ``stage_name``: trials have a name too)."""
    return select(TRIALS, STAGES.c.name.label("stage_name")).join_from(
        TRIALS, STAGES, TRIALS.c.stage_id == STAGES.c.id
    )


def _get(session: Session, model: type[_Row], row_id: int) -> _Row:
    row = session.get(model, row_id)
    if row is None:
        raise KeyError(f"no {model.__tablename__[:-1]} with id {row_id}")
    return row


def _trial_id(session: Session, stage_id: int, key: str) -> int | None:
    query = select(Trial.id).where(Trial.stage_id == stage_id, Trial.key == key)
    return session.scalar(query)


def _trial_id_required(session: Session, stage_id: int, key: str) -> int:
    trial_id = _trial_id(session, stage_id, key)
    if trial_id is None:
        raise RuntimeError(f"trial {key=} of stage {stage_id} vanished while being created")
    return trial_id


def _first_of_each(rows: Iterable[ResultRow]) -> dict[tuple[int, int], ResultRow]:
    """The rows keyed by (trial_id, step), in order, keeping the first of repeats."""
    unique: dict[tuple[int, int], ResultRow] = {}
    for row in rows:
        unique.setdefault((row.trial_id, row.step), row)
    return unique


def _sweeps_of_trials(session: Session, trial_ids: set[int]) -> dict[int, int]:
    """trial id -> sweep id; KeyError naming the unknown ones."""
    query = select(Trial.id, Trial.sweep_id).where(Trial.id.in_(trial_ids))
    sweep_of: dict[int, int] = {trial_id: sweep_id for trial_id, sweep_id in session.execute(query)}
    missing = sorted(trial_ids - sweep_of.keys())
    if missing:
        raise KeyError(f"no trial with id {missing[0]} (unknown trial ids: {missing})")
    return sweep_of
