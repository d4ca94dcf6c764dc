"""SIGTERM to ``rungs serve`` (what ``docker stop`` and systemd send) in the middle of a sweep:
the server, its embedded worker, the trials and the worker's Ray all end, no process is left
behind (re-parented to init or otherwise), and the sweep is ``interrupted`` and resumes."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestrator.api import create_app
from orchestrator.api.settings import Settings
from orchestrator.storage import SQLStorage
from tests.orchestrator.service_processes import (
    free_port,
    result_count,
    services,
    submit,
    wait_for,
    wait_for_api,
)

pytestmark = pytest.mark.slow

SWEEP = """
name: sigterm
metric: {name: score, goal: maximize}
model: {name: synthetic, fixed: {sleep_per_epoch: 0.5}}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
epochs: 10
resources: {cpus_per_trial: 1, max_concurrent: 1}
stages:
  - {name: only, subset: 2000, trials: 2, early_terminate: null}
selection: {k: 1}
validation: {enabled: false}
wandb: false
"""


def test_sigterm_stops_serve_its_worker_trials_and_ray_and_the_sweep_resumes(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'rungs.db'}"
    storage = SQLStorage(url)
    with services(tmp_path, RAY_AUTH_MODE="disabled") as run:
        port = free_port()
        serve = run.rungs("serve", "serve", "--db", url, "--port", str(port), "--workers", "1")
        base = f"http://127.0.0.1:{port}"
        wait_for_api(base, serve)
        sweep_id = submit(base, SWEEP)
        wait_for("a trial on Ray", lambda: result_count(storage, sweep_id) >= 1, timeout=150)
        assert len(run.marked()) > 3  # the server, its worker, Ray's processes, the trial

        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=120) == 0
        wait_for("every process to end", lambda: not run.marked(), timeout=30)

    sweep = storage.get_sweep(sweep_id)
    assert (sweep.state, sweep.lease_expires_at) == ("interrupted", None)
    assert str(sweep.error).startswith("KeyboardInterrupt"), sweep.error
    api = TestClient(create_app(Settings(database_url=url), storage))
    assert api.post(f"/api/sweeps/{sweep_id}/resume").json()["state"] == "queued"
    storage.close()
