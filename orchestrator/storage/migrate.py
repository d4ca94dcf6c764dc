"""The database schema, brought to this release's revision when a storage opens.

Three kinds of database reach :func:`upgrade_schema`, told apart by their tables:

* **fresh** (no Rungs table): the tables are created from :mod:`.models` and stamped at head;
* **older** (``alembic_version`` at an earlier revision, or Rungs 0.1.0's tables without
  ``alembic_version``, which are revision ``0001``): the migrations in ``migrations/versions``
  upgrade it, keeping every row;
* **newer** (a revision this release does not know: a later Rungs wrote it):
  :class:`SchemaTooNew`, which says what to do; nothing is changed.

All of it is one transaction under a lock (PostgreSQL: an advisory lock; SQLite: ``BEGIN
IMMEDIATE``), so the API and several workers starting at once upgrade the database once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import Connection

from orchestrator.storage.models import Base
from orchestrator.storage.settings import SQLITE_BEGIN_OPTION

MIGRATIONS = Path(__file__).with_name("migrations")
INITIAL_REVISION = "0001"  # Rungs 0.1.0's schema, which had no alembic_version table
# Same first key as orchestrator.storage.sql's advisory locks ("RUNG"); second key 0: the schema.
_SCHEMA_LOCK = (0x52554E47, 0)


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer Rungs than this one."""


@dataclass(frozen=True)
class Upgrade:
    """What :func:`upgrade_schema` did: the revision before (None: fresh, nothing there) and
    after (always :func:`head`)."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection  # migrations/env.py runs on it
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """This release's schema revision."""
    revision = _scripts().get_current_head()
    assert revision is not None, f"no migration in {MIGRATIONS}"
    return revision


def upgrade_schema(engine: Engine) -> Upgrade:
    """Create, upgrade or check the schema (see the module docstring)."""
    with _locked(engine) as connection:
        before = _current(connection)
        if before is None:
            Base.metadata.create_all(connection)
            MigrationContext.configure(connection).stamp(_scripts(), "head")
            return Upgrade(None, head())
        _check_known(before, engine)
        if before != head():
            _stamp_if_unversioned(connection, before)
            command.upgrade(alembic_config(connection), "head")
        return Upgrade(before, head())


def _current(connection: Connection) -> str | None:
    """The database's revision; :data:`INITIAL_REVISION` for 0.1.0's tables; None when fresh."""
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" in tables:
        return MigrationContext.configure(connection).get_current_revision()
    return INITIAL_REVISION if "sweeps" in tables else None


def _check_known(revision: str, engine: Engine) -> None:
    try:
        _scripts().get_revision(revision)
    except CommandError:
        where = engine.url.render_as_string(hide_password=True)
        raise SchemaTooNew(
            f"the database at {where} has schema revision {revision!r}, which this Rungs "
            f"(schema {head()!r}) does not know: a newer Rungs upgraded it. Install that "
            "release (or newer) to use this database."
        ) from None


def _stamp_if_unversioned(connection: Connection, revision: str) -> None:
    if "alembic_version" not in inspect(connection).get_table_names():
        MigrationContext.configure(connection).stamp(_scripts(), revision)


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction that holds the schema lock."""
    sqlite = engine.dialect.name == "sqlite"
    options = {SQLITE_BEGIN_OPTION: "IMMEDIATE"} if sqlite else {}
    with engine.connect().execution_options(**options) as connection:
        if sqlite:
            # SQLite migrations may rebuild a table (batch mode: copy, drop, rename); with
            # foreign keys on, dropping ``sweeps`` would cascade to every stage, trial and
            # result. The pragma only works outside a transaction, so it is set around it.
            _sqlite_foreign_keys(connection, on=False)
        try:
            with connection.begin():
                if not sqlite:
                    lock = text("SELECT pg_advisory_xact_lock(:ns, :key)")
                    connection.execute(lock, dict(zip(("ns", "key"), _SCHEMA_LOCK, strict=True)))
                yield connection
                if sqlite:
                    _check_foreign_keys(connection)
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    # the raw connection runs in autocommit mode (settings._sqlite_on_connect): no BEGIN here
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"the schema upgrade broke foreign keys: {broken[:5]}")
