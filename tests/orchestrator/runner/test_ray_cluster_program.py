"""``--ray-address`` with a user's program: its folder reaches the nodes through Ray's runtime
environment (``working_dir``), not through an assumed shared filesystem, and each trial runs in
its node's copy of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.runner.trainable import NODE_ID
from orchestrator.storage import open_storage
from tests.orchestrator.runner.program_processes import processes_of_sweep
from tests.orchestrator.runner.test_ray_cluster import two_node_cluster  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow

PROGRAM = """\
import argparse, json, os, time

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float)
parser.add_argument("--epochs", type=int)
args = parser.parse_args()
print("running in", os.getcwd(), flush=True)
for epoch in range(1, args.epochs + 1):
    time.sleep(0.5)
    print("[rungs]", json.dumps({"score": args.lr * epoch}), flush=True)
"""
SWEEP = """\
name: cluster-program
program: train.py
metric: {name: score, goal: maximize}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
program_parameters: {epochs: epochs}
epochs: 4
resources: {cpus_per_trial: 1}
stages:
  - {name: only, subset: 2000, trials: 4, early_terminate: null}
validation: {enabled: false}
selection: {k: 1}
"""


def test_a_program_sweep_runs_across_two_nodes(
    tmp_path: Path,
    two_node_cluster: tuple[str, set[str]],  # noqa: F811
) -> None:
    address, node_ids = two_node_cluster
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(PROGRAM)
    (project / "sweep.yaml").write_text(SWEEP)
    db = f"sqlite:///{tmp_path / 'r.db'}"
    cmd = [sys.executable, "-m", "orchestrator", "run", str(project / "sweep.yaml")]
    cmd += ["--ray-address", address, "--db", db, "--workdir", str(tmp_path / "w"), "--quiet"]
    env = {**os.environ, "RUNGS_HOME": str(tmp_path)}
    env["RUNGS_STORAGE"] = str(tmp_path / "shared")  # checkpoints' storage, not the program's
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr

    storage = open_storage(db)
    (sweep,) = storage.list_sweeps()
    assert sweep.state == "completed"
    trials = storage.get_trials(sweep.id, stage="only")
    assert len(trials) == 4 and all(t.status == "completed" and t.epochs == 4 for t in trials)
    ran_on = {r.metrics[NODE_ID] for t in trials for r in storage.get_results(t.id)}
    assert ran_on == node_ids, (ran_on, node_ids)  # both nodes ran programs
    logs = Path(storage.get_stages(sweep.id)[0].plan["sweep_dir"]) / "logs" / "only"
    for trial in trials:
        where = (logs / trial.key / "stdout.log").read_text().splitlines()[0]
        assert where.startswith("running in ") and "_ray_pkg_" in where, where  # Ray's copy
    assert processes_of_sweep("cluster-program") == []
    storage.close()
