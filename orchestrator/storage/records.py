"""Plain records the storage returns: detached from any SQLAlchemy session, safe to pass around."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

SWEEP_STATES = ("queued", "running", "completed", "failed", "cancelled", "interrupted")
STAGE_STATES = ("pending", "running", "completed", "failed", "cancelled")
# running/completed are the normal path; early_stopped = stopped by the scheduler (hyperband or
# median rule: see stop_reason); diverged = NaN/inf losses past the limit; failed = exception/OOM.
TRIAL_STATES = (
    "pending",
    "running",
    "completed",
    "early_stopped",
    "diverged",
    "failed",
    "cancelled",
)


@dataclass(frozen=True)
class SweepRecord:
    id: int
    name: str
    state: str
    spec: dict[str, Any]
    yaml_text: str
    source_path: str | None
    created_at: datetime
    updated_at: datetime
    error: str | None
    worker: str | None


@dataclass(frozen=True)
class StageRecord:
    id: int
    sweep_id: int
    name: str
    position: int
    kind: str  # "search" | "select" | "validate"
    state: str
    plan: dict[str, Any]
    space: dict[str, Any] | None
    summary: dict[str, Any] | None
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class TrialRecord:
    id: int
    sweep_id: int
    stage_id: int
    stage_name: str
    variant: str
    key: str
    name: str
    config: dict[str, Any]
    seed: int
    status: str
    stop_reason: dict[str, Any] | None
    best_value: float | None
    last_value: float | None
    epochs: int
    started_at: datetime | None
    finished_at: datetime | None
    compute_seconds: float


@dataclass(frozen=True)
class ResultRecord:
    id: int  # monotonically increasing: the cursor for incremental reads
    trial_id: int
    step: int
    metrics: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class ResultRow:
    """What writers append: one reported epoch of one trial. (trial_id, step) is unique, so
    appending the same row twice (e.g. after a resume) keeps one copy."""

    trial_id: int
    step: int
    metrics: dict[str, Any]
