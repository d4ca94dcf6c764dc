"""Cancel and resume, and what a client sees when something breaks inside the server."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from orchestrator.storage import SQLStorage
from tests.orchestrator.api.conftest import QUICK_SPEC


def _sweep(storage: SQLStorage, state: str) -> int:
    sweep_id = storage.create_sweep(f"s-{state}", QUICK_SPEC, "name: s\n")
    if state != "queued":
        storage.set_sweep_state(sweep_id, state)
    return sweep_id


@pytest.mark.parametrize("state", ["queued", "running"])
def test_cancel_a_queued_or_running_sweep(
    client: TestClient, storage: SQLStorage, state: str
) -> None:
    sweep_id = _sweep(storage, state)
    response = client.post(f"/api/sweeps/{sweep_id}/cancel")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    assert storage.get_sweep(sweep_id).state == "cancelled"
    assert storage.claim_next_sweep("w", 30) is None  # a cancelled sweep never starts


@pytest.mark.parametrize("state", ["completed", "cancelled", "failed"])
def test_cancel_a_finished_sweep_is_409(
    client: TestClient, storage: SQLStorage, state: str
) -> None:
    sweep_id = _sweep(storage, state)
    response = client.post(f"/api/sweeps/{sweep_id}/cancel")
    assert response.status_code == 409 and f"is {state}" in response.json()["message"]
    assert storage.get_sweep(sweep_id).state == state


@pytest.mark.parametrize("state", ["interrupted", "failed", "cancelled"])
def test_resume_queues_the_sweep_again(client: TestClient, storage: SQLStorage, state: str) -> None:
    sweep_id = _sweep(storage, state)
    response = client.post(f"/api/sweeps/{sweep_id}/resume")
    assert response.status_code == 200 and response.json()["state"] == "queued"
    claimed = storage.claim_next_sweep("w", 30)
    assert claimed is not None and claimed.id == sweep_id


@pytest.mark.parametrize("state", ["queued", "running", "completed"])
def test_resume_refuses_live_and_completed_sweeps(
    client: TestClient, storage: SQLStorage, state: str
) -> None:
    sweep_id = _sweep(storage, state)
    response = client.post(f"/api/sweeps/{sweep_id}/resume")
    assert response.status_code == 409
    assert storage.get_sweep(sweep_id).state == state


def test_cancel_and_resume_of_an_unknown_sweep_are_404(client: TestClient) -> None:
    for action in ("cancel", "resume"):
        response = client.post(f"/api/sweeps/404/{action}")
        assert response.status_code == 404 and response.json() == {
            "message": "no sweep with id 404"
        }


def test_an_internal_error_is_a_json_message_without_a_stack_trace(
    client: TestClient,
    storage: SQLStorage,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> list[object]:
        raise RuntimeError("password=hunter2 in /srv/secret/config.py")

    monkeypatch.setattr(storage, "list_sweeps", broken)
    with caplog.at_level(logging.ERROR, logger="rungs.api"):
        response = client.get("/api/sweeps")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"message": "internal error: RuntimeError"}
    for leak in ("Traceback", "hunter2", "secret", 'File "'):
        assert leak not in response.text
    # the operator still gets the whole story in the log
    assert any(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records)


def test_unknown_paths_and_methods_are_json(client: TestClient) -> None:
    missing = client.get("/api/nothing-here")
    assert missing.status_code == 404 and missing.json() == {"message": "Not Found"}
    wrong = client.delete("/api/sweeps")
    assert wrong.status_code == 405 and wrong.json() == {"message": "Method Not Allowed"}


def test_the_dashboard_and_its_plotly_are_served(client: TestClient) -> None:
    index = client.get("/", follow_redirects=True)
    assert index.status_code == 200 and 'src="vendor/plotly.min.js"' in index.text
    plotly = client.get("/dashboard/vendor/plotly.min.js")
    assert plotly.status_code == 200 and "javascript" in plotly.headers["content-type"]
    assert len(plotly.content) > 1_000_000  # the real bundle from the plotly wheel, no CDN
    for name in ("api.js", "charts.js", "app.js", "style.css"):
        assert client.get(f"/dashboard/{name}").status_code == 200, name
