import csv

import pandas as pd
import pytest

from stages.export import (
    DEFAULT_CSV_NAME,
    infer_space,
    load_wandb_export,
    picks_to_frame,
    read_wandb_export,
    write_csv,
)
from stages.selection import Pick
from stages.space import Categorical, Constant, Numeric
from stages.trials import TrialSummary

SPACE = {"lr": Numeric(1e-4, 1e-2, log=True), "opt": Categorical(("adam", "=cmd()"))}


def picks():
    a = TrialSummary(1, {"lr": 1e-3, "opt": "adam", "extra": 2}, 4.08, name="fancy", variant="hb")
    b = TrialSummary(2, {"lr": 2e-3, "opt": "=cmd()"}, 3.9, name="+rose", variant="median")
    return [Pick(1, a, None, 0.0), Pick(2, b, 0.5, -0.2)]


def test_frame_has_the_documented_columns():
    frame = picks_to_frame(picks(), SPACE, metric="val_si_sdr")
    assert list(frame.columns) == [
        "rank", "name", "source", "trial_id", "stage", "variant", "val_si_sdr",
        "lr", "opt", "extra", "distance_to_nearest",
    ]  # fmt: skip
    assert frame["name"].tolist() == ["config1", "config2"]  # what validation calls them
    assert frame["source"].tolist() == ["fancy", "+rose"]
    named = picks_to_frame(picks(), SPACE, metric="val_si_sdr", names=["config2", None])
    assert named.loc[0, "name"] == "config2" and pd.isna(named.loc[1, "name"])
    assert frame["val_si_sdr"].tolist() == [4.08, 3.9]
    assert pd.isna(frame.loc[0, "distance_to_nearest"])


def test_csv_round_trips_and_neutralises_formulas(tmp_path):
    frame = picks_to_frame(picks(), SPACE, metric="val_si_sdr")
    frame.loc[0, "stage"] = "-2+3"
    path = write_csv(frame, tmp_path)
    assert path.name == DEFAULT_CSV_NAME
    back = pd.read_csv(path)
    assert back["opt"].tolist() == ["adam", "'=cmd()"]
    assert back["source"].tolist() == ["fancy", "'+rose"]
    assert back.loc[0, "stage"] == "'-2+3"
    assert back["lr"].tolist() == pytest.approx([1e-3, 2e-3])  # numbers untouched
    assert back["val_si_sdr"].tolist() == [4.08, 3.9]
    assert list(back.columns) == list(frame.columns)


def test_csv_neutralises_a_formula_header(tmp_path):
    path = write_csv(pd.DataFrame({"@SUM(A1)": [1], "ok": ["\tx"]}), tmp_path / "x.csv")
    assert path.read_text().splitlines() == ["'@SUM(A1),ok", "1,'\tx"]


def write_export(path, rows, columns):
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)


def test_wandb_export_plain_columns_skips_crashed_runs(tmp_path):
    columns = ["Name", "State", "Sweep", "Runtime", "lr", "opt", "val_si_sdr", "_step"]
    rows = [
        ["a", "finished", "hb1", 10, 1e-3, "adam", 3.5, 9],
        ["b", "crashed", "hb1", 2, 2e-3, "sgd", None, 1],
        ["c", "killed", "med", 5, 3e-3, "sgd", 2.0, 4],
    ]
    write_export(tmp_path / "runs.csv", rows, columns)
    export = load_wandb_export(tmp_path / "runs.csv", "val_si_sdr")
    assert export.skipped == ["b"]
    a, c = export.trials
    assert a.config == {"lr": 1e-3, "opt": "adam"} and a.value == 3.5
    assert (a.status, a.variant, c.status, c.variant) == (
        "completed",
        "hb1",
        "early_stopped",
        "med",
    )
    assert a.reached_full_budget and not c.reached_full_budget


def test_wandb_export_prefixed_columns(tmp_path):
    columns = ["Name", "State", "config.lr", "config.model.depth", "summary.loss", "notes"]
    write_export(tmp_path / "r.csv", [["a", "finished", 0.1, 4, 0.3, "x"]], columns)
    (trial,) = read_wandb_export(tmp_path / "r.csv", "loss")
    assert trial.config == {"lr": 0.1, "model.depth": 4} and trial.value == 0.3


def test_wandb_export_errors_name_the_columns(tmp_path):
    write_export(tmp_path / "r.csv", [["a", 1.0]], ["Name", "lr"])
    with pytest.raises(ValueError, match=r"metric 'loss' is not a column.*'lr'"):
        load_wandb_export(tmp_path / "r.csv", "loss")


def test_infer_space_bounds_scales_and_kinds():
    trials = [
        TrialSummary(1, {"lr": 1e-5, "clip": 1.0, "opt": "adam", "amp": True, "n": 8}, 1.0),
        TrialSummary(2, {"lr": 1e-2, "clip": 5.5, "opt": "sgd", "amp": False, "n": 8}, 1.0),
        TrialSummary(3, {"lr": 1e-3, "clip": 3.0}, 1.0),
    ]
    space = infer_space(trials)
    assert space["lr"] == Numeric(1e-5, 1e-2, log=True, integer=False)
    assert space["clip"] == Numeric(1.0, 5.5, log=False)
    assert space["opt"] == Categorical(("adam", "sgd"))
    assert space["amp"] == Categorical((False, True))
    assert space["n"] == Constant(8)


@pytest.mark.parametrize(
    "cell",
    [
        " =1+1",  # leading space: a spreadsheet trims it and runs the formula
        "\u00a0=1+1",  # no-break space
        " \u3000@SUM(A1)",  # ideographic space
        "\u200b+1",  # zero-width space
        "\uff1dcmd|' /C calc'!A0",  # fullwidth equals sign
        "\uff0b1",  # fullwidth plus
        "\uff0d1",  # fullwidth hyphen-minus
        "\uff20SUM(A1)",  # fullwidth commercial at
        "|calc",  # DDE
        "  |calc",
        "\nx",  # line feed
        "\rx",  # carriage return
        "\x00=1",  # NUL
    ],
)
def test_csv_neutralises_formulas_behind_blanks_and_fullwidth_signs(tmp_path, cell):
    path = write_csv(pd.DataFrame({"name": [cell], "lr": [0.5]}), tmp_path / "x.csv")
    assert _cells(path) == [["name", "lr"], ["'" + cell, "0.5"]]  # numbers stay numbers


@pytest.mark.parametrize("cell", ["adam", "lr = 3", "a-b", "1e-3", "", "café", "'=quoted"])
def test_csv_leaves_plain_text_alone(tmp_path, cell):
    path = write_csv(pd.DataFrame({"name": [cell]}), tmp_path / "x.csv")
    assert _cells(path) == [["name"], [cell]]


def _cells(path):
    """The file's cells exactly as written (pandas would parse numbers and newlines)."""
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def test_csv_keeps_negative_numbers_numeric(tmp_path):
    path = write_csv(pd.DataFrame({"delta": [-3, 2], "mixed": [-1.5, "x"]}), tmp_path / "x.csv")
    assert path.read_text().splitlines()[1:] == ["-3,-1.5", "2,x"]
