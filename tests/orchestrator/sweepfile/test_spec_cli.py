"""``rungs validate`` and ``rungs init`` through ``orchestrator.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.sweepfile import default_template
from orchestrator.sweepfile.template import built_in_models

ROOT = Path(__file__).resolve().parents[3]
QUICKSTART = str(ROOT / "search_spaces" / "quickstart.yaml")


def test_validate_prints_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", QUICKSTART]) == 0
    out, err = capsys.readouterr()
    assert "stage 1  wide: subset 64" in out and "validation: 5 configs x 3 seeds" in out
    assert err == ""


def test_validate_reports_located_errors_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("program: x.py\nparameters:\n  lr: {min: 0.01, max: 0.003}\n")
    assert main(["validate", QUICKSTART, str(bad)]) == 1
    out, err = capsys.readouterr()
    assert f"{bad}:3:8: parameters.lr.min: min (0.01) must be below max (0.003)" in err.splitlines()
    assert f"{bad}:1:1: program: the program file 'x.py' does not exist in {tmp_path}" in err
    assert "errors in 1 of 2 file(s)" in err
    assert "sweep quickstart" in out  # the good file is still planned


def test_validate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("parameters: [1\n")
    assert main(["validate", "--json", QUICKSTART, str(bad)]) == 1
    out, _ = capsys.readouterr()
    good, broken = json.loads(out)["files"]
    assert good["ok"] and good["plan"]["budget"]["validation_runs"] == 15
    assert not broken["ok"] and broken["errors"][0]["line"] == 2


def test_validate_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "/nonexistent/sweep.yaml"]) == 1
    assert "/nonexistent/sweep.yaml:1:1: cannot read the file" in capsys.readouterr().err


def test_init_prints_the_template(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--model", "sepformer"]) == 0
    assert capsys.readouterr().out == default_template("sepformer")


def test_init_writes_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweeps" / "dprnn.yaml"
    assert main(["init", "--model", "dprnn", "--out", str(out)]) == 0
    assert main(["validate", str(out)]) == 0
    out.write_text("edited")
    assert main(["init", "--model", "dprnn", "--out", str(out)]) == 1
    assert out.read_text() == "edited" and "pass --force" in capsys.readouterr().err
    assert main(["init", "--model", "dprnn", "--out", str(out), "--force"]) == 0
    assert out.read_text() == default_template("dprnn")


def test_init_unknown_model_lists_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["init", "--model", "resnet"])
    assert info.value.code == 2
    choices = ", ".join(built_in_models())  # a user's script is swept with `program:`
    assert "choose from " + choices in capsys.readouterr().err.replace("'", "")


def test_validate_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["validate", "--help"])
    assert "rungs validate search_spaces/quickstart.yaml" in capsys.readouterr().out
