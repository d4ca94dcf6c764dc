"""Alembic's environment: run the migrations on the connection Rungs hands over.

:mod:`orchestrator.storage.migrate` passes an open connection (inside its transaction, under
its lock) in ``config.attributes["connection"]``. The ``alembic`` command line, for developers,
connects to ``$RUNGS_DATABASE_URL`` or Rungs' default database itself.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from orchestrator.storage.models import Base
from orchestrator.storage.settings import create_storage_engine, resolve_database_url


def _run(connection: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    engine = create_storage_engine(resolve_database_url())
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


_main()
