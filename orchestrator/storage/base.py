"""The storage contract. One implementation (SQLAlchemy) serves SQLite and PostgreSQL.

Contract (as Optuna's ``BaseStorage`` states its own):

* thread-safe and multi-process safe: several processes (the runner, the API, two workers) may
  use the same database at once; every method is its own transaction;
* a sweep is run under a lease (:mod:`orchestrator.storage.leases`): claiming, acquiring,
  renewing, releasing and re-queueing are each atomic, so two workers never get the same sweep
  and a sweep never runs twice at once while its lease is renewed;
* results are append-only and idempotent on ``(trial_id, step)``: appending a row that exists is a
  no-op, so a resumed stage that re-reports an epoch cannot duplicate it;
* ``create_trial`` is idempotent on ``(stage_id, key)``: it returns the existing id;
* a trial in a final state (:attr:`stages.states.State.is_final`) keeps its config; only its
  status fields may still be corrected;
* ``ResultRecord.id`` grows monotonically: ``results_after(sweep_id, cursor)`` returns what is new.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from typing import Any

from orchestrator.storage.records import (
    ResultRecord,
    ResultRow,
    StageRecord,
    SweepRecord,
    TrialRecord,
)
from stages.states import StageState, SweepState, TrialState


class BaseStorage(abc.ABC):
    def close(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Release connections; the default holds none. Safe to call more than once."""

    # -- sweeps -------------------------------------------------------------------------------
    @abc.abstractmethod
    def create_sweep(
        self,
        name: str,
        spec: dict[str, Any],
        yaml_text: str,
        source_path: str | None = None,
        state: str = SweepState.QUEUED,
    ) -> int: ...

    @abc.abstractmethod
    def get_sweep(self, sweep_id: int) -> SweepRecord:
        """Raises KeyError naming the id when it does not exist."""

    @abc.abstractmethod
    def list_sweeps(self) -> list[SweepRecord]: ...

    @abc.abstractmethod
    def set_sweep_state(self, sweep_id: int, state: str, error: str | None = None) -> None: ...

    # -- leases (see orchestrator.storage.leases) ------------------------------------------
    @abc.abstractmethod
    def claim_next_sweep(self, worker: str, lease_seconds: float) -> SweepRecord | None:
        """Atomically move the oldest queued sweep (or running one whose lease expired) to
        running under a lease of ``worker``'s for ``lease_seconds``; None when there is none."""

    @abc.abstractmethod
    def acquire_lease(
        self, sweep_id: int, owner: str, lease_seconds: float, *, replacing: str | None = None
    ) -> bool:
        """Mark the sweep running under ``owner``'s lease if the lease is free (or ``owner``'s,
        or ``replacing``'s) and the sweep may resume; False, changing nothing, otherwise."""

    @abc.abstractmethod
    def renew_lease(self, sweep_id: int, owner: str, lease_seconds: float) -> bool:
        """Extend the lease; False when the sweep no longer runs under ``owner``."""

    @abc.abstractmethod
    def release_lease(
        self, sweep_id: int, owner: str, state: str | None = None, error: str | None = None
    ) -> bool:
        """Give the lease back, ending the sweep in ``state`` if it still runs under ``owner``;
        whether the state was written."""

    @abc.abstractmethod
    def requeue_sweep(self, sweep_id: int) -> bool:
        """Queue the sweep again unless its state forbids it or it runs under a live lease."""

    # -- stages -------------------------------------------------------------------------------
    @abc.abstractmethod
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
        """Create the stage or update its plan/space/state; unique on (sweep_id, name)."""

    @abc.abstractmethod
    def set_stage_state(
        self, stage_id: int, state: str, summary: dict[str, Any] | None = None
    ) -> None: ...

    @abc.abstractmethod
    def get_stages(self, sweep_id: int) -> list[StageRecord]:
        """Ordered by position."""

    # -- trials -------------------------------------------------------------------------------
    @abc.abstractmethod
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
    ) -> int: ...

    @abc.abstractmethod
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
        """Only the given fields change; ``finished=True`` stamps finished_at."""

    @abc.abstractmethod
    def get_trial(self, trial_id: int) -> TrialRecord: ...

    @abc.abstractmethod
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
        """``order_by`` is one of id, best_value, epochs, started_at, compute_seconds; NULLs last."""

    @abc.abstractmethod
    def count_trials(
        self,
        sweep_id: int,
        *,
        stage: str | None = None,
        variant: str | None = None,
        status: str | Sequence[str] | None = None,
    ) -> int: ...

    # -- results ------------------------------------------------------------------------------
    @abc.abstractmethod
    def append_results(self, rows: Iterable[ResultRow]) -> int:
        """Insert in one transaction; returns how many rows were new."""

    @abc.abstractmethod
    def get_results(self, trial_id: int) -> list[ResultRecord]:
        """Ordered by step."""

    @abc.abstractmethod
    def results_after(
        self, sweep_id: int, cursor: int = 0, limit: int = 10000
    ) -> list[ResultRecord]:
        """Results of the sweep with id > cursor, ordered by id."""

    @abc.abstractmethod
    def latest_result_id(self, sweep_id: int) -> int:
        """The cursor that ``results_after`` would return after reading everything visible now
        (0 when the sweep has no results); clients read it before a bulk read of curves."""

    @abc.abstractmethod
    def get_results_for_trials(self, trial_ids: Sequence[int]) -> dict[int, list[ResultRecord]]:
        """Results of several trials in one query, each list ordered by step; unknown ids map to
        empty lists (the dashboard's curves panel reads a page of trials at once)."""

    @abc.abstractmethod
    def trial_totals(self, sweep_id: int) -> dict[str, Any]:
        """Aggregates for the sweep list in one query: ``{"by_status": {status: count},
        "compute_seconds": float}``."""
