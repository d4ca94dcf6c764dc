"""The database schema: four tables, SQLAlchemy 2 ORM with typed columns.

Only :mod:`orchestrator.storage.sql` uses these classes; everything else reads the detached
records of :mod:`orchestrator.storage.records` that ``to_record()`` makes. JSON columns use the generic ``JSON`` type: TEXT
on SQLite, ``json`` on PostgreSQL (``json`` rather than ``jsonb`` keeps the key order the user
wrote, and nothing queries inside these documents).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from orchestrator.storage.records import ResultRecord, StageRecord, SweepRecord, TrialRecord

# BIGINT on PostgreSQL, but INTEGER on SQLite, where only "INTEGER PRIMARY KEY" is the rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON(none_as_null=True)
Timestamp = DateTime(timezone=True)


def utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every stored time is UTC, so every returned one says so."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Sweep(Base):
    __tablename__ = "sweeps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(Json)
    yaml_text: Mapped[str] = mapped_column(Text)
    source_path: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    # The lease (orchestrator.storage.leases): ``worker`` owns the sweep until it expires.
    worker: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)

    def to_record(self) -> SweepRecord:
        return sweep_record(self)


class Stage(Base):
    __tablename__ = "stages"
    __table_args__ = (UniqueConstraint("sweep_id", "name", name="uq_stages_sweep_name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sweep_id: Mapped[int] = mapped_column(BigId, ForeignKey("sweeps.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    plan: Mapped[dict[str, Any]] = mapped_column(Json)
    space: Mapped[dict[str, Any] | None] = mapped_column(Json)
    summary: Mapped[dict[str, Any] | None] = mapped_column(Json)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)

    def to_record(self) -> StageRecord:
        return stage_record(self)


class Trial(Base):
    __tablename__ = "trials"
    __table_args__ = (
        UniqueConstraint("stage_id", "key", name="uq_trials_stage_key"),
        # The dashboard's queries: counts by status, one variant's trials, the leaderboard.
        Index("ix_trials_sweep_status", "sweep_id", "status"),
        Index("ix_trials_stage_variant", "stage_id", "variant"),
        Index("ix_trials_sweep_best", "sweep_id", "best_value"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Denormalised from the stage so per-sweep queries need no join.
    sweep_id: Mapped[int] = mapped_column(BigId, ForeignKey("sweeps.id", ondelete="CASCADE"))
    stage_id: Mapped[int] = mapped_column(BigId, ForeignKey("stages.id", ondelete="CASCADE"))
    variant: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    config: Mapped[dict[str, Any]] = mapped_column(Json)
    seed: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    stop_reason: Mapped[dict[str, Any] | None] = mapped_column(Json)
    best_value: Mapped[float | None] = mapped_column(Float)
    last_value: Mapped[float | None] = mapped_column(Float)
    epochs: Mapped[int] = mapped_column(Integer)
    compute_seconds: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)

    def to_record(self, stage_name: str) -> TrialRecord:
        """``stage_name`` comes from the joined stage row (the record carries it)."""
        return trial_record(self, stage_name)


class Result(Base):
    __tablename__ = "results"
    __table_args__ = (
        UniqueConstraint("trial_id", "step", name="uq_results_trial_step"),
        # results_after(sweep_id, cursor) is an index range scan on this.
        Index("ix_results_sweep_id", "sweep_id", "id"),
        # AUTOINCREMENT: SQLite never reuses a rowid, so the cursor only moves forward.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # Denormalised from the trial so the sweep's cursor reads one index.
    sweep_id: Mapped[int] = mapped_column(BigId, ForeignKey("sweeps.id", ondelete="CASCADE"))
    trial_id: Mapped[int] = mapped_column(BigId, ForeignKey("trials.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(Timestamp)

    def to_record(self) -> ResultRecord:
        return result_record(self)


# -- records from rows ----------------------------------------------------------------------
# Each takes an ORM object or a Core row of the table's columns (both name their attributes
# after the columns). Reads select columns, not entities: building ORM objects (identity map,
# instance state) was most of a dashboard request's time under load.


def sweep_record(row: Any) -> SweepRecord:
    return SweepRecord(
        id=row.id,
        name=row.name,
        state=row.state,
        spec=row.spec,
        yaml_text=row.yaml_text,
        source_path=row.source_path,
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        error=row.error,
        worker=row.worker,
        lease_expires_at=utc(row.lease_expires_at),
    )


def stage_record(row: Any) -> StageRecord:
    return StageRecord(
        id=row.id,
        sweep_id=row.sweep_id,
        name=row.name,
        position=row.position,
        kind=row.kind,
        state=row.state,
        plan=row.plan,
        space=row.space,
        summary=row.summary,
        started_at=utc(row.started_at),
        finished_at=utc(row.finished_at),
    )


def trial_record(row: Any, stage_name: str) -> TrialRecord:
    return TrialRecord(
        id=row.id,
        sweep_id=row.sweep_id,
        stage_id=row.stage_id,
        stage_name=stage_name,
        variant=row.variant,
        key=row.key,
        name=row.name,
        config=row.config,
        seed=row.seed,
        status=row.status,
        stop_reason=row.stop_reason,
        best_value=row.best_value,
        last_value=row.last_value,
        epochs=row.epochs,
        started_at=utc(row.started_at),
        finished_at=utc(row.finished_at),
        compute_seconds=row.compute_seconds,
    )


def result_record(row: Any) -> ResultRecord:
    return ResultRecord(
        id=row.id,
        trial_id=row.trial_id,
        step=row.step,
        metrics=row.metrics,
        created_at=_utc(row.created_at),
    )
