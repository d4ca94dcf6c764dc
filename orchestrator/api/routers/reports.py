"""What a sweep concludes: the top-k (CSV and JSON), the validation ranking and the report.

Every endpoint recomputes from the database through :mod:`orchestrator.reporting`, so a running
sweep's answers change as its trials finish; nothing here writes.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import PlainTextResponse, Response

from orchestrator.api.deps import ReadAuth, StorageDep
from orchestrator.api.parameters import parameter_rows, stage_parameters
from orchestrator.api.routers.sweeps import load_sweep
from orchestrator.reporting import (
    build_report,
    load_spec,
    select_for_sweep,
    top_k_for_sweep,
    trials_by_stage,
    validation_ranking,
)
from orchestrator.storage.base import BaseStorage
from stages.export import write_csv
from stages.selection import Pick

router = APIRouter(prefix="/sweeps", tags=["reports"])

KQuery = Annotated[int, Query(ge=1, le=100, description="how many configs to pick")]


def _top(storage: BaseStorage, sweep_id: int, k: int) -> tuple[pd.DataFrame | None, str | None]:
    """The top-k table, or None and the reason when no trial is eligible yet."""
    load_sweep(storage, sweep_id)
    try:
        return top_k_for_sweep(storage, sweep_id, k)[1], None
    except ValueError as exc:  # select_top_k: no eligible candidates (yet)
        return None, f"No top-k yet: {exc}."


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    # pandas' JSON writer turns NaN into null and numpy scalars into plain numbers
    return list(json.loads(frame.to_json(orient="records")))


@router.get("/{sweep_id}/top.csv", dependencies=[ReadAuth], response_class=Response)
def top_csv(sweep_id: int, storage: StorageDep, k: KQuery = 5) -> Response:
    """The diversity-aware top-k as the validation CSV (formula-like cells neutralised);
    409 with the reason while no trial is eligible."""
    frame, note = _top(storage, sweep_id, k)
    if frame is None:
        raise HTTPException(409, note)
    with tempfile.TemporaryDirectory(prefix="rungs-top-") as tmp:
        # write_csv is the one place that neutralises spreadsheet formulas: reuse it as is
        text = write_csv(frame, Path(tmp) / "top.csv").read_text(encoding="utf-8")
    filename = f"top{k}_configs_for_validation.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/{sweep_id}/top", dependencies=[ReadAuth])
def top_json(sweep_id: int, storage: StorageDep, k: KQuery = 5) -> dict[str, Any]:
    """``{"rows": [...], "note": None}``; ``rows`` is empty and ``note`` says why while no
    trial is eligible."""
    frame, note = _top(storage, sweep_id, k)
    return {"rows": _records(frame) if frame is not None else [], "note": note}


def _picks(storage: BaseStorage, sweep_id: int) -> list[Pick]:
    try:
        return select_for_sweep(load_spec(storage, sweep_id), trials_by_stage(storage, sweep_id))
    except ValueError:  # no eligible search trials: validation trials are labelled "config i"
        return []


@router.get("/{sweep_id}/ranking", dependencies=[ReadAuth])
def ranking(sweep_id: int, storage: StorageDep) -> dict[str, Any]:
    """The multi-seed validation ranking: ``rows`` (best mean first: config, mean, std, ci_low,
    ci_high, n, ...), ``verdict``, ``caveats``, ``recommended``; 404 until validation has a
    finished trial."""
    load_sweep(storage, sweep_id)
    spec = load_spec(storage, sweep_id)
    result = validation_ranking(spec, trials_by_stage(storage, sweep_id), _picks(storage, sweep_id))
    if result is None:
        raise HTTPException(404, f"sweep {sweep_id}: validation has no results yet")
    body = result.to_dict()
    body["rows"] = body.pop("configs")
    return body


@router.get("/{sweep_id}/report", dependencies=[ReadAuth], response_model=None)
def report(
    sweep_id: int, storage: StorageDep, format: Literal["md", "json"] = "md"
) -> dict[str, Any] | PlainTextResponse:
    """The sweep report (what ``rungs report`` prints). JSON adds ``parameters`` (stage ->
    ``[{name, rho, importance, ...}]`` within that stage) and ``parameters_overall`` (the
    same over the selection's stages), which the dashboard charts."""
    load_sweep(storage, sweep_id)
    built = build_report(storage, sweep_id)
    if format == "md":
        return PlainTextResponse(built.to_markdown(), media_type="text/markdown; charset=utf-8")
    spec = load_spec(storage, sweep_id)
    body = built.to_dict()
    by_stage = trials_by_stage(storage, sweep_id)
    body["parameters"] = stage_parameters(by_stage, spec.parameters, spec.metric.goal)
    body["parameters_overall"] = parameter_rows(built.correlations, built.importance)
    return body
