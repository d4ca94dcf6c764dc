"""``rungs list`` and ``rungs cancel`` on a SQLite database."""

from __future__ import annotations

import json

import pytest

from orchestrator.cli import main
from orchestrator.storage import open_storage
from orchestrator.sweepfile import parse_spec, spec_to_dict

YAML = """
name: listed
method: random
metric: {name: score, goal: maximize}
model: {name: synthetic}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
stages:
  - {name: stage1, subset: 2000, trials: 4}
selection: {k: 2}
validation: {enabled: false}
wandb: false
"""


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'rungs.db'}"
    storage = open_storage(url)
    spec = parse_spec(YAML, "listed.yaml").spec
    queued = storage.create_sweep(spec.name, spec_to_dict(spec), YAML)
    done = storage.create_sweep("finished", spec_to_dict(spec), YAML, state="running")
    stage = storage.upsert_stage(done, "stage1", position=0, kind="search", plan={"epochs": 3})
    for i, value in enumerate((0.5, 0.8)):
        trial = storage.create_trial(stage, variant="main", key=f"k{i}", config={"lr": 1e-3})
        storage.update_trial(trial, status="completed", best_value=value, epochs=3, finished=True)
    storage.set_sweep_state(done, "completed")
    return url, queued, done


def test_list_shows_each_sweep_with_state_progress_and_best(db, capsys):
    url, queued, done = db
    assert main(["list", "--db", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "name", "state", "created", "progress", "best"]
    first, second = (line.split() for line in lines[1:])
    assert first[:3] == [str(queued), "listed", "queued"] and first[-2:] == ["0/4", "-"]
    assert second[:3] == [str(done), "finished", "completed"]
    assert second[-3:] == ["2/4", "score", "0.8"]
    assert main(["list", "--db", url, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["state"], r["best"]) for r in rows] == [
        (queued, "queued", None),
        (done, "completed", 0.8),
    ]


def test_cancel_makes_the_api_move_and_refuses_what_it_refuses(db, capsys):
    url, queued, done = db
    assert main(["cancel", str(queued), "--db", url]) == 0
    assert f"sweep {queued} (listed): cancelled" in capsys.readouterr().out
    assert open_storage(url).get_sweep(queued).state == "cancelled"
    assert main(["cancel", str(done), "--db", url]) == 1
    err = capsys.readouterr().err
    assert f"sweep {done} is completed; only ('queued', 'running') can be cancelled" in err
    assert main(["cancel", "99", "--db", url]) == 1
    assert "99" in capsys.readouterr().err


def test_list_of_an_empty_database_says_how_to_start(tmp_path, capsys):
    assert main(["list", "--db", f"sqlite:///{tmp_path / 'empty.db'}"]) == 0
    assert "no sweeps yet" in capsys.readouterr().err
