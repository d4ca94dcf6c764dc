"""A PostgreSQL server for the tests, and a fresh schema per test.

The server is ``$RUNGS_TEST_POSTGRES_URL`` (``make test`` sets it: :mod:`tests.services` starts a
throwaway server), else a throwaway server that :mod:`tests.services` starts from what this
machine already has, stopped at the end of the session. When neither is possible the PostgreSQL
tests fail with the reason: a backend that silently goes untested is how PostgreSQL-only bugs
reach users.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from tests.services import URL_ENV, ServiceUnavailable, start_postgres


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """The server's URL: ``$RUNGS_TEST_POSTGRES_URL`` or a throwaway server's."""
    try:
        server = start_postgres(install=False)
    except (ServiceUnavailable, OSError, subprocess.SubprocessError) as error:
        pytest.fail(
            f"PostgreSQL tests need {URL_ENV} or a local PostgreSQL to start "
            f"(`make test` provides one): {error}",
            pytrace=False,
        )
    try:
        yield server.url
    finally:
        server.stop()


def _create_schema(admin: Engine, schema: str) -> None:
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as error:
        shown = admin.url.render_as_string(hide_password=True)
        pytest.fail(
            f"cannot reach the test PostgreSQL at {shown} (from {URL_ENV}?): {error}", pytrace=False
        )


def schema_url(server_url: str, schema: str) -> str:
    """``server_url`` whose connections use ``schema`` (search_path), in any process."""
    url = make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A PostgreSQL URL of an empty schema of its own, dropped after the test.

    Close every engine opened on it before the test ends (an idle connection is fine, one
    inside a transaction blocks the drop until ``lock_timeout`` fails it).
    """
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        _create_schema(admin, schema)
        yield schema_url(postgres_server_url, schema)
        with admin.connect() as conn:
            conn.execute(text("SET lock_timeout = '10s'"))
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()
