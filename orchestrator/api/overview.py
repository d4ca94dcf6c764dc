"""Summaries of sweeps and stages for the list and detail pages, computed from the storage."""

from __future__ import annotations

from typing import Any

from orchestrator.api.cache import TTLCache
from orchestrator.api.schemas import StagePublic, SweepPublic
from orchestrator.storage.base import BaseStorage
from orchestrator.storage.records import StageRecord, SweepRecord

DONE_STATES = ("completed", "early_stopped", "diverged", "failed", "cancelled")


def _metric(spec: dict[str, Any]) -> tuple[str, str]:
    metric = spec.get("metric") or {}
    return str(metric.get("name", "")), str(metric.get("goal", "maximize"))


def planned_trials(spec: dict[str, Any]) -> int:
    """Search trials of every stage plus top-k x seeds of validation, from the stored spec."""
    total = 0
    for stage in spec.get("stages", []):
        variants = stage.get("variants") or []
        total += sum(int(v.get("trials", 0)) for v in variants) or int(stage.get("trials", 0))
    validation = spec.get("validation") or {}
    if validation.get("enabled", True):
        k = int((spec.get("selection") or {}).get("k", 5))
        total += k * len(validation.get("seeds", ()))
    return total


def _best(storage: BaseStorage, sweep_id: int, goal: str, stage: str | None = None) -> float | None:
    best = storage.get_trials(
        sweep_id, stage=stage, order_by="best_value", descending=goal == "maximize", limit=1
    )
    return best[0].best_value if best else None


def sweep_public(
    storage: BaseStorage, sweep: SweepRecord, cache: TTLCache | None = None
) -> SweepPublic:
    """The list row of ``sweep``. With ``cache``, the totals may be up to ``cache.seconds`` old;
    the state never is (it is part of the key)."""
    if cache is None:
        return _sweep_public(storage, sweep)
    key = ("sweep", sweep.id, sweep.state, sweep.updated_at, sweep.error)
    return cache.get(key, lambda: _sweep_public(storage, sweep))


def _sweep_public(storage: BaseStorage, sweep: SweepRecord) -> SweepPublic:
    metric, goal = _metric(sweep.spec)
    totals = storage.trial_totals(sweep.id)  # one GROUP BY, whatever the number of trials
    done = sum(n for status, n in totals["by_status"].items() if status in DONE_STATES)
    return SweepPublic(
        id=sweep.id,
        name=sweep.name,
        state=sweep.state,
        model=str((sweep.spec.get("model") or {}).get("name", "")),
        metric=metric,
        goal=goal,
        best_value=_best(storage, sweep.id, goal),
        trials_done=done,
        trials_planned=planned_trials(sweep.spec),
        compute_seconds=round(totals["compute_seconds"], 3),
        created_at=sweep.created_at,
        updated_at=sweep.updated_at,
        error=sweep.error,
    )


def stage_public(storage: BaseStorage, sweep: SweepRecord, stage: StageRecord) -> StagePublic:
    _, goal = _metric(sweep.spec)
    done = storage.count_trials(sweep.id, stage=stage.name, status=DONE_STATES)
    planned = int(stage.plan.get("trials", 0) or 0)
    return StagePublic(
        **{f: getattr(stage, f) for f in StagePublic.model_fields if hasattr(stage, f)},
        trials_done=done,
        trials_planned=planned,
        best_value=_best(storage, sweep.id, goal, stage=stage.name),
    )
