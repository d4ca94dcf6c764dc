"""Workers and servers killed for real: every sweep still runs to its end, exactly once.

The processes are the real ``rungs serve`` and worker loop, leases, pipeline, recorder and
storage; only the trials run in the worker's own process instead of on Ray
(``simulated_worker.py``), which keeps each test to seconds. Ray itself is killed in the SIGTERM
and topology tests.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestrator.api import create_app
from orchestrator.api.settings import Settings
from orchestrator.storage import SQLStorage
from tests.orchestrator.service_processes import (
    alive,
    assert_stored_exactly_once,
    children,
    free_port,
    kill_9,
    never_overlapping,
    result_count,
    services,
    submit,
    wait_for,
    wait_for_api,
)
from tests.orchestrator.simulated_worker import trace_events

pytestmark = pytest.mark.slow

SWEEP = """
name: NAME
metric: {name: score, goal: maximize}
model: {name: synthetic, fixed: {sleep_per_epoch: 0.15}}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
epochs: 3
stages:
  - {name: only, subset: 2000, trials: 3, early_terminate: null}
selection: {k: 1}
validation: {enabled: false}
wandb: false
"""
# Hyperband stops some trials early: their stored results must end where they were stopped.
RACE = """
name: race
metric: {name: score, goal: maximize}
model: {name: synthetic, fixed: {sleep_per_epoch: 0.1}}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
early_terminate: {type: hyperband, min_iter: 2, eta: 2}
epochs: 5
stages:
  - {name: only, subset: 2000, trials: 6}
selection: {k: 1}
validation: {enabled: false}
wandb: false
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rungs.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _wait_until_ready(trace: Path, workers: int) -> None:
    def ready() -> bool:
        return sum(event == "ready" for event, *_ in trace_events(trace)) >= workers

    wait_for(f"{workers} workers to start", ready, timeout=90)


def _busy(storage: SQLStorage, owner: str) -> bool:
    """Whether ``owner`` runs a sweep that stored results already."""
    return any(
        s.state == "running" and s.worker == owner and result_count(storage, s.id) > 0
        for s in storage.list_sweeps()
    )


def test_kill_9_of_a_worker_and_of_serve_every_sweep_still_runs_exactly_once(
    db_url: str, tmp_path: Path
) -> None:
    """Two servers (one embedded worker each) and a worker share the queue; the worker and one
    server are killed mid-sweep; the other server's worker takes their sweeps over."""
    storage = SQLStorage(db_url)
    trace = tmp_path / "trace"
    with services(tmp_path, RUNGS_LEASE_SECONDS="2") as run:
        ports = [free_port(), free_port()]
        servers = [
            run.simulated(f"serve{i}", "serve", "--db", db_url, "--port", str(port),
                          "--trace", str(trace))
            for i, port in enumerate(ports)
        ]  # fmt: skip
        worker = run.simulated("worker", "worker", "--db", db_url, "--name", "w",
                               "--trace", str(trace))  # fmt: skip
        base = f"http://127.0.0.1:{ports[0]}"
        wait_for_api(base, servers[0])
        _wait_until_ready(trace, workers=3)
        embedded = children(servers[0].pid)[0]  # the worker of the server to kill
        victims = {"w", f"{socket.gethostname()}:{embedded}"}
        names = [f"s{i}" for i in range(5)]
        ids = [submit(base, SWEEP.replace("NAME", n)) for n in names]
        wait_for("both victims running a sweep", lambda: all(_busy(storage, v) for v in victims))
        killed = {worker.pid: len(trace_events(trace))}
        kill_9(worker, group=True)  # the worker, as if its machine died
        kill_9(servers[0], group=False)  # only the server: its worker must not outlive it
        wait_for("the server's worker to end with it", lambda: not alive(embedded), 30)
        # Only now: until it noticed its parent was gone (within a second), that worker could
        # still write events and claim a sweep.
        killed[embedded] = len(trace_events(trace))
        # A victim may have completed a sweep before it was killed (its name stays on it):
        # only the sweeps it left running are orphaned.
        orphaned = {
            s.id for s in storage.list_sweeps() if s.worker in victims and s.state == "running"
        }
        wait_for(
            "every sweep to complete",
            lambda: all(storage.get_sweep(i).state == "completed" for i in ids),
            timeout=120,
        )
        events = trace_events(trace)
        runs = {name: never_overlapping(events, name, killed) for name in names}
        for sweep_id, name in zip(ids, names, strict=True):
            assert_stored_exactly_once(storage, sweep_id, trials=3)
            # once, or twice: killed half-way, then continued by the live server's worker
            assert len(runs[name]) == 1 or (sweep_id in orphaned and len(runs[name]) == 2), runs
        assert any(len(pids) == 2 for pids in runs.values()), runs  # a takeover continued one
        assert orphaned  # the kills left sweeps behind, and every one was taken over:
        assert not {storage.get_sweep(i).worker for i in orphaned} & victims
    storage.close()


def test_cancel_then_resume_never_runs_the_sweep_twice_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rungs.db'}"
    storage = SQLStorage(url)
    api = TestClient(create_app(Settings(database_url=url), storage))
    trace = tmp_path / "trace"
    with services(tmp_path) as run:  # the default 30 s lease: it must be given back, not expire
        for name in ("a", "b"):
            run.simulated(name, "worker", "--db", url, "--name", name, "--trace", str(trace))
        _wait_until_ready(trace, workers=2)
        sweep_id = int(api.post("/api/sweeps", content=RACE).json()["id"])
        wait_for("results", lambda: result_count(storage, sweep_id) >= 2)
        assert api.post(f"/api/sweeps/{sweep_id}/cancel").json()["state"] == "cancelled"
        assert api.post(f"/api/sweeps/{sweep_id}/resume").json()["state"] == "queued"
        wait_for(
            "the resumed sweep to complete",
            lambda: storage.get_sweep(sweep_id).state == "completed",
            timeout=90,
        )
        never_overlapping(trace_events(trace), "race")
        assert_stored_exactly_once(storage, sweep_id, trials=6)
    storage.close()
