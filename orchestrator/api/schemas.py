"""Response and request schemas (Base/Public pattern): what the API promises in its OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class LocatedError(BaseModel):
    file: str
    line: int
    column: int
    field: str
    message: str


class ErrorBody(BaseModel):
    message: str
    errors: list[LocatedError] = Field(default_factory=list)


class SweepCreated(BaseModel):
    id: int
    name: str
    state: str
    warnings: list[str] = Field(default_factory=list)


class StagePublic(BaseModel):
    id: int
    name: str
    position: int
    kind: str
    state: str
    plan: dict[str, Any]
    space: dict[str, Any] | None
    summary: dict[str, Any] | None
    started_at: datetime | None
    finished_at: datetime | None
    trials_done: int = 0
    trials_planned: int = 0
    best_value: float | None = None


class SweepPublic(BaseModel):
    id: int
    name: str
    state: str
    model: str
    metric: str
    goal: str
    best_value: float | None
    trials_done: int
    trials_planned: int
    compute_seconds: float
    created_at: datetime
    updated_at: datetime
    error: str | None


class SweepDetail(SweepPublic):
    stages: list[StagePublic]
    yaml_text: str


class TrialPublic(BaseModel):
    id: int
    name: str
    stage: str
    variant: str
    status: str
    config: dict[str, Any]
    seed: int
    best_value: float | None
    last_value: float | None
    epochs: int
    stop_reason: dict[str, Any] | None
    compute_seconds: float
    started_at: datetime | None
    finished_at: datetime | None


class TrialPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[TrialPublic]


class CurvePoint(BaseModel):
    step: int
    metrics: dict[str, Any]


class Curve(BaseModel):
    trial_id: int
    total_points: int
    points: list[CurvePoint]


class ResultPublic(BaseModel):
    id: int
    trial_id: int
    step: int
    metrics: dict[str, Any]


class MachinePublic(BaseModel):
    states: list[str]
    final: list[str] = Field(description="states nothing works on any more (until a resume)")
    moves: dict[str, list[str]] = Field(description="state -> the states it may become")


class StatesPublic(BaseModel):
    sweep: MachinePublic
    stage: MachinePublic
    trial: MachinePublic


class ResultBatch(BaseModel):
    cursor: int = Field(description="pass as ?after= to get only what is newer")
    items: list[ResultPublic]


_ERROR_MEANINGS = {
    400: "a malformed request body (multipart)",
    401: "a bearer token is required (RUNGS_API_TOKEN)",
    403: "the sweep runs a program this server does not allow (rungs serve --programs DIR)",
    404: "no such sweep, trial or result yet",
    409: "the sweep's state does not allow it (yet)",
    413: "the request body is over the server's limit",
    422: "invalid parameters, or a sweep file with located errors",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses: every error body is an :class:`ErrorBody`
    (see the handlers in :mod:`orchestrator.api.app`)."""
    return {code: {"model": ErrorBody, "description": _ERROR_MEANINGS[code]} for code in codes}
