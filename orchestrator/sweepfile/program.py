"""The program keys: a user's own training script, run the way ``wandb agent`` runs it.

::

    program: train.py                     # relative to the sweep file's folder, as under W&B
    command: [${env}, ${interpreter}, ${program}, ${args}]   # optional: W&B's default
    program_parameters:                   # how each stage's values reach the program
      subset: train_samples               #   the stage's training-set size -> --train_samples=2000
      epochs: epochs                      #   the stage's epoch budget      -> --epochs=6
      seed: seed                          #   the run's seed                -> --seed=42
    program_grace_seconds: 3              # SIGTERM, then SIGKILL this much later, on a stop

A file with ``program`` and no ``stages`` is a one-stage W&B sweep. Located errors, before
anything runs: the program file is missing; a command macro is unknown; a sweep with several
stages has no ``program_parameters.subset`` (every stage would train on the same data); a
``program_parameters`` name is also a searched parameter.

A relative ``program`` is looked for in the sweep file's folder (:class:`ProgramPlace`); a YAML
text without a folder (submitted over HTTP) names it absolutely or relative to one of the
folders the server allows (``rungs serve --programs DIR``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.sweepfile.errors import Diagnostics
from orchestrator.sweepfile.loader import compose
from orchestrator.sweepfile.reader import Section, describe
from stages.spec import Program, Validation
from trainers.program.command import MACROS, unknown_macros
from trainers.program.trainer import PARAMETER_KEYS

PROGRAM_KEYS = ("program", "command", "program_parameters", "program_grace_seconds")


@dataclass(frozen=True)
class ProgramPlace:
    """Where a relative ``program`` is looked for: the sweep file's folder (``base_dir``), else
    each of ``roots`` in order (a YAML text without a folder, e.g. over HTTP)."""

    base_dir: Path | None = None
    roots: tuple[Path, ...] = ()


# `command: [${env}, ${interpreter}, ${program}, ${args}]` on one line: in a YAML flow list `{`
# opens a mapping, so YAML rejects the unquoted macros that W&B's own docs write this way.
_FLOW_COMMAND = re.compile(r"^(?P<head>command:[ \t]*\[)(?P<body>[^\[\]#]*)(?P<tail>\][ \t]*)$")
_FLOW_ELEMENT = re.compile(r"""\s*(?:'[^']*'|"[^"\\]*"|[^,'"]*)\s*""")


def quote_flow_command(text: str) -> str:
    """``text`` with the macros of a one-line top-level ``command: [...]`` quoted, so that the
    form users write parses (``${env}`` -> ``"${env}"``); any other text is returned as is."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        match = _FLOW_COMMAND.match(line)
        elements = _flow_elements(match["body"]) if match is not None else None
        if match is not None and elements is not None and "${" in match["body"]:
            lines[index] = match["head"] + ",".join(map(_quoted, elements)) + match["tail"]
    return "\n".join(lines)


def _flow_elements(body: str) -> list[str] | None:
    """The comma-separated elements of a flow list's body; None when it is not that simple."""
    elements, position = [], 0
    while True:
        match = _FLOW_ELEMENT.match(body, position)
        if match is None:
            return None
        elements.append(match.group())
        position = match.end()
        if position == len(body):
            return elements
        if body[position] != ",":
            return None
        position += 1


def _quoted(element: str) -> str:
    stripped = element.strip()
    if "${" not in stripped or stripped[:1] in ("'", '"'):
        return element
    lead = element[: len(element) - len(element.lstrip())]
    return f'{lead}"{stripped}"'


def requests_program(text: str) -> bool:
    """Whether a sweep YAML text asks to run a program (its top level has ``program``); False
    for a text that does not parse (the parser then reports why)."""
    root = compose(quote_flow_command(text), Diagnostics("<peek>"))
    return root is not None and root.is_map and "program" in root.value


