"""Located diagnostics for sweep YAMLs.

Every problem in a file is a :class:`SpecError` (or :class:`SpecWarning`) that names the file, the
1-based line and column, the dotted field (``parameters.lr``, ``stages[1].subset``) and a message,
formatted like a compiler diagnostic so editors can jump to it::

    dprnn.yaml:9:7: parameters.lr: min (0.01) must be below max (0.003)

Parsing never stops at the first problem: a :class:`Diagnostics` collects them all and
:class:`SpecErrors` carries every error of a file at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SpecError:
    """One located error. ``line`` and ``column`` are 1-based; ``field`` may be empty for a
    problem of the whole document (a YAML syntax error)."""

    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "message": self.message,
        }


@dataclass(frozen=True)
class SpecWarning(SpecError):
    """A located warning: the file is valid but something is ignored or likely unintended."""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: warning"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class SpecErrors(Exception):
    """Raised by ``load_spec``/``parse_spec`` when a file has errors; holds all of them (sorted by
    position) and the warnings found on the way."""

    def __init__(self, errors: list[SpecError], warnings: list[SpecWarning] | None = None) -> None:
        self.errors = sorted(errors, key=lambda e: (e.line, e.column))
        self.warnings = sorted(warnings or [], key=lambda w: (w.line, w.column))
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass
class Diagnostics:
    """Collects errors and warnings of one file while it is parsed."""

    filename: str
    errors: list[SpecError] = field(default_factory=list)
    warnings: list[SpecWarning] = field(default_factory=list)

    def error(self, pos: tuple[int, int], field_name: str, message: str) -> None:
        """Identical errors (a block read twice, an inherited block) are kept once."""
        error = SpecError(self.filename, pos[0], pos[1], field_name, message)
        if error not in self.errors:
            self.errors.append(error)

    def warn(self, pos: tuple[int, int], field_name: str, message: str) -> None:
        """Identical warnings (an inherited block checked once per stage) are kept once."""
        warning = SpecWarning(self.filename, pos[0], pos[1], field_name, message)
        if warning not in self.warnings:
            self.warnings.append(warning)

    def raise_if_errors(self) -> None:
        if self.errors:
            raise SpecErrors(self.errors, self.warnings)


def join_path(parent: str, key: str | int) -> str:
    """``join_path("stages[1]", "subset") == "stages[1].subset"``; ints index lists."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def unknown_name(kind: str, name: object, valid: Iterable[str]) -> str:
    """``unknown key 'subet'; did you mean 'subset'? valid keys: ...``"""
    valid = sorted(valid)
    message = f"unknown {kind} {name!r}"
    close = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.6)
    if close:
        message += f"; did you mean {close[0]!r}?"
    return f"{message} (valid {kind}s: {', '.join(valid)})"
