"""docker-compose.yml and the Dockerfile describe the topology README documents.

No Docker engine runs where the tests run, so the images are never built here; this checks the
files themselves: the four services, how they reach each other, the GPU reservation, the volumes,
and that the image installs the pinned torch before the project (an unpinned one pulls CUDA)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_four_services_and_their_volumes() -> None:
    spec = compose()
    assert set(spec["services"]) == {"postgres", "ray-head", "ray-gpu-worker", "rungs"}
    assert set(spec["volumes"]) == {"pgdata", "rungsdata"}
    assert "pgdata:/var/lib/postgresql/data" in spec["services"]["postgres"]["volumes"]
    for name in ("ray-head", "ray-gpu-worker", "rungs"):  # checkpoints and the corpus cache
        assert "rungsdata:/data" in spec["services"][name]["volumes"], name


def test_the_api_reaches_postgres_and_the_ray_head() -> None:
    rungs = compose()["services"]["rungs"]
    env = rungs["environment"]
    assert env["RUNGS_DATABASE_URL"].startswith("postgresql+psycopg2://")
    assert "@postgres:5432/" in env["RUNGS_DATABASE_URL"]
    assert "RUNGS_API_TOKEN" in env  # required: every state change needs the bearer token
    command = rungs["command"].split()
    assert command[:2] == ["rungs", "serve"] and "--ray-address" in command
    assert command[command.index("--ray-address") + 1] == "ray-head:6379"
    assert rungs["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_gpu_workers_reserve_gpus_and_join_the_head() -> None:
    worker = compose()["services"]["ray-gpu-worker"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert "--address=ray-head:6379" in worker["command"]
    assert "cu" in worker["build"]["args"]["TORCH_INDEX"]  # a CUDA build of torch


def test_the_image_installs_pinned_torch_before_the_project() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    torch = next(i for i, line in enumerate(lines) if '"$TORCH_SPEC"' in line)
    project = next(i for i, line in enumerate(lines) if "pip install --no-cache-dir ." in line)
    assert torch < project
    assert 'ARG TORCH_SPEC="torch==2.13.0"' in lines
    copied = {line.split()[1] for line in lines if line.startswith("COPY ")}
    assert {"orchestrator", "trainers", "stages", "dashboards", "search_spaces"} <= copied
