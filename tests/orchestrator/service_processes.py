"""Helpers for tests that run Rungs' services as processes and kill them: start, wait, kill,
find leftovers, and check that a sweep's results were stored exactly once.

Every process a test starts carries ``RUNGS_TEST_MARK=<uuid>`` in its environment, and so does
everything they start (Ray's processes included): :func:`marked_pids` finds whatever is left,
orphans re-parented to init too, and :func:`kill_marked` ends exactly those - never a process of
another test or of anyone else on the machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import httpx

from orchestrator.storage.base import BaseStorage

ROOT = Path(__file__).resolve().parents[2]
MARK_ENV = "RUNGS_TEST_MARK"
SIMULATED_WORKER = str(Path(__file__).with_name("simulated_worker.py"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(0.1)


class Services:
    """Processes of one test: started with a shared marker, logs under ``tmp``."""

    def __init__(self, tmp: Path, **env: str) -> None:
        self.tmp, self.mark = tmp, uuid.uuid4().hex
        self.env = {
            **os.environ,
            "RUNGS_HOME": str(tmp / "home"),
            "WANDB_MODE": "disabled",
            "RAY_USAGE_STATS_ENABLED": "0",
            MARK_ENV: self.mark,
            **env,
        }
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        """``argv`` in a session of its own (a process group the test can kill whole)."""
        log = (self.tmp / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            list(argv), env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.started.append(proc)
        return proc

    def rungs(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        return self.start(name, sys.executable, "-m", "orchestrator", *args)

    def simulated(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        return self.start(name, sys.executable, SIMULATED_WORKER, *args)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.tmp.glob("*.log"))
        )

    def marked(self) -> list[int]:
        return marked_pids(self.mark)

    def close(self) -> None:
        kill_marked(self.mark)
        for proc in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)


@contextlib.contextmanager
def services(tmp: Path, **env: str) -> Iterator[Services]:
    started = Services(tmp, **env)
    try:
        yield started
    except BaseException:
        print(started.logs())  # pytest shows it with the failure
        raise
    finally:
        started.close()


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent to reap it does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def children(pid: int) -> list[int]:
    """The live child processes of ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError):
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if entry.name.isdigit() and int(stat[1]) == pid and stat[0] not in ("Z", "X"):
                found.append(int(entry.name))
    return found


def marked_pids(mark: str) -> list[int]:
    """Live processes whose environment carries ``RUNGS_TEST_MARK=mark``."""
    needle = f"{MARK_ENV}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes().split(b"\0") and alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def kill_marked(mark: str) -> None:
    for pid in marked_pids(mark):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def kill_9(proc: subprocess.Popen[bytes], *, group: bool) -> None:
    """SIGKILL the process, or its whole process group (``kill -9 -PGID``)."""
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    proc.wait(timeout=30)


# -- the HTTP API -------------------------------------------------------------------------------
def wait_for_api(base: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    def up() -> bool:
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{base}/api/meta/states", timeout=2).status_code == 200
        return False

    wait_for(f"the API at {base}", up, timeout)


def submit(base: str, yaml_text: str) -> int:
    response = httpx.post(
        f"{base}/api/sweeps", content=yaml_text, headers={"content-type": "application/x-yaml"}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


# -- what the database holds ----------------------------------------------------------------------
def result_count(storage: BaseStorage, sweep_id: int) -> int:
    return sum(len(storage.get_results(t.id)) for t in storage.get_trials(sweep_id))


def assert_stored_exactly_once(storage: BaseStorage, sweep_id: int, trials: int) -> None:
    """``trials`` trials with distinct keys; every finished trial holds one result per epoch it
    ran, 1..epochs, none twice and none missing."""
    stored = storage.get_trials(sweep_id)
    assert len(stored) == trials and len({t.key for t in stored}) == trials, stored
    for trial in stored:
        steps = [r.step for r in storage.get_results(trial.id)]
        assert trial.status in ("completed", "early_stopped"), (trial.key, trial.status)
        assert steps == list(range(1, trial.epochs + 1)), (trial.key, trial.status, steps)


def never_overlapping(
    events: Sequence[tuple[str, str, int, str]], sweep: str, killed: Mapping[int, int] = {}
) -> list[int]:
    """The pids that ran trials of ``sweep``, in order; fails if two trials of it were ever open
    at once (each simulated worker runs one trial at a time: two open trials are two runs of
    the sweep at once). ``killed`` maps a pid killed by the test to the number of events
    written when it was killed: its open trial ended there, without a ``close``."""
    open_now: set[tuple[int, str]] = set()
    runners: list[int] = []
    for index, (event, name, pid, key) in enumerate(events):
        if name != sweep:
            continue
        if event == "open":
            open_now = {(p, k) for p, k in open_now if index < killed.get(p, index + 1)}
            assert not open_now, f"{sweep}: {key} of {pid} opened while {open_now} ran"
            open_now.add((pid, key))
            if not runners or runners[-1] != pid:
                runners.append(pid)
        else:
            open_now.discard((pid, key))
    return runners
