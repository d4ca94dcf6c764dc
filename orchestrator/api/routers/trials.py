"""Trials of a sweep (paged, sorted, filtered), one trial's curve, and new results by cursor."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response

from orchestrator.api.deps import CacheDep, ReadAuth, SettingsDep, StorageDep
from orchestrator.api.params import INT64_MAX, SweepId, TrialId
from orchestrator.api.routers.sweeps import load_sweep
from orchestrator.api.schemas import (
    Curve,
    CurvePoint,
    ResultBatch,
    TrialPage,
    TrialPublic,
    error_responses,
)
from orchestrator.storage.base import BaseStorage
from orchestrator.storage.records import ResultRecord, SweepRecord, TrialRecord

router = APIRouter(tags=["trials"], responses=error_responses(401, 404))

CURVES_MAX_STALE = 5  # x cache_seconds: older curves are recomputed on the request path
SortKey = Literal["id", "best_value", "epochs", "started_at", "compute_seconds"]


def trial_public(trial: TrialRecord) -> TrialPublic:
    return TrialPublic(
        id=trial.id,
        name=trial.name,
        stage=trial.stage_name,
        variant=trial.variant,
        status=trial.status,
        config=trial.config,
        seed=trial.seed,
        best_value=trial.best_value,
        last_value=trial.last_value,
        epochs=trial.epochs,
        stop_reason=trial.stop_reason,
        compute_seconds=trial.compute_seconds,
        started_at=trial.started_at,
        finished_at=trial.finished_at,
    )


def trial_json(trial: TrialRecord) -> dict[str, Any]:
    """``trial_public(trial).model_dump(mode="json")`` without pydantic (same keys and values;
    a test keeps them equal): the trials page and the curves encode dozens of trials per
    request, and validating each through the model was a third of their time."""
    return {
        "id": trial.id,
        "name": trial.name,
        "stage": trial.stage_name,
        "variant": trial.variant,
        "status": trial.status,
        "config": trial.config,
        "seed": trial.seed,
        "best_value": trial.best_value,
        "last_value": trial.last_value,
        "epochs": trial.epochs,
        "stop_reason": trial.stop_reason,
        "compute_seconds": trial.compute_seconds,
        "started_at": _iso(trial.started_at),
        "finished_at": _iso(trial.finished_at),
    }


def _iso(moment: datetime | None) -> str | None:
    """pydantic's JSON form of an aware UTC datetime: ISO 8601 with a Z."""
    if moment is None:
        return None
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@router.get("/sweeps/{sweep_id}/trials", response_model=TrialPage, dependencies=[ReadAuth])
def list_trials(
    sweep_id: SweepId,
    storage: StorageDep,
    stage: str | None = None,
    variant: str | None = None,
    status: Annotated[list[str] | None, Query()] = None,
    sort: SortKey = "id",
    order: Literal["asc", "desc"] = "asc",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Response:
    """A page of the sweep's trials (schema: ``TrialPage``, encoded in one json.dumps)."""
    load_sweep(storage, sweep_id)
    items = storage.get_trials(
        sweep_id,
        stage=stage,
        variant=variant,
        status=status,
        order_by=sort,
        descending=order == "desc",
        limit=limit,
        offset=offset,
    )
    total = storage.count_trials(sweep_id, stage=stage, variant=variant, status=status)
    page = {
        "total": total,
        "offset": offset,
        "limit": limit,
        "items": [trial_json(t) for t in items],
    }
    return Response(json.dumps(page, allow_nan=False), media_type="application/json")


@router.get("/trials/{trial_id}", response_model=TrialPublic, dependencies=[ReadAuth])
def get_trial(trial_id: TrialId, storage: StorageDep) -> TrialPublic:
    try:
        return trial_public(storage.get_trial(trial_id))
    except KeyError:
        raise HTTPException(404, f"no trial with id {trial_id}") from None


def downsample(results: list[ResultRecord], max_points: int) -> list[ResultRecord]:
    """Keep at most ``max_points`` evenly spaced points, always the first and the last, so a
    100-epoch curve costs the browser the same as a 10-epoch one."""
    n = len(results)
    if n <= max_points:
        return results
    picks = {round(i * (n - 1) / (max_points - 1)) for i in range(max_points)}
    return [results[i] for i in sorted(picks)]


@router.get("/trials/{trial_id}/curve", response_model=Curve, dependencies=[ReadAuth])
def trial_curve(
    trial_id: TrialId,
    storage: StorageDep,
    settings: SettingsDep,
    max_points: Annotated[int | None, Query(ge=2, le=10000)] = None,
) -> Curve:
    get_trial(trial_id, storage)
    results = storage.get_results(trial_id)
    kept = downsample(results, max_points or settings.curve_max_points)
    points = [CurvePoint(step=r.step, metrics=r.metrics) for r in kept]
    return Curve(trial_id=trial_id, total_points=len(results), points=points)


@router.get("/sweeps/{sweep_id}/results", response_model=ResultBatch, dependencies=[ReadAuth])
def results_since(
    sweep_id: SweepId,
    storage: StorageDep,
    after: Annotated[
        int, Query(ge=0, le=INT64_MAX, description="cursor from the previous call")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=20000)] = 5000,
) -> Response:
    """Only what is new since ``after`` (optuna-dashboard's pattern): pollers stay cheap. The
    body (schema: ``ResultBatch``) is encoded in one json.dumps: this is the endpoint every open
    dashboard polls, and per-row model validation cost more than the query."""
    try:  # no load_sweep: results_after raises KeyError itself (one query less per poll)
        rows = storage.results_after(sweep_id, after, limit=limit)
    except KeyError:
        raise HTTPException(404, f"no sweep with id {sweep_id}") from None
    cursor = rows[-1].id if rows else after
    items = [
        {"id": r.id, "trial_id": r.trial_id, "step": r.step, "metrics": r.metrics} for r in rows
    ]
    body = json.dumps({"cursor": cursor, "items": items}, allow_nan=False)
    return Response(body, media_type="application/json")


