"""docker-compose.yml's topology as processes (no container engine runs here): PostgreSQL, a Ray
head and a second Ray node, ``rungs serve --workers 0`` and a separate ``rungs worker``, all
joined through ``--ray-address``. A sweep submitted over HTTP runs across both nodes; its worker
is killed (``kill -9``) mid-sweep and started again, takes the sweep over once the lease expires,
and the top-5 CSV comes back over HTTP - with every result stored exactly once."""

from __future__ import annotations

import csv
import io
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orchestrator.runner.trainable import NODE_ID
from orchestrator.storage import SQLStorage
from tests.orchestrator.service_processes import (
    Services,
    assert_stored_exactly_once,
    free_port,
    kill_9,
    result_count,
    services,
    submit,
    wait_for,
    wait_for_api,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

RAY = str(Path(sys.executable).with_name("ray"))
SWEEP = """
name: topology
metric: {name: score, goal: maximize}
model: {name: synthetic, fixed: {sleep_per_epoch: 0.4}}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
  weight_decay: {distribution: log_uniform_values, min: 1.0e-6, max: 1.0e-3}
epochs: 3
resources: {cpus_per_trial: 1}
stages:
  - {name: only, subset: 2000, trials: 8, early_terminate: null}
selection: {k: 5, require_full_budget: false}
validation: {enabled: false}
wandb: false
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Services, str]]:
    """The processes' environment, and a Ray head plus a second node (1 CPU each)."""
    temp = Path(tempfile.mkdtemp(prefix="rk", dir="/tmp"))  # Ray's socket paths must be short
    env = {"RAY_AUTH_MODE": "disabled", "RUNGS_LEASE_SECONDS": "3"}
    env["RUNGS_STORAGE"] = str(tmp_path / "shared")  # both nodes are this machine: one folder
    with services(tmp_path, **env) as run:
        port = free_port()
        address = f"127.0.0.1:{port}"
        node = ["--num-cpus=1", "--block", "--disable-usage-stats"]
        run.start("ray-head", RAY, "start", "--head", f"--port={port}", f"--temp-dir={temp}",
                  "--include-dashboard=false", *node)  # fmt: skip
        # started at once: the node waits for the head's GCS to come up, then joins
        run.start("ray-node", RAY, "start", f"--address={address}", *node)
        wait_for("two Ray nodes", lambda: _nodes(address, run) == 2, timeout=120)
        yield run, address
    shutil.rmtree(temp, ignore_errors=True)


def _nodes(address: str, run: Services) -> int:
    """How many live nodes ``ray status`` lists."""
    status = subprocess.run(
        [RAY, "status", f"--address={address}"], capture_output=True, text=True, env=run.env
    )
    return len(re.findall(r"^ 1 node_[0-9a-f]+$", status.stdout, re.MULTILINE))


def test_the_compose_topology_as_processes_survives_a_killed_worker(
    cluster: tuple[Services, str], postgres_url: str
) -> None:
    run, address = cluster
    storage = SQLStorage(postgres_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = run.rungs("serve", "serve", "--db", postgres_url, "--port", str(port),
                      "--workers", "0", "--ray-address", address)  # fmt: skip
    worker = run.rungs("worker1", "worker", "--db", postgres_url, "--ray-address", address)
    wait_for_api(base, serve)
    sweep_id = submit(base, SWEEP)
    wait_for("trials on the cluster", lambda: result_count(storage, sweep_id) >= 2, 180)
    first_owner = storage.get_sweep(sweep_id).worker
    assert first_owner == f"{socket.gethostname()}:{worker.pid}"

    kill_9(worker, group=True)
    run.rungs("worker2", "worker", "--db", postgres_url, "--ray-address", address)
    wait_for("the sweep to complete", lambda: _state(base, sweep_id) == "completed", 240)

    top = httpx.get(f"{base}/api/sweeps/{sweep_id}/top.csv", timeout=30)
    assert top.status_code == 200, top.text
    rows = list(csv.DictReader(io.StringIO(top.text)))
    assert len(rows) == 5 and all(row["lr"] for row in rows)
    assert_stored_exactly_once(storage, sweep_id, trials=8)
    assert storage.get_sweep(sweep_id).worker not in (None, first_owner)  # taken over
    trials = storage.get_trials(sweep_id)
    nodes = {r.metrics[NODE_ID] for t in trials for r in storage.get_results(t.id)}
    assert len(nodes) == 2, nodes  # trials ran on both Ray nodes
    storage.close()


def _state(base: str, sweep_id: int) -> str:
    response = httpx.get(f"{base}/api/sweeps/{sweep_id}", timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["state"])
