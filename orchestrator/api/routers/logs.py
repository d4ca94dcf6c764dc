"""The end of a program trial's output: ``GET /api/trials/{id}/log?stream=stdout&tail=200``.

A trial of a user's program keeps its stdout and stderr in the sweep folder
(``<sweep folder>/logs/<stage>/<trial key>/``, :mod:`orchestrator.runner.programs`); the
dashboard's trial view shows their tails. Only the last ``tail`` lines of at most the file's
last :data:`MAX_BYTES` are read, so a huge log costs a request no more than a small one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from orchestrator.api.deps import ReadAuth, StorageDep
from orchestrator.api.params import TrialId
from orchestrator.api.schemas import error_responses
from orchestrator.paths import UnsafePath
from orchestrator.runner.programs import trial_log_dir
from orchestrator.storage.base import BaseStorage
from orchestrator.storage.records import TrialRecord
from trainers.program.process import STDERR_LOG, STDOUT_LOG

router = APIRouter(tags=["trials"])

MAX_BYTES = 256 * 1024
_FILES = {"stdout": STDOUT_LOG, "stderr": STDERR_LOG}


class TrialLog(BaseModel):
    trial_id: int
    stream: Literal["stdout", "stderr"]
    lines: list[str]
    truncated: bool  # earlier output exists that is not in ``lines``


@router.get(
    "/trials/{trial_id}/log",
    response_model=TrialLog,
    dependencies=[ReadAuth],
    responses=error_responses(404),
)
def trial_log(
    trial_id: TrialId,
    storage: StorageDep,
    stream: Literal["stdout", "stderr"] = "stdout",
    tail: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> TrialLog:
    """The last ``tail`` lines of a program trial's stdout or stderr (404: not a program trial,
    or it wrote nothing yet)."""
    try:
        trial = storage.get_trial(trial_id)
    except KeyError:
        raise HTTPException(404, f"no trial with id {trial_id}") from None
    path = _log_path(storage, trial, stream)
    if path is None or not path.is_file():
        raise HTTPException(404, f"trial {trial_id} has no {stream} log (not a program trial?)")
    lines, truncated = tail_lines(path, tail)
    return TrialLog(trial_id=trial_id, stream=stream, lines=lines, truncated=truncated)


def _log_path(storage: BaseStorage, trial: TrialRecord, stream: str) -> Path | None:
    stages = storage.get_stages(trial.sweep_id)
    sweep_dir = next((s.plan["sweep_dir"] for s in stages if s.plan.get("sweep_dir")), None)
    if sweep_dir is None:
        return None
    try:
        return trial_log_dir(sweep_dir, trial.stage_name, trial.key) / _FILES[stream]
    except UnsafePath:
        return None


def tail_lines(path: Path, count: int, max_bytes: int = MAX_BYTES) -> tuple[list[str], bool]:
    """The last ``count`` lines of ``path`` (read from its last ``max_bytes``, decoded with
    replacement characters) and whether anything before them was left out."""
    with path.open("rb") as file:
        size = file.seek(0, 2)
        start = max(0, size - max_bytes)
        file.seek(start)
        data = file.read()
    lines = data.decode("utf-8", "replace").splitlines()
    if start > 0 and lines:
        lines = lines[1:]  # the first line was cut by the byte limit
    kept = lines[-count:]
    return kept, start > 0 or len(kept) < len(lines)
