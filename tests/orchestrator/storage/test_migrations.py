"""Schema migrations: a database of the previous release is upgraded with its rows, a fresh one
is created at head, one from a newer release is refused, and the migrations build exactly the
models' schema. On SQLite and PostgreSQL (``storage_url`` is parametrized)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

from orchestrator.storage import SQLStorage
from orchestrator.storage.migrate import SchemaTooNew, alembic_config, head
from orchestrator.storage.models import Base
from orchestrator.storage.settings import create_storage_engine
from tests.orchestrator.storage._release_0_1_0 import CREATED, create_release_0_1_0, insert_a_sweep


@pytest.fixture
def engine(storage_url: str) -> Iterator[Engine]:
    engine = create_storage_engine(storage_url)
    yield engine
    engine.dispose()


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _differences(engine: Engine) -> list[object]:
    """What the database's schema lacks or has beyond the models' (alembic's comparison)."""
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


def test_a_database_of_the_previous_release_is_upgraded_and_reads_back(
    storage_url: str, engine: Engine
) -> None:
    create_release_0_1_0(engine)
    insert_a_sweep(engine)
    storage = SQLStorage(storage_url)  # upgrades on open
    try:
        [sweep] = storage.list_sweeps()
        assert (sweep.id, sweep.name, sweep.state) == (1, "old sweep", "completed")
        assert sweep.spec["metric"]["name"] == "si_sdr" and sweep.created_at == CREATED
        [trial] = storage.get_trials(1, stage="stage1")
        assert (trial.key, trial.config, trial.best_value) == ("k1", {"lr": 0.001}, 3.5)
        assert [r.metrics for r in storage.get_results(trial.id)] == [{"si_sdr": 3.5}]
        assert storage.create_sweep("new", spec={}, yaml_text="") == 2  # and it keeps working
    finally:
        storage.close()
    assert _revision(engine) == head()
    assert _differences(engine) == []


def test_a_fresh_database_is_created_at_head(storage_url: str, engine: Engine) -> None:
    SQLStorage(storage_url).close()
    assert _revision(engine) == head()
    assert _differences(engine) == []


def test_the_migrations_alone_build_the_models_schema(engine: Engine) -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert _revision(engine) == head()
    assert _differences(engine) == []


def test_opening_twice_changes_nothing(storage_url: str, engine: Engine) -> None:
    first = SQLStorage(storage_url)
    sweep_id = first.create_sweep("kept", spec={}, yaml_text="")
    first.close()
    again = SQLStorage(storage_url)
    try:
        assert [s.id for s in again.list_sweeps()] == [sweep_id]
    finally:
        again.close()


def test_a_database_from_a_newer_release_is_refused_untouched(
    storage_url: str, engine: Engine
) -> None:
    SQLStorage(storage_url).close()
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(SchemaTooNew, match=r"revision '9999_future'.*newer Rungs"):
        SQLStorage(storage_url)
    assert _revision(engine) == "9999_future"
