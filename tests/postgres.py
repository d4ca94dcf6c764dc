"""A PostgreSQL server for the tests, and a fresh schema per test.

The server is ``$RUNGS_TEST_POSTGRES_URL`` (``.ci/run`` starts one), else a throwaway server that
this module starts the way ``.ci/run`` does and stops at the end of the session. When neither is
possible the PostgreSQL tests fail with the reason: a backend that silently goes untested is how
PostgreSQL-only bugs reach users.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

URL_ENV = "RUNGS_TEST_POSTGRES_URL"
PG_ROOT = Path("/usr/lib/postgresql")
# Throwaway data: durability settings off, for speed on a small shared machine.
SERVER_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


@dataclass
class ThrowawayServer:
    url: str
    bin_dir: Path
    data_dir: Path
    root: Path

    def stop(self) -> None:
        _as_postgres(self.bin_dir / "pg_ctl", "-D", self.data_dir, "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _bin_dir() -> Path:
    candidates = sorted(PG_ROOT.glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not candidates:
        raise RuntimeError(
            f"no PostgreSQL under {PG_ROOT} (apt-get install postgresql) and {URL_ENV} is unset"
        )
    return candidates[-1].parent


def _as_postgres(*command: str | Path) -> None:
    """Run a server command; PostgreSQL refuses root, so root runs it as the postgres user."""
    argv = [str(part) for part in command]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_throwaway_server() -> ThrowawayServer:
    """initdb + pg_ctl start on a free port in a new temp dir (owned by postgres when root)."""
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="rungs-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data, port = root / "data", _free_port()
    _as_postgres(bin_dir / "initdb", "-D", data, "-A", "trust", "-U", "postgres")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 {SERVER_OPTIONS}"
    _as_postgres(bin_dir / "pg_ctl", "-D", data, "-l", root / "log", "-w", "-o", options, "start")
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    return ThrowawayServer(url=url, bin_dir=bin_dir, data_dir=data, root=root)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """The server's URL: ``$RUNGS_TEST_POSTGRES_URL`` or a throwaway server's."""
    if os.environ.get(URL_ENV):
        yield os.environ[URL_ENV]
        return
    try:
        server = start_throwaway_server()
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        pytest.fail(
            f"PostgreSQL tests need {URL_ENV} or a local PostgreSQL to start: {error}",
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
