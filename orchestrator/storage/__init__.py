"""Rungs' storage: the single record the runner writes and the API, dashboard, CLI and reports read.

>>> storage = open_storage("sqlite://")  # in memory; open_storage() resolves the default
>>> storage.create_sweep("demo", spec={}, yaml_text="")
1
"""

from __future__ import annotations

from orchestrator.storage.base import BaseStorage
from orchestrator.storage.records import (
    ResultRecord,
    ResultRow,
    StageRecord,
    SweepRecord,
    TrialRecord,
)
from orchestrator.storage.settings import default_database_url, resolve_database_url, sqlite_file
from orchestrator.storage.sql import SQLStorage

__all__ = [
    "BaseStorage",
    "ResultRecord",
    "ResultRow",
    "SQLStorage",
    "StageRecord",
    "SweepRecord",
    "TrialRecord",
    "default_database_url",
    "open_storage",
]


def open_storage(url: str | None = None) -> BaseStorage:
    """The storage at ``url``, else at ``$RUNGS_DATABASE_URL``, else the SQLite file in the
    user's data directory (see :mod:`orchestrator.storage.settings`). Creates the SQLite file's
    directory and any missing tables."""
    resolved = resolve_database_url(url)
    path = sqlite_file(resolved)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return SQLStorage(resolved)
