import json

import numpy as np
import pandas as pd
import pytest

from orchestrator.cli import main
from orchestrator.storage import open_storage
from orchestrator.sweepfile import spec_to_dict
from stages.space import Categorical, Numeric
from stages.spec import Metric, Model, Selection, Stage, SweepSpec


def wandb_export(path, n=120, crashed=10):
    """A W&B-style runs table: plain config columns, summary columns, 10 crashed runs."""
    rng = np.random.default_rng(0)
    lr = 10 ** rng.uniform(-4, -2, n)
    wd = 10 ** rng.uniform(-6, -4, n)
    clip = rng.uniform(0.5, 20, n)
    metric = 3 - (np.log10(lr) + 3) ** 2 - 1e4 * wd + rng.normal(0, 0.05, n)
    state = np.where(rng.random(n) < 0.3, "killed", "finished").astype(object)
    state[:crashed] = "crashed"
    metric[:crashed] = np.nan
    frame = pd.DataFrame(
        {
            "Name": [f"run-{i}" for i in range(n)],
            "State": state,
            "Sweep": np.where(np.arange(n) % 3 == 0, "median", "hyperband"),
            "Runtime": rng.integers(100, 1000, n),
            "lr": lr,
            "weight_decay": wd,
            "grad_clip": clip,
            "optimizer": np.where(np.arange(n) % 2 == 0, "adam", "adamw"),
            "val_si_sdr": metric,
            "_step": rng.integers(1, 50, n),
        }
    )
    frame.to_csv(path, index=False)
    return frame


def test_select_on_a_wandb_export_with_crashed_runs(tmp_path, capsys):
    frame = wandb_export(tmp_path / "runs.csv")
    out = tmp_path / "top.csv"
    argv = ["select", str(tmp_path / "runs.csv"), "--metric", "val_si_sdr"]
    code = main([*argv, "--goal", "maximize", "--k", "5", "--csv", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    assert "left out 10 runs without val_si_sdr" in captured.err
    picks = pd.read_csv(out)
    assert len(picks) == 5
    assert {"lr", "weight_decay", "grad_clip", "optimizer", "val_si_sdr"} <= set(picks.columns)
    assert "_step" not in picks.columns and "Runtime" not in picks.columns
    finished = frame[frame["State"] == "finished"]
    assert picks.loc[0, "val_si_sdr"] == pytest.approx(finished["val_si_sdr"].max())
    assert set(picks["source"]) <= set(finished["Name"])
    assert picks["name"].tolist() == [f"config{r}" for r in range(1, 6)]
    assert "| 1 |" in captured.out


def test_select_plain_top_k_and_a_space_yaml(tmp_path, capsys):
    frame = wandb_export(tmp_path / "runs.csv")
    (tmp_path / "train.py").write_text("")  # the W&B sweep's own script
    (tmp_path / "sweep.yaml").write_text(
        "method: bayes\nmetric: {name: val_si_sdr, goal: maximize}\nprogram: train.py\n"
        "parameters:\n  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}\n"
        "  weight_decay: {distribution: log_uniform_values, min: 1.0e-6, max: 1.0e-4}\n"
    )
    argv = ["select", str(tmp_path / "runs.csv"), "--metric", "val_si_sdr", "--k", "3"]
    argv += ["--diversity", "0", "--space", str(tmp_path / "sweep.yaml"), "--no-balance"]
    argv += ["--csv", str(tmp_path)]
    assert main(argv) == 0
    picks = pd.read_csv(tmp_path / "top5_configs_for_validation.csv")
    finished = frame[frame["State"] == "finished"].nlargest(3, "val_si_sdr")
    assert picks["source"].tolist() == finished["Name"].tolist()
    assert "grad_clip" not in picks.columns  # the space names the hyperparameters


def test_select_reports_a_missing_metric(tmp_path, capsys):
    wandb_export(tmp_path / "runs.csv")
    assert main(["select", str(tmp_path / "runs.csv"), "--metric", "nope"]) == 1
    assert "metric 'nope' is not a column" in capsys.readouterr().err


SPEC = SweepSpec(
    name="quick",
    metric=Metric("val_loss", "minimize"),
    parameters={"lr": Numeric(1e-4, 1e-2, log=True), "opt": Categorical(("adam", "sgd"))},
    model=Model("convtasnet"),
    stages=(Stage("stage1", 2000, 4, 3),),
    selection=Selection(k=2),
)


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'rungs.db'}"
    storage = open_storage(url)
    sweep = storage.create_sweep(SPEC.name, spec_to_dict(SPEC), "")
    stage = storage.upsert_stage(sweep, "stage1", position=0, kind="search", plan={"epochs": 3})
    for i, (lr, opt, loss) in enumerate(
        [(1e-3, "adam", 0.2), (2e-3, "sgd", 0.3), (1e-2, "adam", 0.9)]
    ):
        config = {"lr": lr, "opt": opt}
        tid = storage.create_trial(stage, variant="main", key=str(i), config=config, name=f"t{i}")
        storage.update_trial(tid, status="completed", best_value=loss, epochs=3, finished=True)
    return url, sweep


def test_top_prints_and_writes_k_rows(db, tmp_path, capsys):
    url, sweep = db
    assert main(["top", str(sweep), "--db", url, "--csv", str(tmp_path / "top.csv")]) == 0
    captured = capsys.readouterr()
    assert "| 1 | config1 | t0 | 1 |" in captured.out
    assert captured.err.startswith("Preview: selection has not run yet")
    top = pd.read_csv(tmp_path / "top.csv")
    assert top["name"].tolist() == ["config1", "config2"] and "val_loss" in top.columns
    assert top["source"].tolist() == ["t0", "t1"]
    assert main(["top", str(sweep), "--db", url, "--k", "1"]) == 0


def test_report_formats_and_unknown_sweep(db, capsys):
    url, sweep = db
    assert main(["report", str(sweep), "--db", url, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metric"] == {"name": "val_loss", "goal": "minimize"}
    assert [row["source"] for row in data["top_k"]] == ["t0", "t1"]
    assert data["top_k_source"] == "preview"
    assert main(["report", str(sweep), "--db", url]) == 0
    assert "# Sweep 1: quick" in capsys.readouterr().out
    assert main(["report", "42", "--db", url]) == 1
    assert "42" in capsys.readouterr().err


def test_help_texts_show_examples(capsys):
    for command in ("top", "select", "report"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "examples:" in capsys.readouterr().out
