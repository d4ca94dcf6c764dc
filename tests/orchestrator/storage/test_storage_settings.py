"""Where the database lives: URL argument, $RUNGS_DATABASE_URL, $RUNGS_HOME, XDG, ~."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from orchestrator.storage import SQLStorage, default_database_url, open_storage
from orchestrator.storage.settings import sqlite_file

ENV = ("RUNGS_DATABASE_URL", "RUNGS_HOME", "XDG_DATA_HOME")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


def test_home_fallback(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    expected = tmp_path / "home" / ".local" / "share" / "rungs" / "rungs.db"
    assert default_database_url() == f"sqlite:///{expected}"


def test_xdg_data_home(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_database_url() == f"sqlite:///{tmp_path / 'xdg' / 'rungs' / 'rungs.db'}"


def test_rungs_home_wins_over_xdg(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    clean_env.setenv("RUNGS_HOME", str(tmp_path / "rh"))
    assert default_database_url() == f"sqlite:///{tmp_path / 'rh' / 'rungs.db'}"


def test_database_url_wins(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("RUNGS_HOME", str(tmp_path / "rh"))
    clean_env.setenv("RUNGS_DATABASE_URL", "postgresql+psycopg2://u@db:5432/rungs")
    assert default_database_url() == "postgresql+psycopg2://u@db:5432/rungs"


def test_open_storage_creates_directories_and_tables(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("RUNGS_HOME", str(tmp_path / "a" / "b"))
    storage = open_storage()
    sweep_id = storage.create_sweep("s", {}, "")
    assert (tmp_path / "a" / "b" / "rungs.db").is_file()
    assert isinstance(storage, SQLStorage)
    storage.close()
    reopened = open_storage()
    assert reopened.get_sweep(sweep_id).name == "s"
    reopened.close()


def test_explicit_url_wins_over_environment(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("RUNGS_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    storage = open_storage(f"sqlite:///{tmp_path / 'new' / 'given.db'}")
    storage.create_sweep("s", {}, "")
    storage.close()
    assert (tmp_path / "new" / "given.db").is_file() and not (tmp_path / "env.db").exists()


def test_in_memory_sqlite_is_shared_by_threads() -> None:
    storage = open_storage("sqlite://")
    threads = [
        threading.Thread(target=storage.create_sweep, args=(f"s{i}", {}, "")) for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(storage.list_sweeps()) == 4


def test_sqlite_file() -> None:
    assert sqlite_file("sqlite:////var/x/rungs.db") == Path("/var/x/rungs.db")
    assert sqlite_file("sqlite://") is None and sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql+psycopg2://u@h/db") is None


def test_other_backends_are_refused() -> None:
    with pytest.raises(ValueError, match="SQLite or PostgreSQL"):
        SQLStorage("mysql+pymysql://u@h/db", create_tables=False)
