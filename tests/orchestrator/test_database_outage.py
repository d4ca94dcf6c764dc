"""PostgreSQL stopped in the middle of a sweep (``pg_ctl stop -m fast``), then started again.

A short outage: the worker and its recorder wait, keep their buffered results, and the sweep
ends with every result stored exactly once; meanwhile the API answers 503, and afterwards the
same worker runs the next submission. An outage longer than ``RUNGS_DB_OUTAGE_LIMIT_S``: the
sweep fails with that reason, recorded once the database is back, and a resume completes it.

These tests stop the server, so they start one of their own from the system's PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestrator.api import create_app
from orchestrator.api.settings import Settings
from orchestrator.storage import SQLStorage
from tests.orchestrator.service_processes import (
    Services,
    assert_stored_exactly_once,
    free_port,
    result_count,
    services,
    wait_for,
)
from tests.orchestrator.simulated_worker import trace_events
from tests.services import SERVER_OPTIONS, system_bin_dir

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SWEEP = """
name: NAME
metric: {name: score, goal: maximize}
model: {name: synthetic, fixed: {sleep_per_epoch: SLEEP}}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
epochs: 4
stages:
  - {name: only, subset: 2000, trials: 4, early_terminate: null}
selection: {k: 1}
validation: {enabled: false}
wandb: false
"""


def _as_postgres(*argv: str | Path, check: bool = True) -> None:
    command = [str(part) for part in argv]
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=check, capture_output=True, timeout=120)


@dataclass
class Server:
    """A PostgreSQL server this module owns, so it may stop it."""

    url: str
    bin_dir: Path
    data: Path
    options: str

    def stop(self, mode: str = "fast") -> None:
        _as_postgres(self.bin_dir / "pg_ctl", "-D", self.data, "-w", "-m", mode, "stop")

    def start(self) -> None:
        log = self.data.parent / "log"
        _as_postgres(
            self.bin_dir / "pg_ctl", "-D", self.data, "-w", "-l", log, "-o", self.options, "start"
        )


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    bin_dir = system_bin_dir()
    if bin_dir is None:
        pytest.fail(
            "the PostgreSQL restart tests stop and start a server of their own: they need "
            "PostgreSQL's binaries under /usr/lib/postgresql (apt-get install postgresql)",
            pytrace=False,
        )
    root = Path(tempfile.mkdtemp(prefix="rungs-pgr-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = free_port()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 {SERVER_OPTIONS}"
    _as_postgres(bin_dir / "initdb", "-D", root / "data", "-A", "trust", "-U", "postgres")
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    running = Server(url, bin_dir, root / "data", options)
    running.start()
    try:
        yield running
    finally:
        _as_postgres(
            bin_dir / "pg_ctl", "-D", root / "data", "-m", "immediate", "stop", check=False
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def api(server: Server) -> Iterator[tuple[TestClient, SQLStorage]]:
    storage = SQLStorage(server.url)
    for sweep in storage.list_sweeps():  # the module's server is shared: start from empty
        storage.set_sweep_state(sweep.id, "cancelled")
    client = TestClient(create_app(Settings(database_url=server.url), storage))
    yield client, storage
    client.close()
    storage.close()


def _submit(client: TestClient, name: str, sleep_per_epoch: float = 0.2) -> int:
    text = SWEEP.replace("NAME", name).replace("SLEEP", str(sleep_per_epoch))
    response = client.post("/api/sweeps", content=text)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _state_is(storage: SQLStorage, sweep_id: int, state: str) -> bool:
    try:
        return storage.get_sweep(sweep_id).state == state
    except Exception:  # the database may still be coming back
        return False


def _start_worker(run: Services, server: Server, trace: Path) -> subprocess.Popen[bytes]:
    worker = run.simulated("worker", "worker", "--db", server.url, "--name", "w",
                           "--trace", str(trace))  # fmt: skip
    wait_for("the worker", lambda: any(e == "ready" for e, *_ in trace_events(trace)), 90)
    return worker


def test_a_restart_mid_sweep_loses_and_duplicates_nothing_and_the_worker_lives_on(
    server: Server, api: tuple[TestClient, SQLStorage], tmp_path: Path
) -> None:
    client, storage = api
    with services(tmp_path) as run:
        worker = _start_worker(run, server, tmp_path / "trace")
        sweep_id = _submit(client, "restart")
        wait_for("results", lambda: result_count(storage, sweep_id) >= 2)
        server.stop()
        back_at = time.monotonic() + 10
        during = client.get("/api/sweeps")
        assert during.status_code == 503 and during.headers["retry-after"] == "5"
        time.sleep(max(0.0, back_at - time.monotonic()))  # the outage: about ten seconds
        server.start()
        wait_for("the sweep to complete", lambda: _state_is(storage, sweep_id, "completed"), 120)
        assert_stored_exactly_once(storage, sweep_id, trials=4)
        assert worker.poll() is None  # the worker lived through it ...
        later = _submit(client, "later", 0.0)  # ... and runs what is submitted afterwards
        wait_for("the next sweep", lambda: _state_is(storage, later, "completed"), 60)


def test_an_outage_past_the_limit_fails_the_sweep_with_its_reason_and_a_resume_completes_it(
    server: Server, api: tuple[TestClient, SQLStorage], tmp_path: Path
) -> None:
    client, storage = api
    with services(tmp_path, RUNGS_DB_OUTAGE_LIMIT_S="2") as run:
        worker = _start_worker(run, server, tmp_path / "trace")
        sweep_id = _submit(client, "outage")
        wait_for("results", lambda: result_count(storage, sweep_id) >= 2)
        server.stop()
        time.sleep(5)  # longer than the limit
        server.start()
        wait_for("the failure to be recorded", lambda: _state_is(storage, sweep_id, "failed"), 60)
        error = str(storage.get_sweep(sweep_id).error)
        assert error.startswith("DatabaseOutage: the database was unreachable for"), error
        assert "RUNGS_DB_OUTAGE_LIMIT_S" in error
        assert worker.poll() is None
        assert client.post(f"/api/sweeps/{sweep_id}/resume").json()["state"] == "queued"
        wait_for("the resumed sweep", lambda: _state_is(storage, sweep_id, "completed"), 60)
        assert_stored_exactly_once(storage, sweep_id, trials=4)
