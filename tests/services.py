"""Start the services the test suite needs, run pytest, stop them: ``make test`` on a bare machine.

``python tests/services.py [pytest arguments]`` (what ``make test`` runs):

* **PostgreSQL.** ``$RUNGS_TEST_POSTGRES_URL`` when set; else a throwaway server on a free port
  in a temp dir, from the system's binaries (``/usr/lib/postgresql/*/bin``), else from the
  ``pgserver`` pip package (a self-contained server), else from ``apt-get install postgresql``
  when running as root. It is stopped and deleted when pytest ends.
* **Chromium**, for the dashboard's browser test: ``chromium`` on the PATH, else
  ``apt-get install chromium chromium-driver`` when root. Playwright's own browser download is
  not used: it needs a CDN that offline CI machines cannot reach. The path is handed to the test
  as ``$RUNGS_TEST_CHROMIUM``.

When a service can be neither found nor installed, one message says what is missing and how to
provide it, and nothing runs: a wall of failing tests would hide the cause. pytest's exit 5 (no
test collected) is reported as a failure like any other non-zero exit.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

URL_ENV = "RUNGS_TEST_POSTGRES_URL"
CHROMIUM_ENV = "RUNGS_TEST_CHROMIUM"
PG_ROOT = Path("/usr/lib/postgresql")
# Throwaway data: durability off, for speed on a small shared machine; the suite opens many
# connections at once (API, workers and storage tests), more than the default 100.
SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
)
APT_LOG = Path(tempfile.gettempdir()) / "rungs-test-apt.log"
NO_TESTS_COLLECTED = 5


class ServiceUnavailable(RuntimeError):
    """A service the suite needs can be neither found nor installed; the message says why."""


@dataclass
class Postgres:
    """A running server: its SQLAlchemy URL, and how to stop it (a no-op for one we did not
    start)."""

    url: str
    stop: Callable[[], None]
    origin: str  # for the one line printed before pytest starts (never the URL: a password)


# -- PostgreSQL from the system's binaries ---------------------------------------------------------


def system_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has ``initdb``, if any."""
    found = sorted(PG_ROOT.glob("*/bin/initdb"), key=lambda p: float(p.parent.parent.name))
    return found[-1].parent if found else None


