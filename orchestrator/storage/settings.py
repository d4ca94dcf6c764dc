"""How to reach the database: where it lives, and an engine configured for Rungs.

Where: an explicit URL, else ``RUNGS_DATABASE_URL``, else a SQLite file ``rungs.db`` in the data
directory: ``$RUNGS_HOME``, else ``$XDG_DATA_HOME/rungs``, else ``~/.local/share/rungs``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import StaticPool

DATABASE_URL_ENV = "RUNGS_DATABASE_URL"
HOME_ENV = "RUNGS_HOME"
DATABASE_FILE = "rungs.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option read when a SQLite transaction begins: "IMMEDIATE" for writers.
SQLITE_BEGIN_OPTION = "rungs_sqlite_begin"


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The directory for Rungs' own files (not created here)."""
    env = os.environ if env is None else env
    if env.get(HOME_ENV):
        return Path(env[HOME_ENV]).expanduser().absolute()
    if env.get("XDG_DATA_HOME"):
        return Path(env["XDG_DATA_HOME"]).expanduser().absolute() / "rungs"
    return Path.home() / ".local" / "share" / "rungs"


def default_database_url(env: Mapping[str, str] | None = None) -> str:
    """``$RUNGS_DATABASE_URL`` when set, else the SQLite file in :func:`data_dir`."""
    env = os.environ if env is None else env
    if env.get(DATABASE_URL_ENV):
        return env[DATABASE_URL_ENV]
    return f"sqlite:///{data_dir(env) / DATABASE_FILE}"


def resolve_database_url(url: str | None = None) -> str:
    """The given URL, else :func:`default_database_url`."""
    return url if url else default_database_url()


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL points at; None for in-memory SQLite and other backends."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser()


# -- engine -------------------------------------------------------------------------------------
def plain_json(value: Any) -> Any:
    """``value`` with numpy scalars/arrays made plain and non-finite floats made None.

    >>> plain_json({"loss": float("nan"), "lr": (1e-3, float("inf"))})
    {'loss': None, 'lr': [0.001, None]}
    """
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return plain_json(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dump_json(value: Any) -> str:
    return json.dumps(plain_json(value), allow_nan=False)


def is_sqlite_memory(url: str) -> bool:
    parsed = make_url(url)
    database = parsed.database or ""
    memory = database in ("", ":memory:") or "mode=memory" in database
    return parsed.get_backend_name() == "sqlite" and memory


def create_storage_engine(url: str) -> Engine:
    """An engine configured for concurrent use from several threads and processes.

    PostgreSQL: ``pool_pre_ping``, so a restarted server costs a reconnect, not an error.
    SQLite: WAL (readers never block the writer), foreign keys on, a 30 s busy timeout (writers
    of other processes queue instead of failing), and ``BEGIN <mode>`` taken from the
    ``SQLITE_BEGIN_OPTION`` execution option. In-memory SQLite uses one connection for every
    thread (separate connections would each see their own empty database).
    Both: JSON is written by :func:`dump_json`.
    """
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, json_serializer=dump_json)
    pool = {"poolclass": StaticPool} if is_sqlite_memory(url) else {}
    engine = create_engine(
        url, json_serializer=dump_json, connect_args={"check_same_thread": False}, **pool
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Turn off pysqlite's own implicit BEGIN so _sqlite_on_begin decides the mode.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # synchronous=NORMAL is durable against process crashes in WAL mode; a power cut may lose
    # the last commits, which a resumed sweep re-reports anyway (appends are idempotent).
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")
