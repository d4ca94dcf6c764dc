"""Summaries of sweeps and stages for the list and detail pages, computed from the storage."""

from __future__ import annotations

from orchestrator.api.cache import TTLCache
from orchestrator.api.schemas import StagePublic, SweepPublic
from orchestrator.storage.base import BaseStorage
from orchestrator.storage.records import StageRecord, SweepRecord
from orchestrator.sweepfile import spec_from_dict
from stages.spec import SweepSpec
from stages.states import TrialState

# the trials a progress bar counts as done: every final state
_DONE = TrialState.finals()


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
    spec = spec_from_dict(sweep.spec)
    goal = spec.metric.goal
    totals = storage.trial_totals(sweep.id)  # one GROUP BY, whatever the number of trials
    done = sum(n for status, n in totals["by_status"].items() if status in _DONE)
    return SweepPublic(
        id=sweep.id,
        name=sweep.name,
        state=sweep.state,
        model=spec.model.name,
        metric=spec.metric.name,
        goal=goal,
        best_value=_best(storage, sweep.id, goal),
        trials_done=done,
        trials_planned=_planned_trials(storage, sweep.id, spec),
        compute_seconds=round(totals["compute_seconds"], 3),
        created_at=sweep.created_at,
        updated_at=sweep.updated_at,
        error=sweep.error,
    )


def _planned_trials(storage: BaseStorage, sweep_id: int, spec: SweepSpec) -> int:
    """The spec's plan, corrected by what the stored stages planned once they started: the
    validation retrains the picks that selection found (fewer than k when few trials ran their
    full budget), so a completed sweep does not look unfinished."""
    stored = {stage.name: stage for stage in storage.get_stages(sweep_id)}
    search = sum(
        _stored_trials(stored.get(stage.name), stage.total_trials) for stage in spec.stages
    )
    validation = next((s for s in stored.values() if s.kind == "validate"), None)
    return search + _stored_trials(validation, spec.validation_runs)


def _stored_trials(stage: StageRecord | None, planned: int) -> int:
    """The trials ``stage``'s stored plan names, else ``planned``."""
    trials = stage.plan.get("trials") if stage is not None else None
    return planned if trials is None else int(trials)


def stage_public(storage: BaseStorage, sweep: SweepRecord, stage: StageRecord) -> StagePublic:
    goal = spec_from_dict(sweep.spec).metric.goal
    done = storage.count_trials(sweep.id, stage=stage.name, status=_DONE)
    planned = _stored_trials(stage, 0)
    return StagePublic(
        **{f: getattr(stage, f) for f in StagePublic.model_fields if hasattr(stage, f)},
        trials_done=done,
        trials_planned=planned,
        best_value=_best(storage, sweep.id, goal, stage=stage.name),
    )