@router.get("/sweeps/{sweep_id}/curves", dependencies=[ReadAuth])
def stage_curves(
    sweep_id: SweepId,
    storage: StorageDep,
    cache: CacheDep,
    settings: SettingsDep,
    stage: str,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    max_points: Annotated[int, Query(ge=2, le=2000)] = 200,
    metric: Annotated[
        str | None, Query(description="keep only this metric in each point (smaller, faster)")
    ] = None,
) -> Response:
    """Downsampled curves of a stage's best ``limit`` trials plus every running one, and the
    cursor to continue from with ``/results?after=``. The cursor is read *before* the curves so
    nothing written in between is missed (the client drops repeated steps); that also makes a
    cached answer safe: the client catches up from its cursor. So the answer is served
    stale-while-revalidate: at most ``cache_seconds`` old while polled, and an expired one
    (up to ``CURVES_MAX_STALE`` x that) is returned at once while a background thread
    recomputes it."""
    sweep = load_sweep(storage, sweep_id)
    key = ("curves", sweep_id, stage, limit, max_points, metric)
    body = cache.get_or_refresh(
        key,
        lambda: _stage_curves(storage, sweep, stage, limit, max_points, metric),
        max_stale=CURVES_MAX_STALE * settings.cache_seconds,
    )
    return Response(body, media_type="application/json")


def _stage_curves(
    storage: BaseStorage,
    sweep: SweepRecord,
    stage: str,
    limit: int,
    max_points: int,
    metric: str | None,
) -> bytes:
    """The encoded body: json.dumps once, cached as bytes. FastAPI's generic encoder walks every
    point in Python and was most of this endpoint's time under load."""
    sweep_id = sweep.id
    cursor = storage.latest_result_id(sweep_id)
    goal = str((sweep.spec.get("metric") or {}).get("goal", "maximize"))
    best = storage.get_trials(
        sweep_id, stage=stage, order_by="best_value", descending=goal == "maximize", limit=limit
    )
    running = storage.get_trials(sweep_id, stage=stage, status="running")
    chosen = {t.id: t for t in [*best, *running]}
    curves = []
    results = storage.get_results_for_trials(list(chosen))  # one query for the whole page
    for trial in chosen.values():
        points = downsample(results[trial.id], max_points)
        curves.append(
            {
                "trial": trial_json(trial),
                "points": [{"step": p.step, "metrics": _only(p.metrics, metric)} for p in points],
            }
        )
    return json.dumps({"cursor": cursor, "curves": curves}, allow_nan=False).encode()


def _only(metrics: dict[str, Any], metric: str | None) -> dict[str, Any]:
    if metric is None:
        return metrics
    return {metric: metrics[metric]} if metric in metrics else {}
