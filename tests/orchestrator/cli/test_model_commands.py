"""``rungs models`` and ``rungs data demo`` through their own parser (no other command group)."""

import argparse
import json
from pathlib import Path

import pytest

import trainers.data
from orchestrator.cli import model_commands
from trainers.registry import MODELS, ModelEntry


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rungs")
    model_commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_models_json_lists_every_registered_model(capsys) -> None:
    run(["models", "--json"])
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert set(listed) == set(MODELS)
    dprnn = listed["dprnn"]
    assert (dprnn["task"], dprnn["metric"], dprnn["goal"]) == ("separation", "si_sdr", "maximize")
    assert dprnn["error"] is None
    assert {"tiny", "paper"} <= set(dprnn["presets"])
    assert 2.3e6 < dprnn["presets"]["paper"] < 2.9e6


def test_a_broken_model_is_an_error_line_not_a_crash(monkeypatch, capsys) -> None:
    broken = ModelEntry("ghost", "trainers.no_such_model", "separation", "si_sdr", "maximize", "x")
    monkeypatch.setitem(MODELS, "ghost", broken)
    assert run(["models"]) == 1
    out = capsys.readouterr().out
    assert "ERROR: cannot import trainers.no_such_model" in out
    assert "presets: paper 2.61M" in out  # the other models are still listed


def test_data_demo_passes_its_arguments(monkeypatch, tmp_path, capsys) -> None:
    calls = []

    def fake(out_dir: str, size: int, seed: int) -> Path:
        calls.append((out_dir, size, seed))
        return Path(out_dir) / "manifest.csv"

    monkeypatch.setattr(trainers.data, "synthesize_demo_corpus", fake, raising=False)
    assert run(["data", "demo", "--out", str(tmp_path), "--size", "6", "--seed", "3"]) == 0
    assert calls == [(str(tmp_path), 6, 3)]
    assert capsys.readouterr().out.strip() == str(tmp_path / "manifest.csv")


def test_data_demo_rejects_a_non_positive_size(tmp_path) -> None:
    with pytest.raises(SystemExit, match="--size must be positive"):
        run(["data", "demo", "--out", str(tmp_path), "--size", "0"])
