"""``rungs db upgrade``: migrates a previous release's database and says so; refuses a newer one."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from orchestrator.cli import main
from orchestrator.storage import SQLStorage
from orchestrator.storage.migrate import INITIAL_REVISION, head
from orchestrator.storage.settings import create_storage_engine
from tests.orchestrator.storage._release_0_1_0 import create_release_0_1_0, insert_a_sweep


def test_upgrade_migrates_a_previous_release_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_storage_engine(url)
    create_release_0_1_0(engine)
    insert_a_sweep(engine)
    engine.dispose()
    assert main(["db", "upgrade", "--db", url]) == 0
    assert (
        f"upgraded the schema from revision {INITIAL_REVISION} to {head()}"
        in capsys.readouterr().out
    )
    assert main(["db", "upgrade", "--db", url]) == 0
    assert f"already at revision {head()}" in capsys.readouterr().out
    assert [s.name for s in SQLStorage(url).list_sweeps()] == ["old sweep"]


def test_upgrade_creates_a_fresh_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'rungs.db'}"  # its folder is created too
    assert main(["db", "upgrade", "--db", url]) == 0
    assert f"created the schema at revision {head()}" in capsys.readouterr().out


def test_upgrade_refuses_a_database_of_a_newer_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'rungs.db'}"
    SQLStorage(url).close()
    engine = create_storage_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    engine.dispose()
    assert main(["db", "upgrade", "--db", url]) == 1
    assert "revision 'ffff'" in capsys.readouterr().err
