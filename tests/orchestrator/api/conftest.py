"""API fixtures: a real database (SQLite and PostgreSQL), a TestClient on it, and a sweep
filled by hand through the storage API (no runner, no Ray) with known trials and results.

Every test that takes ``storage`` runs twice: on a temp SQLite file and on a fresh PostgreSQL
schema (``postgres_url`` from tests/postgres.py), so a PostgreSQL-only bug cannot hide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.api import create_app
from orchestrator.api.settings import Settings
from orchestrator.storage import SQLStorage
from orchestrator.storage.records import ResultRow
from orchestrator.sweepfile import parse_spec, spec_to_dict
from stages.space import space_to_dict

QUICK_YAML = """\
name: api-quick
method: bayes
metric: {name: score, goal: maximize}
model: {name: synthetic, fixed: {noise: 0.05}}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
  weight_decay: {distribution: log_uniform_values, min: 1.0e-6, max: 1.0e-3}
  optimizer: {values: [adam, sgd]}
early_terminate: {type: hyperband, min_iter: 2, eta: 2}
epochs: 6
stages:
  - {name: stage1, subset: 2000, trials: 6}
  - name: stage3
    subset: 8000
    variants:
      - {name: hyperband, trials: 3}
      - {name: conservative, trials: 3, early_terminate: {type: median, grace: 2, min_samples: 2}}
selection: {k: 2}
validation: {subset: 16000, seeds: [42, 123]}
wandb: false
"""
EPOCHS = 6
# What every stored sweep holds (the API reads names, goal and planned trials from it).
QUICK_SPEC = spec_to_dict(parse_spec(QUICK_YAML, "quick.yaml").spec)
# A trial name a spreadsheet would execute: the CSV must neutralise it.
FORMULA_NAME = "=cmd|' /C calc'!A0"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a temp SQLite file, or a PostgreSQL schema of this test alone."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rungs.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def storage(db_url: str) -> Iterator[SQLStorage]:
    opened = SQLStorage(db_url)
    yield opened
    opened.close()  # before postgres_url drops the schema


@pytest.fixture
def make_client(db_url: str, storage: SQLStorage) -> Iterator[Callable[..., TestClient]]:
    """``make_client(api_token=..., reads_require_token=..., max_body_bytes=...)`` -> a client
    of an app on this test's database. Server errors come back as responses (status 500), as a
    real client would see them, instead of being re-raised into the test."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = Settings(database_url=db_url, **overrides)
        client = TestClient(create_app(settings, storage), raise_server_exceptions=False)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@dataclass
class Filled:
    """What :func:`fill_sweep` wrote, so tests can state exact expectations."""

    sweep_id: int
    stage_ids: dict[str, int] = field(default_factory=dict)
    trials: dict[str, list[int]] = field(default_factory=dict)  # stage -> trial ids
    statuses: dict[int, str] = field(default_factory=dict)
    variants: dict[int, str] = field(default_factory=dict)
    best: dict[int, float | None] = field(default_factory=dict)


def _curve(base: float, epochs: int) -> list[float]:
    return [round(base * (1 - 0.5 ** (e + 1)), 6) for e in range(epochs)]


def _add_trial(
    storage: SQLStorage, filled: Filled, stage: str, key: str, spec: dict[str, Any]
) -> int:
    """One trial with ``spec``: variant, status, base value, epochs, name, config, seed."""
    epochs = spec.get("epochs", EPOCHS)
    trial_id = storage.create_trial(
        filled.stage_ids[stage], variant=spec["variant"], key=key, config=spec["config"],
        seed=spec.get("seed", 0), name=spec.get("name", key), status="running",
    )  # fmt: skip
    values = _curve(spec["base"], epochs)
    storage.append_results(
        ResultRow(trial_id, step + 1, {"score": v, "loss": 10 - v}) for step, v in enumerate(values)
    )
    best = max(values) if values and spec["status"] != "failed" else None
    storage.update_trial(
        trial_id, status=spec["status"], best_value=best, last_value=values[-1] if values else None,
        epochs=epochs, compute_seconds=1.5 * epochs, finished=spec["status"] != "running",
    )  # fmt: skip
    filled.trials.setdefault(stage, []).append(trial_id)
    filled.statuses[trial_id] = spec["status"]
    filled.variants[trial_id] = spec["variant"]
    filled.best[trial_id] = best
    return trial_id


def _config(i: float, optimizer: str = "adam") -> dict[str, Any]:
    return {"lr": 1e-4 * (1.8**i), "weight_decay": 1e-6 * (2.5**i), "optimizer": optimizer}


def _stage1(i: int) -> dict[str, Any]:
    status = ["completed", "completed", "early_stopped", "early_stopped", "failed", "running"][i]
    epochs = {"early_stopped": 2, "running": 3}.get(status, EPOCHS)
    opt = "sgd" if i % 2 else "adam"
    return {"variant": "main", "status": status, "base": 4.0 + i, "epochs": epochs,
            "config": _config(i, opt)}  # fmt: skip


def _stage3(i: int) -> dict[str, Any]:
    variant = "hyperband" if i < 3 else "conservative"
    name = FORMULA_NAME if i == 5 else f"s3-{i}"  # the best trial: it is in every top-k
    return {"variant": variant, "status": "completed", "base": 6.0 + 0.5 * i, "name": name,
            "config": _config(i + 0.5, "adam" if i % 2 else "sgd")}  # fmt: skip


def fill_sweep(storage: SQLStorage, *, validation: bool = True) -> Filled:
    """stage1 (6 trials: completed, early_stopped, failed, running), stage3 with two variants
    (3 completed each), and, with ``validation``, 2 configs x 2 seeds of validation."""
    parsed = parse_spec(QUICK_YAML, "quick.yaml")
    spec = parsed.spec
    filled = Filled(storage.create_sweep(spec.name, spec_to_dict(spec), QUICK_YAML, "quick.yaml"))
    space = space_to_dict(spec.parameters)
    for pos, (name, trials) in enumerate((("stage1", 6), ("stage3", 6))):
        plan = {"subset": 2000 * (pos + 1), "epochs": EPOCHS, "trials": trials,
                "variants": [{"name": "main", "trials": trials}]}  # fmt: skip
        filled.stage_ids[name] = storage.upsert_stage(
            filled.sweep_id, name, position=pos, kind="search", plan=plan, space=space,
            state="completed" if pos == 0 else "running",
        )  # fmt: skip
    for i in range(6):
        _add_trial(storage, filled, "stage1", f"s1-{i}", _stage1(i))
        _add_trial(storage, filled, "stage3", f"s3-{i}", _stage3(i))
    if validation:
        _fill_validation(storage, filled)
    return filled


def _fill_validation(storage: SQLStorage, filled: Filled) -> None:
    plan = {"subset": 16000, "epochs": EPOCHS, "seeds": [42, 123], "trials": 4}
    filled.stage_ids["validation"] = storage.upsert_stage(
        filled.sweep_id, "validation", position=2, kind="validate", plan=plan, state="running"
    )
    for rank, i in enumerate((5, 4), start=1):  # the stage-3 top two, named as the runner does
        config = _stage3(i)["config"]
        for j, seed in enumerate((42, 123)):
            spec = {"variant": "validation", "status": "completed", "seed": seed,
                    "base": 9.0 - rank + 0.1 * j, "config": config,
                    "name": f"config{rank}"}  # fmt: skip
            _add_trial(storage, filled, "validation", f"config{rank}-seed{seed}", spec)


@pytest.fixture
def filled(storage: SQLStorage) -> Filled:
    return fill_sweep(storage)