def _as_postgres(*command: str | Path) -> None:
    """Run a server command; PostgreSQL refuses root, so root runs it as the postgres user."""
    argv = [str(part) for part in command]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise ServiceUnavailable(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_system_postgres(bin_dir: Path) -> Postgres:
    """initdb + pg_ctl start on a free port in a new temp dir (owned by postgres when root)."""
    root = Path(tempfile.mkdtemp(prefix="rungs-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data, port = root / "data", _free_port()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 {SERVER_OPTIONS}"
    try:
        _as_postgres(bin_dir / "initdb", "-D", data, "-A", "trust", "-U", "postgres")
        _as_postgres(
            bin_dir / "pg_ctl", "-D", data, "-l", root / "log", "-w", "-o", options, "start"
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise

    def stop() -> None:
        with contextlib.suppress(ServiceUnavailable, OSError, subprocess.SubprocessError):
            _as_postgres(bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)

    url = f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    return Postgres(url, stop, f"a throwaway server from {bin_dir} on port {port}")


# -- PostgreSQL from the pgserver package ----------------------------------------------------------


def _pip_install(package: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", package], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise ServiceUnavailable(f"pip install {package} failed: {done.stderr.strip()[-500:]}")


def start_pgserver(install: bool) -> Postgres:
    """A server from the ``pgserver`` wheel (its own PostgreSQL build; as root it runs the
    server as a user it creates), on a Unix socket in a new temp dir."""
    if importlib.util.find_spec("pgserver") is None:
        if not install:
            raise ServiceUnavailable("the pgserver package is not installed")
        _pip_install("pgserver")
        importlib.invalidate_caches()  # the finders cached site-packages before the install
    import pgserver  # type: ignore[import-not-found]

    root = Path(tempfile.mkdtemp(prefix="rungs-pgserver-"))
    server = pgserver.get_server(root / "data", cleanup_mode="delete")
    # "postgresql://postgres:@/postgres?host=<socket dir>" -> the psycopg2 driver's URL
    url = server.get_uri().replace("postgresql://", "postgresql+psycopg2://", 1)

    def stop() -> None:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)

    return Postgres(url, stop, f"a throwaway pgserver in {root}")


# -- apt-get ----------------------------------------------------------------------------------------


def _apt_get(*arguments: str) -> None:
    """One apt-get command, its output in :data:`APT_LOG` (shown only if it fails)."""
    argv = ["apt-get", *arguments]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with APT_LOG.open("a") as log:
        if subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, env=env).returncode:
            tail = APT_LOG.read_text(errors="replace").splitlines()[-5:]
            raise ServiceUnavailable(f"{' '.join(argv)} failed: " + " | ".join(tail))


@functools.cache
def _apt_update() -> None:
    _apt_get("update", "-q")


def _apt_install(*packages: str) -> None:
    """``apt-get install`` as root (the package lists updated once per run)."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ServiceUnavailable(
            f"cannot apt-get install {' '.join(packages)}: not root, or no apt-get"
        )
    print(f"installing {' '.join(packages)} with apt-get (log: {APT_LOG})", flush=True)
    _apt_update()
    _apt_get("install", "-y", "-q", *packages)


# -- what the suite asks for ------------------------------------------------------------------------


def start_postgres(install: bool = True) -> Postgres:
    """``$RUNGS_TEST_POSTGRES_URL``, else a throwaway server (see the module docstring).

    ``install=False`` (the pytest fixture's fallback) uses only what is already on the machine.
    """
    if os.environ.get(URL_ENV):
        return Postgres(os.environ[URL_ENV], lambda: None, f"${URL_ENV}")
    reasons = []
    bin_dir = system_bin_dir()
    if bin_dir is not None:
        return start_system_postgres(bin_dir)
    reasons.append(f"no PostgreSQL under {PG_ROOT}")
    try:
        return start_pgserver(install)
    except (ServiceUnavailable, ImportError, OSError, subprocess.SubprocessError) as error:
        reasons.append(f"pgserver: {error}")
    if install:
        try:
            _apt_install("postgresql")
        except ServiceUnavailable as error:
            reasons.append(str(error))
        else:
            if (bin_dir := system_bin_dir()) is not None:
                return start_system_postgres(bin_dir)
            reasons.append(f"apt-get installed postgresql but {PG_ROOT} has no initdb")
    raise ServiceUnavailable("; ".join(reasons))


def find_chromium(install: bool = True) -> str:
    """The path of a Chromium for the browser test, installing Debian's when root."""
    if found := shutil.which("chromium"):
        return found
    if not install:
        raise ServiceUnavailable("no chromium on the PATH")
    try:
        _apt_install("chromium", "chromium-driver")
    except ServiceUnavailable as error:
        raise ServiceUnavailable(f"no chromium on the PATH; {error}") from None
    if found := shutil.which("chromium"):
        return found
    raise ServiceUnavailable("apt-get installed chromium but it is not on the PATH")


@contextlib.contextmanager
def services() -> Iterator[tuple[dict[str, str], str]]:
    """Both services up, stopped on exit: pytest's extra environment variables, and one line
    that says where they come from."""
    problems, env, found = [], {}, []
    postgres = None
    try:
        postgres = start_postgres()
        env[URL_ENV] = postgres.url
        found.append(f"PostgreSQL: {postgres.origin}")
    except (ServiceUnavailable, OSError, subprocess.SubprocessError) as error:
        problems.append(
            f"PostgreSQL: {error}.\n  Set {URL_ENV} to a server's SQLAlchemy URL, or install "
            "PostgreSQL (apt-get install postgresql) or the pgserver package (pip install pgserver)."
        )
    try:
        env[CHROMIUM_ENV] = find_chromium()
        found.append(f"Chromium: {env[CHROMIUM_ENV]}")
    except ServiceUnavailable as error:
        problems.append(f"Chromium: {error}.\n  Install it: apt-get install chromium (as root).")
    try:
        if problems:
            raise ServiceUnavailable("\n".join(problems))
        yield env, "; ".join(found)
    finally:
        if postgres is not None:
            postgres.stop()


def main(pytest_args: list[str]) -> int:
    """Run pytest with the services up; its exit code (1 when a service is missing)."""
    try:
        with services() as (env, summary):
            print(f"test services: {summary}", flush=True)
            command = [sys.executable, "-m", "pytest", *pytest_args]
            code = subprocess.run(command, env={**os.environ, **env}).returncode
    except ServiceUnavailable as error:
        print(f"\nThe tests cannot run: a service they need is missing.\n{error}", flush=True)
        return 1
    if code == NO_TESTS_COLLECTED:
        print("pytest collected no tests: failing")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
