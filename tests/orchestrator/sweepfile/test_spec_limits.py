"""Hostile sweep files: alias bombs, deep nesting, huge documents, control characters and bad
names fail fast with located errors, in the parser and through ``rungs validate``/``rungs run``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.sweepfile.bounds import MAX_DOCUMENT_CHARS
from tests.orchestrator.sweepfile.conftest import MINIMAL

# nine levels of nine aliases each: 9**9 (387 million) strings once expanded, in 342 bytes
BILLION_LAUGHS = "".join(
    f"{a}: &{a} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
    for p, a in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


def test_an_alias_bomb_is_a_located_error(errors: Callable[[str], list[str]]) -> None:
    assert len(BILLION_LAUGHS) < 500
    [error] = errors(BILLION_LAUGHS)
    assert error.startswith("t.yaml:5:") and "once aliases are expanded" in error


def test_too_many_aliases_is_a_located_error(errors: Callable[[str], list[str]]) -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 101) + "]\n"
    [error] = errors(text)
    assert error.startswith("t.yaml:2:") and "more than 100 aliases" in error


@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_deep_nesting_is_a_located_error(errors: Callable[[str], list[str]], opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    [error] = errors("parameters: " + opening * 1000 + "1" + closing * 1000 + "\n")
    assert error.startswith("t.yaml:1:") and "nested deeper than 64 levels" in error


def test_aliases_cannot_stack_past_the_depth_limit(errors: Callable[[str], list[str]]) -> None:
    deep = "[" * 40 + "1" + "]" * 40
    text = f"a: &a {deep}\nb: &b {'[' * 30}*a{']' * 30}\nc: *b\n"
    assert any("nested deeper than 64 levels (through aliases)" in e for e in errors(text))


def test_a_document_over_the_size_limit_is_refused(errors: Callable[[str], list[str]]) -> None:
    [error] = errors(MINIMAL + "#" * MAX_DOCUMENT_CHARS + "\n")
    assert error.startswith("t.yaml:1:1:") and "the limit is" in error


def test_control_characters_in_strings_are_located_errors(
    errors: Callable[[str], list[str]],
) -> None:
    [error] = errors(MINIMAL + 'description: "line\\0break"\n')
    assert error.startswith("t.yaml:4:") and "control character '\\x00'" in error


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ('"a\\tb"', "control or format characters"),
        ('"\\u202egnp.exe"', "control or format characters"),
        ('"   "', "must not be blank"),
        ("y" * 201, "at most 200 characters"),
    ],
)
def test_bad_sweep_names_are_located_errors(
    errors: Callable[[str], list[str]], name: str, message: str
) -> None:
    [error] = errors(f"name: {name}\n" + MINIMAL)
    assert error.startswith("t.yaml:1:1: name: ") and message in error


def test_a_path_is_a_valid_sweep_name(parse: Callable[[str], object]) -> None:
    assert parse("name: ../../etc/x\n" + MINIMAL).spec.name == "../../etc/x"  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ['"stage1\\n"', "x" * 101, ".hidden", ".."])
def test_stage_names_stay_one_short_folder_name(
    errors: Callable[[str], list[str]], name: str
) -> None:
    [error] = errors(MINIMAL + f"stages:\n  - {{name: {name}, subset: 100}}\n")
    assert "stages[0].name: must be 1-100 letters" in error


def test_validate_fails_fast_on_an_alias_bomb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BILLION_LAUGHS)
    assert main(["validate", str(bomb)]) == 1
    err = capsys.readouterr().err
    assert f"{bomb}:5:" in err and "the document is too complex" in err


def test_run_refuses_a_bad_name_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = tmp_path / "s.yaml"
    sweep.write_text(MINIMAL)
    assert main(["run", str(sweep), "--name", "x\x00y", "--db", "sqlite://"]) == 2
    assert "rungs run: --name: must not contain control" in capsys.readouterr().err


def test_run_reports_a_located_name_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep = tmp_path / "s.yaml"
    sweep.write_text('name: "a\\u0007b"\n' + MINIMAL)
    assert main(["run", str(sweep), "--db", "sqlite://"]) == 2
    assert f"{sweep}:1:" in capsys.readouterr().err
