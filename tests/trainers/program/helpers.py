"""Helpers for the program-trainer tests: tiny real programs and process checks (Linux)."""

from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from trainers.api import DataRequest, ProgramRequest, TrialRequest

REPO = Path(__file__).resolve().parents[3]


def write_program(folder: Path, source: str, name: str = "train.py") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def program_request(
    folder: Path,
    hparams: Mapping[str, Any] | None = None,
    *,
    program: str = "train.py",
    metric: str = "val",
    goal: Literal["maximize", "minimize"] = "maximize",
    subset: int = 2000,
    epochs: int = 3,
    seed: int = 7,
    **fields: Any,
) -> TrialRequest:
    spec = ProgramRequest(
        program=program,
        workdir=str(folder),
        metric=metric,
        goal=goal,
        log_dir=str(folder / "trial-log"),
        **fields,
    )
    return TrialRequest(
        "program", "", dict(hparams or {}), DataRequest(), subset, epochs, seed, program=spec
    )


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: it waits for a parent that may never reap it)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2] not in "ZX"


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes (a bound against hanging, not a
    timing requirement)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def read_pids(path: Path) -> list[int]:
    return [int(word) for word in path.read_text().split()]


PYTHON = sys.executable
