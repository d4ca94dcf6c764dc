"""What a careless or hostile client sends: crafted names, YAML bombs, huge ids, odd headers,
HEAD requests. Each answer is a 4xx (or the 200 of a HEAD), never a 500. On SQLite and
PostgreSQL (``client`` is parametrized through ``db_url``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.api.routers import sweeps as sweeps_router
from orchestrator.storage import SQLStorage
from orchestrator.sweepfile import parse_spec
from tests.orchestrator.api.conftest import QUICK_YAML, Filled

YAML = {"Content-Type": "application/x-yaml"}
TOKEN = "s3cret-token"
TOO_BIG = 2**63  # one past the largest BIGINT
BILLION_LAUGHS = "".join(
    f"{a}: &{a} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
    for p, a in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


def _with_name(name: str) -> str:
    return QUICK_YAML.replace("name: api-quick", f"name: {name}")


def test_a_path_like_name_is_stored_as_text(client: TestClient, storage: SQLStorage) -> None:
    created = client.post("/api/sweeps", content=_with_name("../../../../tmp/x"), headers=YAML)
    assert created.status_code == 201, created.text
    # a name is shown, never used as a path: see tests/orchestrator/runner/test_sweep_folder.py
    assert storage.get_sweep(created.json()["id"]).name == "../../../../tmp/x"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ('"a\\0b"', "control character"),  # a NUL byte (PostgreSQL refuses it)
        ('"evil\\u202eexe.yaml"', "control or format characters"),  # a bidi override
        ("x" * 5000, "at most 200 characters"),
    ],
)
def test_names_that_break_storage_are_422_at_the_name(
    client: TestClient, name: str, message: str
) -> None:
    response = client.post("/api/sweeps", content=_with_name(name), headers=YAML)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["line"] == 1 and message in error["message"]


def test_a_filename_with_a_nul_byte_is_422(client: TestClient) -> None:
    response = client.post("/api/sweeps?filename=a%00b.yaml", content=QUICK_YAML, headers=YAML)
    assert response.status_code == 422
    assert response.json()["message"].startswith("filename: ")


def test_an_alias_bomb_is_422_at_its_line(client: TestClient) -> None:
    assert len(BILLION_LAUGHS) < 500
    response = client.post("/api/sweeps", content=BILLION_LAUGHS, headers=YAML)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert "alias" in error["message"] and error["line"] > 1


def test_deep_nesting_is_422_not_a_recursion_error(client: TestClient) -> None:
    deep = "parameters: " + "[" * 1000 + "]" * 1000 + "\n"
    response = client.post("/api/sweeps", content=deep, headers=YAML)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert "nested deeper than" in error["message"] and error["line"] == 1


def test_the_sweep_file_is_parsed_off_the_event_loop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow parse must not stall every other request: it runs in a worker thread."""
    loops: list[bool] = []

    def spy(*args: Any) -> Any:
        try:
            asyncio.get_running_loop()
            loops.append(True)
        except RuntimeError:  # no event loop in this thread
            loops.append(False)
        return parse_spec(*args)

    monkeypatch.setattr(sweeps_router, "parse_spec", spy)
    assert client.post("/api/sweeps", content=QUICK_YAML, headers=YAML).status_code == 201
    assert loops == [False]


@pytest.mark.parametrize(
    "path",
    [
        f"/api/sweeps/{TOO_BIG}",
        f"/api/sweeps/{TOO_BIG}/trials",
        f"/api/sweeps/{TOO_BIG}/top.csv",
        f"/api/trials/{TOO_BIG}",
        f"/api/trials/{TOO_BIG}/curve",
        "/api/sweeps/1/trials?offset=" + str(TOO_BIG),
        "/api/sweeps/1/results?after=" + str(TOO_BIG),
    ],
)
def test_ids_and_cursors_past_int64_are_422(client: TestClient, filled: Filled, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 422, response.text
    assert "less than or equal to 9223372036854775807" in response.json()["message"]


def test_the_largest_int64_id_is_an_ordinary_404(client: TestClient) -> None:
    assert client.get(f"/api/sweeps/{TOO_BIG - 1}").status_code == 404
    assert client.get(f"/api/trials/{TOO_BIG - 1}").status_code == 404


def test_the_largest_offset_and_cursor_are_empty_pages(client: TestClient, filled: Filled) -> None:
    sweep = filled.sweep_id
    page = client.get(f"/api/sweeps/{sweep}/trials", params={"offset": TOO_BIG - 1}).json()
    assert page["items"] == [] and page["total"] == len(filled.statuses)
    batch = client.get(f"/api/sweeps/{sweep}/results", params={"after": TOO_BIG - 1}).json()
    assert batch["items"] == []


@pytest.mark.parametrize("header", ["Bearer s3cr\u00e9t", "Bearer \u2603", "B\u00e9arer x"])
def test_a_non_ascii_authorization_header_is_401(
    make_client: Callable[..., TestClient], header: str
) -> None:
    client = make_client(api_token=TOKEN, reads_require_token=True)
    response = client.get("/api/sweeps", headers={"Authorization": header.encode("utf-8")})
    assert response.status_code == 401


def test_a_non_ascii_token_works_when_it_is_the_token(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(api_token="s3cr\u00e9t", reads_require_token=True)
    header = "Bearer s3cr\u00e9t".encode()
    assert client.get("/api/sweeps", headers={"Authorization": header}).status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/sweeps", "/api/sweeps/{id}", "/api/sweeps/{id}/top.csv", "/api/meta/states"]
)
def test_head_answers_like_get_without_a_body(
    client: TestClient, filled: Filled, path: str
) -> None:
    url = path.format(id=filled.sweep_id)
    head, get = client.head(url), client.get(url)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"] == get.headers["content-type"]


def test_head_on_a_post_only_route_is_still_405(client: TestClient, filled: Filled) -> None:
    assert client.head(f"/api/sweeps/{filled.sweep_id}/cancel").status_code == 405
