"""The API when a worker or the database is gone: it resumes a sweep whose worker died (its lease
expired), refuses one whose worker lives, and answers 503, not 500, while the database is away."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError, OperationalError

from orchestrator.storage import SQLStorage
from tests.orchestrator.api.conftest import QUICK_SPEC

GONE = OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))


def _running(storage: SQLStorage, owner: str, lease_seconds: float) -> int:
    sweep_id = storage.create_sweep("s", QUICK_SPEC, "name: s\n")
    assert storage.acquire_lease(sweep_id, owner, lease_seconds)
    return sweep_id


def test_resume_queues_a_running_sweep_whose_worker_stopped_renewing_its_lease(
    client: TestClient, storage: SQLStorage
) -> None:
    sweep_id = _running(storage, "killed", -1.0)  # its lease expired a second ago
    response = client.post(f"/api/sweeps/{sweep_id}/resume")
    assert response.status_code == 200 and response.json()["state"] == "queued"
    claimed = storage.claim_next_sweep("alive", 30)
    assert claimed is not None and (claimed.id, claimed.worker) == (sweep_id, "alive")


def test_resume_refuses_a_sweep_whose_worker_still_renews_its_lease(
    client: TestClient, storage: SQLStorage
) -> None:
    sweep_id = _running(storage, "alive", 30.0)
    response = client.post(f"/api/sweeps/{sweep_id}/resume")
    assert response.status_code == 409
    assert "running under alive, whose lease is live" in response.json()["message"]
    assert storage.get_sweep(sweep_id).state == "running"


def test_cancel_then_resume_does_not_start_the_sweep_while_its_old_run_stops(
    client: TestClient, storage: SQLStorage
) -> None:
    sweep_id = _running(storage, "old", 30.0)
    assert client.post(f"/api/sweeps/{sweep_id}/cancel").json()["state"] == "cancelled"
    assert client.post(f"/api/sweeps/{sweep_id}/resume").json()["state"] == "queued"
    assert storage.claim_next_sweep("new", 30) is None  # "old" has not given the lease back
    storage.release_lease(sweep_id, "old", "cancelled")  # what its run does once stopped
    claimed = storage.claim_next_sweep("new", 30)
    assert claimed is not None and claimed.id == sweep_id


def test_the_api_answers_503_while_the_database_is_unreachable(
    client: TestClient, storage: SQLStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweep_id = storage.create_sweep("s", QUICK_SPEC, "name: s\n")

    def unreachable(*args: object, **kwargs: object) -> None:
        raise GONE

    for method in ("list_sweeps", "get_sweep", "create_sweep"):
        monkeypatch.setattr(storage, method, unreachable)
    for response in (
        client.get("/api/sweeps"),
        client.get(f"/api/sweeps/{sweep_id}"),
        client.post(f"/api/sweeps/{sweep_id}/cancel"),
    ):
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        assert "database is unreachable" in response.json()["message"]


def test_a_database_error_that_is_not_an_outage_stays_a_500(
    client: TestClient, storage: SQLStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    monkeypatch.setattr(storage, "list_sweeps", broken)
    response = client.get("/api/sweeps")
    assert response.status_code == 500
    assert response.json()["message"] == "internal error: IntegrityError"