def parse_program(root: Section, place: ProgramPlace, searched: Collection[str]) -> Program | None:
    """The program of the file, None when it has none (``command`` or ``program_parameters``
    without ``program`` is an error). ``searched`` are the names the program gets from the
    space (flat names and the top-level names of nested parameters)."""
    if not root.has("program"):
        for key in PROGRAM_KEYS[1:]:
            if root.has(key):
                root.error(key, f"`{key}` needs `program:` (the training script to run)")
        return None
    path = root.string("program", None)
    workdir = _workdir(root, path, place) if path is not None else None
    command = _command(root)
    parameters = _program_parameters(root, searched)
    grace = root.number("program_grace_seconds", Program.grace_seconds, minimum=0.0)
    if path is None or workdir is None:
        return None
    return Program(
        path=path,
        workdir=str(workdir),
        command=command,
        parameters=parameters,
        grace_seconds=float(grace),
    )


def _workdir(root: Section, path: str, place: ProgramPlace) -> Path | None:
    """The folder the program runs in, after checking that the program file is there."""
    given = Path(path)
    if given.is_absolute():
        if not given.is_file():
            root.error("program", f"the program file {path} does not exist")
            return None
        return (place.base_dir or given.parent).absolute()
    bases = [place.base_dir] if place.base_dir is not None else list(place.roots)
    if not bases:
        root.error(
            "program",
            f"{path!r} is relative, but this sweep has no folder to look in: give an absolute "
            "path or one inside a folder the server allows (`rungs serve --programs DIR`)",
        )
        return None
    for base in bases:
        if (base / given).is_file():
            return base.absolute()
    looked = ", ".join(str(base) for base in bases)
    root.error(
        "program",
        f"the program file {path!r} does not exist in {looked} (a relative program is "
        "relative to the sweep file's folder, as under wandb agent)",
    )
    return None


def _command(root: Section) -> tuple[str, ...] | None:
    raw = root.raw("command")
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(isinstance(e, str) for e in raw):
        root.error("command", f"expected a non-empty list of strings, but got {describe(raw)}")
        return None
    unknown = unknown_macros(raw)
    if unknown:
        valid = ", ".join("${" + name + "}" for name in MACROS)
        root.error(
            "command",
            f"unknown command macro {', '.join(unknown)}; valid macros: {valid}, and "
            "${envvar:NAME} inside any element",
        )
        return None
    return tuple(raw)


def _program_parameters(root: Section, searched: Collection[str]) -> dict[str, str]:
    sec = root.section("program_parameters")
    if sec is None:
        if _stage_count(root) > 1:
            root.error(
                "program",
                "a sweep with several stages needs `program_parameters: {subset: NAME}`: "
                "otherwise every stage trains the program on the same data",
            )
        return {}
    sec.check_keys(PARAMETER_KEYS)
    parameters: dict[str, str] = {}
    for key in PARAMETER_KEYS:
        name = sec.string(key, None)
        if name is None:
            continue
        if name in searched:
            sec.error(
                key,
                f"{name!r} is also a searched parameter: the stage's {key} and the search "
                "would both set it; rename one",
            )
        parameters[key] = name
    if "subset" not in parameters and _stage_count(root) > 1:
        sec.error(None, "a sweep with several stages needs `subset: NAME` here")
    return parameters


def check_program_plan(root: Section, program: Program, validation: Validation) -> None:
    """Warn when validation's subset or seeds would not reach the program."""
    if not validation.enabled:
        return
    for key, what in (("subset", f"subset {validation.subset}"), ("seed", "seeds")):
        if key not in program.parameters:
            root.warn(
                "program",
                f"validation retrains the top configs on {what}, but without "
                f"`program_parameters.{key}` the program sees it only as RUNGS_{key.upper()}",
            )


def _stage_count(root: Section) -> int:
    node = root.get("stages")
    return len(node.value) if node is not None and node.is_seq else 1


def searched_names(space_names: Sequence[str], nested: dict[str, tuple[str, ...]]) -> set[str]:
    """The argument names the program gets from the space: a nested parameter reaches it
    under its top-level name (``--optimizer={'lr': ...}``)."""
    return {nested[name][0] if name in nested else name for name in space_names}
