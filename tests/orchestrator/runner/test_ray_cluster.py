"""``--ray-address``: a tiny sweep across a local head node and a second node (1 CPU each)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from orchestrator.runner.pipeline import run_sweep

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
def two_node_cluster(request, monkeypatch):
    import ray

    # `ray start` turns on token authentication by default; this private test cluster (loopback
    # only, torn down after the test) runs without, so the driver needs no token file either.
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    port = _free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    temp = tempfile.mkdtemp(prefix="rk", dir="/tmp")
    head = _start(
        ["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}"], env
    )
    request.addfinalizer(lambda: _stop(head))
    address = f"127.0.0.1:{port}"
    _wait(
        lambda: (
            subprocess.run([RAY, "status", f"--address={address}"], capture_output=True).returncode
            == 0
        )
    )
    worker = _start([f"--address={address}"], env)
    request.addfinalizer(lambda: _stop(worker))
    request.addfinalizer(ray.shutdown)
    ray.init(address=address, log_to_driver=False, configure_logging=False)
    _wait(lambda: sum(1 for n in ray.nodes() if n["Alive"]) == 2)
    return address


def _wait(ready, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, "the Ray cluster did not come up"
        time.sleep(0.5)


def test_sweep_runs_across_two_nodes(storage, make_sweep, tmp_path: Path, two_node_cluster: str):
    import ray

    assert ray.cluster_resources()["CPU"] == 2.0  # one CPU on each node
    sweep_id = make_sweep(SWEEP)
    run_sweep(
        storage, sweep_id, ray_address=two_node_cluster, workdir=tmp_path / "w", progress=False
    )
    assert storage.get_sweep(sweep_id).state == "completed"
    trials = storage.get_trials(sweep_id, stage="only")
    assert len(trials) == 4 and all(t.status == "completed" and t.epochs == 4 for t in trials)
    # 1 CPU per node and per trial: trials overlapping in time ran on different nodes
    assert any(
        a.started_at < b.finished_at and b.started_at < a.finished_at
        for a in trials
        for b in trials
        if a.id != b.id
    )
