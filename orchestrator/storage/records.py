"""Plain records the storage returns: detached from any SQLAlchemy session, safe to pass around.

States are stored as plain strings, the values of :mod:`stages.states`' enums.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stages.trials import TrialSummary


@dataclass(frozen=True)
class SweepRecord:
    id: int
    name: str
    state: str  # a SweepState value
    spec: dict[str, Any]
    yaml_text: str
    source_path: str | None
    created_at: datetime
    updated_at: datetime
    error: str | None
    worker: str | None  # the lease's owner (orchestrator.storage.leases), or the last one
    lease_expires_at: datetime | None = None  # None: nobody holds the lease


@dataclass(frozen=True)
class StageRecord:
    id: int
    sweep_id: int
    name: str
    position: int
    kind: str  # "search" | "select" | "validate"
    state: str  # a StageState value
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
    status: str  # a TrialState value
    stop_reason: dict[str, Any] | None
    best_value: float | None
    last_value: float | None
    epochs: int
    started_at: datetime | None
    finished_at: datetime | None
    compute_seconds: float

    def summary(self, max_epochs: int | None, **extra: Any) -> TrialSummary:
        """The stage logic's view of this trial; ``max_epochs`` is its stage's budget. Seed and
        compute seconds ride in ``extra`` (the report needs them), with any ``extra`` given."""
        return TrialSummary(
            id=self.id,
            config=self.config,
            value=self.best_value,
            name=self.name,
            stage=self.stage_name,
            variant=self.variant,
            status=self.status,
            epochs=self.epochs,
            max_epochs=max_epochs,
            extra={"seed": self.seed, "compute_seconds": self.compute_seconds, **extra},
        )


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
