"""Who may run a program over HTTP: nobody, unless the server's operator opted in.

A sweep with ``program:`` runs that script, with a command line the sweep file chooses, on the
workers. An HTTP body must never do that on a server that did not allow it, so:

* a server started without ``rungs serve --programs DIR`` (``RUNGS_PROGRAM_DIRS``) answers 403
  to any sweep that names a program, with how to allow it;
* with allowed folders, the program (absolute, or relative to one of those folders) must
  resolve - ``..`` and symlinks followed - to a file inside one of them
  (:func:`orchestrator.paths.safe_child`), and so must the folder it runs in;
* the command may only run the program itself or the worker's Python on it: before
  ``${program}`` come only ``${env}`` and ``${interpreter}`` (no ``bash -c``, no ``python -c``);
  what follows is the program's own arguments.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from fastapi import HTTPException

from orchestrator.api.settings import Settings
from orchestrator.paths import UnsafePath, safe_child
from orchestrator.sweepfile.program import ProgramPlace, requests_program
from stages.spec import Program
from trainers.program.command import DEFAULT_COMMAND

_LAUNCHERS = ("${env}", "${interpreter}")
HOW_TO_ALLOW = (
    "start the server with `rungs serve --programs DIR` (repeatable; or set RUNGS_PROGRAM_DIRS) "
    "to allow programs inside DIR"
)


def program_place(text: str, settings: Settings) -> ProgramPlace:
    """Where the sweep's relative ``program`` may be (the allowed folders); 403 when the text
    names a program and this server allows none."""
    roots = tuple(Path(folder).resolve() for folder in settings.program_dirs)
    if not roots and requests_program(text):
        raise HTTPException(
            403, f"this server does not run programs sent over HTTP: {HOW_TO_ALLOW}"
        )
    return ProgramPlace(roots=roots)


def check_program(program: Program | None, place: ProgramPlace) -> None:
    """403 unless ``program`` (None: no program) stays inside the allowed folders."""
    if program is None:
        return
    problem = outside_problem(program, place.roots) or command_problem(program.command)
    if problem is not None:
        raise HTTPException(403, f"{problem}; {HOW_TO_ALLOW}")


def outside_problem(program: Program, roots: Sequence[Path]) -> str | None:
    """Why the program or its folder is not inside an allowed folder, or None."""
    script = Path(program.workdir, program.path)
    for path, what in ((script, "program"), (Path(program.workdir), "program's folder")):
        if not any(_inside(path, root) for root in roots):
            return f"the {what} {path} is not inside an allowed folder"
    return None


def _inside(path: Path, root: Path) -> bool:
    try:
        safe_child(root, os.path.relpath(path, root))
    except (UnsafePath, ValueError):
        return False
    return True


def command_problem(command: Sequence[str] | None) -> str | None:
    """Why ``command`` could run something other than the program, or None."""
    elements = list(DEFAULT_COMMAND if command is None else command)
    if "${program}" not in elements:
        return "over HTTP a command must run ${program}"
    before = elements[: elements.index("${program}")]
    if any(element not in _LAUNCHERS for element in before):
        return "over HTTP only ${env} and ${interpreter} may come before ${program} in a command"
    return None
