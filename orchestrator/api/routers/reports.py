"""What a sweep concludes: the top-k (CSV and JSON), the validation ranking and the report.

Once a sweep's selection has run, the top-k is its stored picks (:mod:`orchestrator.picks`);
before that, and for another k, it is a preview or a re-computation and says so (``source``).
The rest is computed from the database through :mod:`orchestrator.reporting`, so a running
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
from orchestrator.api.params import SweepId
from orchestrator.api.routers.sweeps import load_sweep
from orchestrator.api.schemas import error_responses
from orchestrator.picks import TopK, pick_sources, top_k
from orchestrator.reporting import build_report, validation_ranking
from orchestrator.storage.base import BaseStorage
from orchestrator.stored_trials import load_spec, trials_by_stage
from stages.export import write_csv

router = APIRouter(prefix="/sweeps", tags=["reports"], responses=error_responses(401, 404))

KQuery = Annotated[
    int | None,
    Query(
        ge=1,
        le=100,
        description="how many configs (default: the sweep's; another k is a re-computation)",
    ),
]
# the file name says what the rows are: only the stored picks carry the validation file's name
_CSV_NAMES = {
    "stored": "top{k}_configs_for_validation.csv",
    "preview": "top{k}_configs_preview.csv",
    "recomputed": "top{k}_configs_recomputed.csv",
}


def _top(storage: BaseStorage, sweep_id: int, k: int | None) -> TopK:
    load_sweep(storage, sweep_id)
    return top_k(storage, sweep_id, k)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    # pandas' JSON writer turns NaN into null and numpy scalars into plain numbers
    return list(json.loads(frame.to_json(orient="records")))


@router.get(
    "/{sweep_id}/top.csv",
    dependencies=[ReadAuth],
    response_class=Response,
    responses={**error_responses(409), 200: {"content": {"text/csv": {}}}},
)
def top_csv(sweep_id: SweepId, storage: StorageDep, k: KQuery = None) -> Response:
    """The top-k as the validation CSV (formula-like cells neutralised): the stored picks once
    selection ran; the ``X-Rungs-Picks-Source`` header and the file name say when it is a
    preview or a re-computation instead. 409 with the reason while no trial is eligible."""
    top = _top(storage, sweep_id, k)
    if top.note is not None:
        raise HTTPException(409, top.note)
    with tempfile.TemporaryDirectory(prefix="rungs-top-") as tmp:
        # write_csv is the one place that neutralises spreadsheet formulas: reuse it as is
        text = write_csv(top.frame, Path(tmp) / "top.csv").read_text(encoding="utf-8")
    filename = _CSV_NAMES[top.source].format(k=top.k)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Rungs-Picks-Source": top.source,
        },
    )


@router.get("/{sweep_id}/top", dependencies=[ReadAuth])
def top_json(sweep_id: SweepId, storage: StorageDep, k: KQuery = None) -> dict[str, Any]:
    """``{"rows": [...], "source": "stored" | "preview" | "recomputed", "k": 5, "label": "...",
    "note": None}``: ``label`` says in a sentence what ``source`` means; ``rows`` is empty and
    ``note`` says why while no trial is eligible."""
    top = _top(storage, sweep_id, k)
    return {
        "rows": _records(top.frame),
        "source": top.source,
        "k": top.k,
        "label": top.label,
        "note": top.note,
    }


@router.get("/{sweep_id}/ranking", dependencies=[ReadAuth])
def ranking(sweep_id: SweepId, storage: StorageDep) -> dict[str, Any]:
    """The multi-seed validation ranking: ``rows`` (best mean first: config, source, mean, std,
    ci_low, ci_high, n, ...), ``verdict``, ``caveats``, ``recommended``; 404 until validation
    has a finished trial. ``config`` is the pick's name, ``source`` the trial it came from."""
    load_sweep(storage, sweep_id)
    spec = load_spec(storage, sweep_id)
    result = validation_ranking(spec, trials_by_stage(storage, sweep_id))
    if result is None:
        raise HTTPException(404, f"sweep {sweep_id}: validation has no results yet")
    body = result.to_dict()
    sources = pick_sources(storage.get_stages(sweep_id))
    body["rows"] = [{**row, "source": sources.get(row["config"])} for row in body.pop("configs")]
    return body


@router.get(
    "/{sweep_id}/report",
    dependencies=[ReadAuth],
    response_model=None,
    responses={200: {"content": {"application/json": {}, "text/markdown": {}}}},
)
def report(
    sweep_id: SweepId, storage: StorageDep, format: Literal["md", "json"] = "md"
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
