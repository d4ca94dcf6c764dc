"""The program's command line against W&B's own agent code (wandb 0.31) and by hand."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import yaml

from trainers.program.command import (
    DEFAULT_COMMAND,
    MACROS,
    args_json,
    build_command,
    ordered,
    unknown_macros,
)
from trainers.program.trainer import write_sweep_config

PARAMS: dict[str, Any] = {
    "lr": 1e-05,
    "batch_size": 16,
    "use_amp": True,
    "dropout_on": False,
    "layers": [64, 128],
    "optimizer": {"name": "adam", "betas": [0.9, 0.99], "nadam": {"beta": 0.5}},
    "model.depth": 3,
    "note": None,
    "name": "two words",
    "big": 1e20,
    "train_samples": 2000,
}
ALL_MACROS = [
    "${env}",
    "${interpreter}",
    "${program}",
    "--fixed",
    "${args}",
    "${args_no_hyphens}",
    "${args_no_boolean_flags}",
    "${args_no_equals}",
    "${args_append_hydra}",
    "${args_override_hydra}",
    "${args_json}",
    "${args_json_file}",
    "--out=${envvar:RUNGS_TEST_OUT}/x",
    "${envvar:RUNGS_TEST_UNSET}",
    "--cfg=${args}",
    7,
]


def _ours(command: list[Any] | None, json_file: str, params: dict[str, Any] = PARAMS) -> list[str]:
    return build_command(
        command,
        program="train.py",
        params=params,
        interpreter="python",
        args_json_file=json_file,
        environ=os.environ,
    )


def _agent_run(command: list[Any] | None, tmp_path: Path, monkeypatch: Any) -> SimpleNamespace:
    """What ``wandb agent`` runs for one run of these parameters, from its own ``_command_run``
    with the process launch replaced by a recorder."""
    from wandb import wandb_agent

    launched: dict[str, Any] = {}

    class Recorder:
        def __init__(self, command: list[str] | None = None, **kwargs: Any) -> None:
            launched["argv"] = command

    monkeypatch.setattr(wandb_agent, "AgentProcess", Recorder)
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    for name in ("WANDB_RUN_ID", "WANDB_SWEEP_PARAM_PATH"):  # restored after the test
        monkeypatch.setenv(name, "")
    monkeypatch.delenv("WANDB_SWEEP_ID", raising=False)
    agent = SimpleNamespace(
        _sweep_command=None if command is None else list(command),
        _function=None,
        _in_jupyter=False,
        _run_processes={},
        _forward_signals=False,
    )
    args = {name: {"value": value} for name, value in ordered(PARAMS).items()}
    run = {"args": args, "program": "train.py", "run_id": "r1"}
    wandb_agent.Agent._command_run(agent, run)  # type: ignore[arg-type]  # has what it reads
    folder = tmp_path / "wandb" / "sweep-None"
    return SimpleNamespace(
        argv=launched["argv"],
        json_file=folder / "config-r1.json",
        yaml_file=folder / "config-r1.yaml",
    )


def test_every_macro_matches_the_wandb_agent(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("RUNGS_TEST_OUT", "/data")
    monkeypatch.delenv("RUNGS_TEST_UNSET", raising=False)
    agent = _agent_run(ALL_MACROS, tmp_path, monkeypatch)
    assert _ours(ALL_MACROS, str(agent.json_file)) == agent.argv
    assert agent.json_file.read_text() == args_json(PARAMS)
    assert "--out=/data/x" in agent.argv and "RUNGS_TEST_UNSET" in agent.argv


def test_default_command_matches_the_wandb_agent(tmp_path: Path, monkeypatch: Any) -> None:
    agent = _agent_run(None, tmp_path, monkeypatch)
    assert _ours(None, "unused.json") == agent.argv
    assert agent.argv[:3] == ["/usr/bin/env", "python", "train.py"]


def test_wandb_config_file_is_the_one_the_agent_writes(tmp_path: Path, monkeypatch: Any) -> None:
    agent = _agent_run(None, tmp_path, monkeypatch)
    ours = tmp_path / "ours.yaml"
    write_sweep_config(ours, PARAMS)
    assert ours.read_text() == agent.yaml_file.read_text()


def test_argument_forms_match_wandb_create_sweep_command_args() -> None:
    from wandb.sdk.launch.sweeps.utils import create_sweep_command_args

    theirs = create_sweep_command_args(
        {"args": {name: {"value": value} for name, value in ordered(PARAMS).items()}}
    )
    for form in [name for name in MACROS if name.startswith("args") and name != "args_json_file"]:
        assert _ours(["${" + form + "}"], "unused.json") == theirs[form], form


def test_formatting_of_values_by_hand() -> None:
    params = {
        "flag": True,
        "off": False,
        "lr": np.float64(1e-05),
        "n": np.int64(3),
        "layers": (1, 2),
        "opt": {"lr": 0.01},
        "model.lr": 0.5,
        "none": None,
    }
    assert _ours(["${args}"], "unused.json", params) == [
        "--flag=True",
        "--layers=[1, 2]",
        "--lr=1e-05",
        "--model.lr=0.5",
        "--n=3",
        "--none=None",
        "--off=False",
        "--opt={'lr': 0.01}",
    ]
    assert _ours(["${args_no_boolean_flags}"], "unused.json", {"a": True, "b": False}) == ["--a"]
    assert _ours(["${args_no_equals}"], "unused.json", {"lr": 0.1}) == ["--lr", "0.1"]
    assert _ours(["${args_json}"], "unused.json", {"b": [1], "a": {"x": 1}}) == [
        '{"a": {"x": 1}, "b": [1]}'
    ]


def test_interpreter_program_and_literal_elements() -> None:
    argv = build_command(
        ["${interpreter}", "-u", "${program}", "--cfg=${args_json_file}", "${args_json_file}"],
        program="scripts/train.py",
        params={},
        interpreter="/venv/bin/python",
        args_json_file="/log/args.json",
        environ={},
    )
    assert argv == [
        "/venv/bin/python",
        "-u",
        "scripts/train.py",
        "--cfg=${args_json_file}",
        "/log/args.json",
    ]


def test_default_command_is_wandbs() -> None:
    assert DEFAULT_COMMAND == ("${env}", "${interpreter}", "${program}", "${args}")


def test_unknown_macros_are_listed_and_refused() -> None:
    command = [
        "${env}",
        "${interpeter}",
        "${args_dict}",
        "${envvar:HOME}",
        "--x=${nope}",
        "${envvar:lower}",
    ]
    assert unknown_macros(command) == ["${interpeter}", "${args_dict}", "${envvar:lower}"]
    assert unknown_macros(list(DEFAULT_COMMAND)) == []
    with pytest.raises(
        ValueError, match=r"unknown command macro \$\{interpeter\}.*valid macros: \$\{env\}"
    ) as error:
        _ours(command, "unused.json")
    assert all("${" + name + "}" in str(error.value) for name in MACROS)


def test_params_file_keeps_nested_values_readable_by_yaml(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    write_sweep_config(path, {"opt": {"lr": 1e-5}, "n": 1})
    loaded = yaml.safe_load(path.read_text())
    assert loaded == {"wandb_version": 1, "n": {"value": 1}, "opt": {"value": {"lr": 1e-5}}}
    write_sweep_config(path, {})
    assert yaml.safe_load(path.read_text()) == {"wandb_version": 1}
