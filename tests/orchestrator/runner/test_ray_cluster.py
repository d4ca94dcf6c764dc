"""``rungs run --ray-address``: a tiny sweep across a local head node and a second node (1 CPU
each), driven through the CLI in a subprocess; the test process never joins the cluster."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from orchestrator.runner.trainable import NODE_ID
from orchestrator.storage import open_storage
from trainers.curves.synthetic import load_epochs

pytestmark = pytest.mark.slow

RAY = str(Path(sys.executable).with_name("ray"))
SWEEP = """
name: cluster
metric: {name: score, goal: maximize}
model: {name: synthetic, fixed: {sleep_per_epoch: 0.5}}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
epochs: 4
resources: {cpus_per_trial: 1}
stages:
  - {name: only, subset: 2000, trials: 4, early_terminate: null}
validation: {enabled: false}
selection: {k: 1}
wandb: false
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    # --block keeps each node's processes in one process group we own, so the finalizer can end
    # exactly them (never `ray stop`, which would end every Ray on the machine).
    cmd = [RAY, "start", *args, "--num-cpus=1", "--block", "--disable-usage-stats"]
    return subprocess.Popen(
        cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _stop(proc: subprocess.Popen) -> None:
    # SIGKILL to the node's own group (`ray start --block` ignores SIGTERM for many seconds);
    # its workers watch the raylet and exit with it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture
def two_node_cluster(request, monkeypatch) -> tuple[str, set[str]]:
    """The cluster's address and the ids of its two nodes, read with ``ray status``: nothing in
    the test process joins the cluster, so only ``--ray-address`` can bring a sweep onto it."""
    # `ray start` turns on token authentication by default; this private test cluster (loopback
    # only, torn down after the test) runs without, so the driver needs no token file either
    # (the CLI's subprocess inherits this).
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    port = _free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    temp = tempfile.mkdtemp(prefix="rk", dir="/tmp")
    head = _start(
        ["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}"], env
    )
    request.addfinalizer(lambda: _stop(head))
    address = f"127.0.0.1:{port}"
    _wait(lambda: len(_node_ids(address)) == 1)
    worker = _start([f"--address={address}"], env)
    request.addfinalizer(lambda: _stop(worker))
    _wait(lambda: len(_node_ids(address)) == 2)
    return address, _node_ids(address)


def _node_ids(address: str) -> set[str]:
    """The live nodes ``ray status`` lists (`` 1 node_<id>`` under Active or Idle)."""
    status = subprocess.run([RAY, "status", f"--address={address}"], capture_output=True, text=True)
    if status.returncode != 0:
        return set()
    return set(re.findall(r"^ 1 node_([0-9a-f]+)$", status.stdout, re.MULTILINE))


def _wait(ready, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, "the Ray cluster did not come up"
        time.sleep(0.5)


def test_sweep_runs_across_two_nodes(tmp_path: Path, two_node_cluster: tuple[str, set[str]]):
    address, node_ids = two_node_cluster
    yaml = tmp_path / "cluster.yaml"
    yaml.write_text(SWEEP)
    db = f"sqlite:///{tmp_path / 'r.db'}"
    cmd = [sys.executable, "-m", "orchestrator", "run", str(yaml), "--ray-address", address]
    cmd += ["--db", db, "--workdir", str(tmp_path / "w"), "--quiet"]
    env = {**os.environ, "RUNGS_HOME": str(tmp_path), "WANDB_MODE": "disabled"}
    env["RUNGS_STORAGE"] = str(tmp_path / "shared")  # both nodes are this machine: one folder
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr

    storage = open_storage(db)
    (sweep,) = storage.list_sweeps()
    assert sweep.state == "completed"
    trials = storage.get_trials(sweep.id, stage="only")
    assert len(trials) == 4 and all(t.status == "completed" and t.epochs == 4 for t in trials)
    # Every stored epoch names the Ray node that trained it: the cluster's two nodes, and only
    # they (an embedded Ray, had the flag been ignored, has a node of its own). With 1 CPU per
    # node and per trial, Ray places the first two trials on different nodes.
    ran_on = {r.metrics[NODE_ID] for t in trials for r in storage.get_results(t.id)}
    assert ran_on == node_ids, (ran_on, node_ids)
    storage.close()
    _checkpointed_in_shared_storage(tmp_path / "shared" / f"sweep-{sweep.id:04d}-cluster", trials)

    del env["RUNGS_STORAGE"]  # the same run without shared storage fails before any trial
    refused = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "2 alive nodes, but RUNGS_STORAGE is not set" in refused.stderr


def _checkpointed_in_shared_storage(folder: Path, trials: list) -> None:
    """synthetic checkpoints every epoch: each trial's folder holds all four, wherever it ran."""
    for t in trials:
        epochs = load_epochs(folder / "checkpoints" / "only" / t.key)
        assert [e["metrics"]["epoch"] for e in epochs] == [1, 2, 3, 4], t.key
