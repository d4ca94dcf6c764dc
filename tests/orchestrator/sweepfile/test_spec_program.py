"""``program:`` sweeps: a user's own training script, W&B's keys plus ``program_parameters``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.sweepfile import parse_spec, spec_from_dict, spec_to_dict
from orchestrator.sweepfile.program import ProgramPlace, requests_program
from stages.space import Constant
from stages.spec import Program
from tests.orchestrator.sweepfile.conftest import PROGRAMS

# the issue's syntax, as users and our tests write it
SWEEP = """\
program: train.py
command: [${env}, ${interpreter}, ${program}, ${args}]
method: bayes
metric: {name: val_si_sdr, goal: maximize}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
early_terminate: {type: hyperband, min_iter: 2, eta: 2}
program_parameters:
  subset: train_samples
  epochs: epochs
  seed: seed
stages:
  - {name: wide, subset: 2000, trials: 4}
  - {name: narrow, subset: 4000, trials: 2}
selection: {k: 2}
"""


def test_the_issue_syntax_gives_a_program_sweep(parse) -> None:
    spec = parse(SWEEP).spec
    assert spec.program == Program(
        path="train.py",
        workdir=str(PROGRAMS),
        command=("${env}", "${interpreter}", "${program}", "${args}"),
        parameters={"subset": "train_samples", "epochs": "epochs", "seed": "seed"},
    )
    assert spec.model.name == "program" and spec.metric.name == "val_si_sdr"
    assert [s.subset for s in spec.stages] == [2000, 4000]
    assert spec.budget_epochs(spec.stages[0]) is None  # the program decides its iterations


def test_a_program_sweep_round_trips_and_old_specs_still_load(parse) -> None:
    spec = parse(SWEEP.replace("  lr:", "  opt:\n    parameters:\n      lr:")).spec
    assert spec.program is not None and spec.program.nested == {"opt.lr": ("opt", "lr")}
    stored = json.loads(json.dumps(spec_to_dict(spec)))
    assert spec_from_dict(stored) == spec
    old = parse("model: dprnn\nparameters:\n  lr: {min: 0.1, max: 0.2}\n").spec
    stored = spec_to_dict(old)
    del stored["program"]  # stored before programs existed
    assert spec_from_dict(stored) == old and old.program is None


def test_w_and_b_default_command_and_no_stages_is_one_stage(parse) -> None:
    text = "program: train.py\nmetric: {name: loss}\nparameters:\n  lr: {min: 0.1, max: 0.2}\n"
    parsed = parse(text)
    spec = parsed.spec
    assert spec.program is not None and spec.program.command is None
    assert len(spec.stages) == 1 and spec.metric.goal == "minimize"  # W&B's default goal
    assert any("RUNGS_SEED" in str(w) for w in parsed.warnings)  # validation's seeds


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("program: train.py", "program: missing.py"),
            f"t.yaml:1:1: program: the program file 'missing.py' does not exist in {PROGRAMS}",
        ),
        (("${args}]", "${argz}]"), "t.yaml:2:1: command: unknown command macro ${argz}"),
        (
            ("  subset: train_samples\n", ""),
            "program_parameters: a sweep with several stages needs `subset: NAME` here",
        ),
        (
            ("  seed: seed", "  seed: lr"),
            "program_parameters.seed: 'lr' is also a searched parameter",
        ),
        (("  seed: seed", "  data: x"), "program_parameters.data: unknown key 'data'"),
        (("method: bayes", "model: dprnn"), "t.yaml:3:1: model: give either `model`"),
        (("metric: {name: val_si_sdr, goal: maximize}\n", ""), "a program sweep needs `metric:"),
    ],
)
def test_program_errors_are_located(errors, change: tuple[str, str], expected: str) -> None:
    assert SWEEP.count(change[0]) == 1
    lines = errors(SWEEP.replace(*change))
    assert any(expected in line for line in lines), lines


def test_several_stages_need_the_subset_parameter(errors) -> None:
    without = SWEEP.replace("program_parameters:\n  subset: train_samples\n  epochs: epochs\n", "")
    lines = errors(without.replace("  seed: seed\n", ""))
    assert any("needs `program_parameters: {subset: NAME}`" in line for line in lines), lines


def test_a_nested_name_counts_as_searched(errors) -> None:
    text = SWEEP.replace("  seed: seed", "  seed: opt").replace(
        "  lr:", "  opt:\n    parameters:\n      lr:"
    )
    assert any("'opt' is also a searched parameter" in line for line in errors(text))


def test_model_program_is_not_a_model(errors) -> None:
    lines = errors("model: program\nparameters:\n  lr: {min: 0.1, max: 0.2}\n")
    assert any("write `program: train.py` instead" in line for line in lines)


def test_dotted_names_stay_flat_and_may_not_clash_with_nested_ones(parse, errors) -> None:
    dotted = SWEEP.replace("  lr:", "  model.lr:")
    spec = parse(dotted).spec
    assert "model.lr" in spec.parameters and spec.program and spec.program.nested == {}
    clash = dotted.replace(
        "early_terminate:", "  model:\n    parameters:\n      lr: {value: 1}\nearly_terminate:"
    )
    assert any("'model.lr' is given twice" in line for line in errors(clash))


def test_a_constant_epochs_reaches_the_program_unless_it_is_the_stage_budget(parse) -> None:
    text = SWEEP.replace("early_terminate:", "  epochs: {value: 7}\nearly_terminate:")
    budget = parse(text).spec  # program_parameters.epochs is "epochs": the stage budget
    assert "epochs" not in budget.parameters and budget.stages[0].epochs == 7
    unmapped = parse(text.replace("  epochs: epochs\n", "")).spec
    assert unmapped.parameters["epochs"] == Constant(7)  # passed as W&B passes it


def test_a_text_without_a_folder_finds_programs_only_in_allowed_folders(tmp_path: Path) -> None:
    text = textwrap.dedent(SWEEP)
    with pytest.raises(Exception, match="relative, but this sweep has no folder"):
        parse_spec(text, "t.yaml")
    spec = parse_spec(text, "t.yaml", place=ProgramPlace(roots=(tmp_path, PROGRAMS))).spec
    assert spec.program is not None and spec.program.workdir == str(PROGRAMS)
    absolute = text.replace("program: train.py", f"program: {PROGRAMS / 'train.py'}")
    spec = parse_spec(absolute, "t.yaml").spec
    assert spec.program is not None and spec.program.workdir == str(PROGRAMS)


def test_requests_program_peeks_at_the_top_level() -> None:
    assert requests_program(SWEEP)
    assert not requests_program("parameters:\n  program: {value: 1}\n")
    assert not requests_program("program: [unclosed\n")


def test_validate_prints_the_first_trials_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "train.py").write_text((PROGRAMS / "train.py").read_text())
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    assert main(["validate", str(tmp_path / "sweep.yaml")]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if "first trial:" in ln)
    assert line.split("first trial: ")[1].startswith("/usr/bin/env ")
    assert " train.py --epochs=20 --lr=" in line and "--seed=0 --train_samples=2000" in line
    assert main(["validate", "--json", str(tmp_path / "sweep.yaml")]) == 0
    plan = json.loads(capsys.readouterr().out)["files"][0]["plan"]
    assert plan["program"]["first_command"][2:4] == ["train.py", "--epochs=20"]
