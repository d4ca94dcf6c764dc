"""A sweep that runs a program, sent over HTTP: refused (403, saying how to allow it) unless the
server was started with ``--programs DIR``, and then only for programs inside DIR."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestrator.sweepfile import spec_from_dict

YAML = {"Content-Type": "application/x-yaml"}

SWEEP = """\
name: own
program: {program}
metric: {{name: val, goal: maximize}}
parameters:
  lr: {{min: 0.001, max: 0.1}}
selection: {{k: 1}}
"""


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    folder = tmp_path / "allowed"
    (folder / "proj").mkdir(parents=True)
    (folder / "proj" / "train.py").write_text("print('[rungs] {\"val\": 1}')\n")
    (tmp_path / "secret.py").write_text("print('outside')\n")
    (folder / "link.py").symlink_to(tmp_path / "secret.py")
    return folder


def _post(client: TestClient, text: str):
    return client.post("/api/sweeps", content=text, headers=YAML)


def test_a_server_without_programs_refuses_any_program_sweep(
    make_client: Callable[..., TestClient], allowed: Path
) -> None:
    client = make_client()
    for program in ("train.py", str(allowed / "proj" / "train.py")):
        response = _post(client, SWEEP.format(program=program))
        assert response.status_code == 403, response.text
        assert "rungs serve --programs DIR" in response.json()["message"]
    assert client.get("/api/sweeps").json() == []


def test_an_allowed_program_is_queued_with_its_folder(
    make_client: Callable[..., TestClient], allowed: Path, storage
) -> None:
    client = make_client(program_dirs=(str(allowed),))
    for program in ("proj/train.py", str(allowed / "proj" / "train.py")):
        response = _post(client, SWEEP.format(program=program))
        assert response.status_code == 201, response.text
        spec = spec_from_dict(storage.get_sweep(response.json()["id"]).spec)
        assert spec.program is not None
        assert (
            Path(spec.program.workdir, spec.program.path).resolve()
            == (allowed / "proj" / "train.py").resolve()
        )


@pytest.mark.parametrize(
    "program",
    ["../secret.py", "{tmp}/secret.py", "link.py", "proj/../../secret.py"],
)
def test_no_escape_from_the_allowed_folders(
    make_client: Callable[..., TestClient], allowed: Path, program: str
) -> None:
    client = make_client(program_dirs=(str(allowed),))
    response = _post(client, SWEEP.format(program=program.format(tmp=allowed.parent)))
    assert response.status_code == 403, response.text
    assert "is not inside an allowed folder" in response.json()["message"]


@pytest.mark.parametrize(
    "command",
    ["[bash, -c, 'rm -rf ~']", "[${interpreter}, -c, 'import os']", "[${env}, ${args}]"],
)
def test_a_command_may_only_run_the_program(
    make_client: Callable[..., TestClient], allowed: Path, command: str
) -> None:
    client = make_client(program_dirs=(str(allowed),))
    text = SWEEP.format(program="proj/train.py") + f"command: {command}\n"
    response = _post(client, text)
    assert response.status_code == 403, response.text


def test_a_missing_program_in_an_allowed_folder_is_a_located_422(
    make_client: Callable[..., TestClient], allowed: Path
) -> None:
    response = _post(make_client(program_dirs=(str(allowed),)), SWEEP.format(program="nope.py"))
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "program" and "does not exist" in error["message"]


def test_a_program_trials_log_tail(make_client: Callable[..., TestClient], storage, tmp_path: Path):
    sweep_id = storage.create_sweep("own", {}, "")
    plan = {"sweep_dir": str(tmp_path / "sweep")}
    stage_id = storage.upsert_stage(sweep_id, "stage1", position=0, kind="search", plan=plan)
    trial_id = storage.create_trial(stage_id, variant="main", key="main-000", config={})
    logs = tmp_path / "sweep" / "logs" / "stage1" / "main-000"
    logs.mkdir(parents=True)
    (logs / "stdout.log").write_text("".join(f"epoch {i}\n" for i in range(1, 301)))
    (logs / "stderr.log").write_bytes(b"Traceback...\nRuntimeError: boom \xff\n")
    client = make_client()

    out = client.get(f"/api/trials/{trial_id}/log", params={"tail": 3}).json()
    assert out == {
        "trial_id": trial_id,
        "stream": "stdout",
        "lines": ["epoch 298", "epoch 299", "epoch 300"],
        "truncated": True,
    }
    err = client.get(f"/api/trials/{trial_id}/log", params={"stream": "stderr"}).json()
    assert err["lines"] == ["Traceback...", "RuntimeError: boom \ufffd"] and not err["truncated"]
    other = storage.create_trial(stage_id, variant="main", key="main-001", config={})
    assert client.get(f"/api/trials/{other}/log").status_code == 404
    assert client.get(f"/api/trials/{trial_id}/log", params={"stream": "x"}).status_code == 422
