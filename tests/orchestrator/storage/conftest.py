"""The storage suite runs every test on SQLite and on PostgreSQL (``storage`` is parametrized)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.storage import SQLStorage


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database: a temp SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rungs.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def storage(storage_url: str) -> Iterator[SQLStorage]:
    opened = SQLStorage(storage_url)
    yield opened
    opened.close()


@pytest.fixture
def sweep_id(storage: SQLStorage) -> int:
    return storage.create_sweep("sweep", spec={"metric": "si_sdr"}, yaml_text="name: sweep\n")


@pytest.fixture
def stage_id(storage: SQLStorage, sweep_id: int) -> int:
    return storage.upsert_stage(sweep_id, "stage1", position=0, kind="search", plan={"n": 4})
