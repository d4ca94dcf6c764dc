"""Helpers for the spec tests: parse inline YAML, collect the located error lines."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.sweepfile import ParsedSweep, SpecErrors, parse_spec
from orchestrator.sweepfile.program import ProgramPlace

# where a test's `program: train.py` is, as if the sweep file sat beside it
PROGRAMS = Path(__file__).parent / "programs"

# a minimal valid file: tests append or replace blocks
MINIMAL = """\
model: {name: dprnn, preset: tiny}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
"""


def _parse(text: str) -> ParsedSweep:
    return parse_spec(textwrap.dedent(text), filename="t.yaml", place=ProgramPlace(PROGRAMS))


def _errors(text: str) -> list[str]:
    with pytest.raises(SpecErrors) as info:
        _parse(text)
    assert all(e.line >= 1 and e.column >= 1 for e in info.value.errors)
    return [str(e) for e in info.value.errors]


@pytest.fixture
def parse() -> Callable[[str], ParsedSweep]:
    return _parse


@pytest.fixture
def errors() -> Callable[[str], list[str]]:
    """The located error lines of a text that must fail."""
    return _errors
