"""/api/sweeps: submit, list, inspect, cancel and resume sweeps."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool

# request.form() yields Starlette's UploadFile; fastapi.UploadFile is a subclass that an
# isinstance check against it would reject.
from starlette.datastructures import UploadFile

from orchestrator.api.deps import CacheDep, ReadAuth, SettingsDep, StorageDep, WriteAuth
from orchestrator.api.overview import stage_public, sweep_public
from orchestrator.api.params import SweepId
from orchestrator.api.programs import check_program, program_place
from orchestrator.api.schemas import SweepCreated, SweepDetail, SweepPublic, error_responses
from orchestrator.control import MoveRefused, move_sweep
from orchestrator.storage.base import BaseStorage
from orchestrator.storage.records import SweepRecord
from orchestrator.sweepfile import SpecErrors, parse_spec, spec_to_dict
from orchestrator.sweepfile.names import name_problem
from stages.states import SweepState

router = APIRouter(prefix="/sweeps", tags=["sweeps"], responses=error_responses(401, 404))
FILENAME_MAX = 255


def load_sweep(storage: BaseStorage, sweep_id: int) -> SweepRecord:
    try:
        return storage.get_sweep(sweep_id)
    except KeyError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no sweep with id {sweep_id}") from None


async def _yaml_from_request(request: Request, limit: int) -> tuple[str, str]:
    """The YAML text and a file name, from a multipart upload (field ``file``) or a raw body."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPException(422, "multipart upload needs a `file` field with the sweep YAML")
        raw = await upload.read(limit + 1)
        name = upload.filename or "sweep.yaml"
    else:
        raw = await request.body()
        name = request.query_params.get("filename", "sweep.yaml")
    if (problem := name_problem(name, max_length=FILENAME_MAX)) is not None:
        raise HTTPException(422, f"filename: {problem}")  # it is stored and shown
    if len(raw) > limit:  # a chunked body carries no content-length for the middleware to check
        raise HTTPException(413, f"request body too large: limit {limit} bytes")
    try:
        return raw.decode("utf-8"), name
    except UnicodeDecodeError:
        raise HTTPException(422, "the sweep YAML must be UTF-8 text") from None


@router.post(
    "",
    status_code=201,
    response_model=SweepCreated,
    dependencies=[WriteAuth],
    responses=error_responses(400, 403, 413, 422),
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-yaml": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            }
        }
    },
)
async def submit_sweep(
    request: Request, storage: StorageDep, settings: SettingsDep
) -> SweepCreated:
    """Queue a sweep. Invalid YAML gives 422 with the same located errors as `rungs validate`;
    a sweep that runs a program gives 403 unless the server allows it (`--programs DIR`)."""
    text, filename = await _yaml_from_request(request, settings.max_body_bytes)
    place = await run_in_threadpool(program_place, text, settings)
    try:
        # yaml.safe_load semantics (no arbitrary objects), bounded (orchestrator.sweepfile.bounds),
        # and in a worker thread: parsing never holds up the event loop's other requests
        parsed = await run_in_threadpool(parse_spec, text, filename, place)
    except SpecErrors as exc:
        errors = [
            {
                "file": e.file,
                "line": e.line,
                "column": e.column,
                "field": e.field,
                "message": e.message,
            }
            for e in exc.errors
        ]
        detail = {"message": f"{len(errors)} error(s) in {filename}", "errors": errors}
        raise HTTPException(422, detail) from None
    spec = parsed.spec
    check_program(spec.program, place)
    sweep_id = storage.create_sweep(spec.name, spec_to_dict(spec), text, source_path=filename)
    return SweepCreated(
        id=sweep_id,
        name=spec.name,
        state=SweepState.QUEUED,
        warnings=[str(w) for w in parsed.warnings],
    )


@router.get("", response_model=list[SweepPublic], dependencies=[ReadAuth])
def list_sweeps(storage: StorageDep, cache: CacheDep) -> list[SweepPublic]:
    return [sweep_public(storage, s, cache) for s in storage.list_sweeps()]


@router.get("/{sweep_id}", response_model=SweepDetail, dependencies=[ReadAuth])
def get_sweep(sweep_id: SweepId, storage: StorageDep, cache: CacheDep) -> SweepDetail:
    """The sweep with its stages; like the list, totals may be ``cache_seconds`` old."""
    sweep = load_sweep(storage, sweep_id)
    key = ("detail", sweep.id, sweep.state, sweep.updated_at, sweep.error)
    return cache.get(key, lambda: _detail(storage, sweep))


def _detail(storage: BaseStorage, sweep: SweepRecord) -> SweepDetail:
    stages = [stage_public(storage, sweep, st) for st in storage.get_stages(sweep.id)]
    return SweepDetail(
        **sweep_public(storage, sweep).model_dump(), stages=stages, yaml_text=sweep.yaml_text
    )


@router.post(
    "/{sweep_id}/cancel",
    response_model=SweepPublic,
    dependencies=[WriteAuth],
    responses=error_responses(409),
)
def cancel_sweep(sweep_id: SweepId, storage: StorageDep) -> SweepPublic:
    """A queued sweep never starts; a running one stops at its next check (between results)."""
    return _move(storage, sweep_id, SweepState.CANCELLED, "cancelled")


@router.post(
    "/{sweep_id}/resume",
    response_model=SweepPublic,
    dependencies=[WriteAuth],
    responses=error_responses(409),
)
def resume_sweep(sweep_id: SweepId, storage: StorageDep) -> SweepPublic:
    """Queue an interrupted, failed or cancelled sweep again; a worker continues it."""
    return _move(storage, sweep_id, SweepState.QUEUED, "resumed")


def _move(storage: BaseStorage, sweep_id: int, target: SweepState, verb: str) -> SweepPublic:
    """``target`` when the state machine allows the move from the sweep's state, else 409
    (the move of ``rungs cancel`` too: :func:`orchestrator.control.move_sweep`)."""
    load_sweep(storage, sweep_id)
    try:
        moved = move_sweep(storage, sweep_id, target, verb)
    except MoveRefused as exc:
        raise HTTPException(409, str(exc)) from None
    return sweep_public(storage, moved)
