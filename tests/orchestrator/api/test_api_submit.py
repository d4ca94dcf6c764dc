"""Submitting sweeps: raw and multipart bodies, located 422 errors, body limits, bearer auth."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from orchestrator.storage import SQLStorage
from tests.orchestrator.api.conftest import QUICK_SPEC, QUICK_YAML

YAML = {"Content-Type": "application/x-yaml"}
TOKEN = "s3cret-token"

BAD_YAML = """\
name: bad
metric: {name: score, goal: maximize}
model: {name: synthetic}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-2, max: 1.0e-4}
epochs: 4
selection: {k: 2}
stages:
  - {name: s1, subset: -5, trials: 4}
"""


def test_submit_raw_yaml_queues_a_sweep_that_the_list_shows(client: TestClient) -> None:
    created = client.post("/api/sweeps?filename=quick.yaml", content=QUICK_YAML, headers=YAML)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "api-quick" and body["state"] == "queued"
    listed = client.get("/api/sweeps").json()
    assert [(s["id"], s["name"], s["state"]) for s in listed] == [
        (body["id"], "api-quick", "queued")
    ]
    assert listed[0]["trials_planned"] == 6 + 6 + 2 * 2  # stage1 + stage3 variants + k x seeds


def test_submit_multipart_upload(client: TestClient, storage: SQLStorage) -> None:
    files = {"file": ("mine.yaml", QUICK_YAML.encode(), "application/x-yaml")}
    created = client.post("/api/sweeps", files=files)
    assert created.status_code == 201, created.text
    stored = storage.get_sweep(created.json()["id"])
    assert stored.yaml_text == QUICK_YAML and stored.source_path == "mine.yaml"


def test_multipart_without_a_file_field_is_422(client: TestClient) -> None:
    response = client.post("/api/sweeps", files={"other": ("x.yaml", b"name: x\n")})
    assert response.status_code == 422
    assert "`file`" in response.json()["message"]


def test_invalid_yaml_is_422_with_located_errors(client: TestClient) -> None:
    response = client.post("/api/sweeps?filename=bad.yaml", content=BAD_YAML, headers=YAML)
    assert response.status_code == 422
    body = response.json()
    located = {(e["line"], e["field"]) for e in body["errors"]}
    assert (5, "parameters.lr.min") in located  # min > max, on the lr line
    assert (9, "stages[0].subset") in located  # subset -5, on the stage line
    assert all(e["file"] == "bad.yaml" and e["message"] for e in body["errors"])
    assert body["message"].startswith(f"{len(body['errors'])} error(s)")
    assert client.get("/api/sweeps").json() == []  # nothing was queued


def test_yaml_syntax_error_names_its_line(client: TestClient) -> None:
    response = client.post("/api/sweeps", content="name: [unclosed\nfoo: 1\n", headers=YAML)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["line"] == 2 and "YAML syntax error" in error["message"]


def test_non_utf8_body_is_422(client: TestClient) -> None:
    response = client.post("/api/sweeps", content=b"name: \xff\xfe\n", headers=YAML)
    assert response.status_code == 422 and "UTF-8" in response.json()["message"]


def test_oversized_body_is_413(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=2000)
    padded = QUICK_YAML + "#" * 3000 + "\n"
    response = client.post("/api/sweeps", content=padded, headers=YAML)
    assert response.status_code == 413 and "too large" in response.json()["message"]
    files = {"file": ("big.yaml", padded.encode(), "application/x-yaml")}
    assert client.post("/api/sweeps", files=files).status_code == 413
    assert client.get("/api/sweeps").json() == []


def test_chunked_oversized_body_is_413(make_client: Callable[..., TestClient]) -> None:
    """A chunked body has no Content-Length for the middleware: the route checks the size."""
    client = make_client(max_body_bytes=2000)
    chunks = iter([QUICK_YAML.encode(), b"#" * 3000])
    response = client.post("/api/sweeps", content=chunks, headers=YAML)
    assert response.status_code == 413


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic " + TOKEN, TOKEN])
def test_writes_need_the_token(
    make_client: Callable[..., TestClient], storage: SQLStorage, header: str | None
) -> None:
    client = make_client(api_token=TOKEN)
    sweep_id = storage.create_sweep("s", QUICK_SPEC, "name: s\n")
    headers = {**YAML, **({"Authorization": header} if header else {})}
    for path, body in (("/api/sweeps", QUICK_YAML), (f"/api/sweeps/{sweep_id}/cancel", None)):
        response = client.post(path, content=body, headers=headers)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
        assert "bearer token" in response.json()["message"]
    storage.set_sweep_state(sweep_id, "failed")
    assert client.post(f"/api/sweeps/{sweep_id}/resume", headers=headers).status_code == 401
    assert storage.get_sweep(sweep_id).state == "failed"  # nothing changed
    assert len(storage.list_sweeps()) == 1


def test_the_right_token_writes_and_reads_stay_open(
    make_client: Callable[..., TestClient], storage: SQLStorage
) -> None:
    client = make_client(api_token=TOKEN)
    auth = {**YAML, "Authorization": f"Bearer {TOKEN}"}
    created = client.post("/api/sweeps", content=QUICK_YAML, headers=auth)
    assert created.status_code == 201
    sweep_id = created.json()["id"]
    assert client.get("/api/sweeps").status_code == 200  # reads are open by default
    assert client.get(f"/api/sweeps/{sweep_id}").status_code == 200
    cancelled = client.post(f"/api/sweeps/{sweep_id}/cancel", headers=auth)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    resumed = client.post(f"/api/sweeps/{sweep_id}/resume", headers=auth)
    assert resumed.status_code == 200 and resumed.json()["state"] == "queued"


def test_reads_need_the_token_when_configured(
    make_client: Callable[..., TestClient], storage: SQLStorage
) -> None:
    client = make_client(api_token=TOKEN, reads_require_token=True)
    sweep_id = storage.create_sweep("s", QUICK_SPEC, "name: s\n")
    paths = ["/api/sweeps", f"/api/sweeps/{sweep_id}", f"/api/sweeps/{sweep_id}/trials",
             f"/api/sweeps/{sweep_id}/results", f"/api/sweeps/{sweep_id}/top.csv",
             f"/api/sweeps/{sweep_id}/top", f"/api/sweeps/{sweep_id}/ranking",
             f"/api/sweeps/{sweep_id}/report", f"/api/sweeps/{sweep_id}/curves?stage=x",
             "/api/trials/1", "/api/trials/1/curve", "/api/meta/states"]  # fmt: skip
    for path in paths:
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401, path
    ok = client.get("/api/sweeps", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and [s["id"] for s in ok.json()] == [sweep_id]


def test_openapi_lists_every_promised_endpoint(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    promised = ["/api/sweeps", "/api/sweeps/{sweep_id}", "/api/sweeps/{sweep_id}/trials",
                "/api/trials/{trial_id}", "/api/trials/{trial_id}/curve",
                "/api/sweeps/{sweep_id}/curves", "/api/sweeps/{sweep_id}/results",
                "/api/sweeps/{sweep_id}/top.csv", "/api/sweeps/{sweep_id}/top",
                "/api/sweeps/{sweep_id}/ranking", "/api/sweeps/{sweep_id}/report",
                "/api/sweeps/{sweep_id}/cancel", "/api/sweeps/{sweep_id}/resume"]  # fmt: skip
    assert sorted(set(promised) - set(paths)) == []
