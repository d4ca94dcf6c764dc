"""Running a program: its own process group, its output kept and read, and no process left.

* The program starts in its own session, so its process group holds it and every child it
  starts (unless a child leaves with ``setsid``). Stopping it is SIGTERM to the group, then
  SIGKILL after a grace period, then a wait until no live process remains in the group.
* On Linux it gets ``PR_SET_PDEATHSIG`` = SIGKILL: if the thread that launched it dies (the Ray
  worker is killed), the kernel kills the program. The signal belongs to the launching *thread*,
  so the same thread must launch and wait, as :func:`launch` users do. Its own children are not
  covered: that is what the pid file is for.
* ``<log_dir>/program.pid`` records the group until it is gone, so that a later resume can kill
  what a dead worker left behind (:func:`kill_leftover`).
* stdout and stderr are copied as they come to ``<log_dir>/stdout.log`` and ``stderr.log``
  while stdout is scanned for ``[rungs] `` lines; the W&B shim writes to a separate pipe.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from trainers.program.failures import ProgramFailed
from trainers.program.reports import (
    PREFIX,
    ReportError,
    parse_shim_line,
    parse_stdout_line,
    shim_environment,
)

PID_FILE = "program.pid"
STDOUT_LOG = "stdout.log"
STDERR_LOG = "stderr.log"
DEFAULT_GRACE_SECONDS = 3.0
_KILL_WAIT_S = 2.0  # SIGKILL cannot be ignored, but the kernel takes a moment to tear down
_OUTPUT_LINGER_S = 1.0  # after the program exits, how long its leftovers may hold its output
_POLL_S = 0.02
_MAX_LINE = 1 << 20  # a longer line without a newline is not a report; it is dropped
_PR_SET_PDEATHSIG = 1
_live_groups: set[int] = set()  # killed at interpreter exit if a trial thread never got to it


# --- process groups ----------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` from the state field on (state, ppid, pgrp, ...); None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _start_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None  # field 22, the start time in clock ticks


def _has_live_member(pgid: int) -> bool:
    """Whether a process other than a zombie is in the group (zombies hold no resources and
    may never be reaped inside a container whose init does not reap)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True  # no procfs: trust killpg
    for entry in entries:
        fields = _stat_fields(int(entry)) if entry.isdigit() else None
        if fields and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _has_live_member(pgid)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _wait_gone(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)
    return True


def terminate_group(pgid: int, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> None:
    """SIGTERM to the group, SIGKILL after ``grace_seconds``; returns once it is gone."""
    if not group_alive(pgid):
        return
    _signal_group(pgid, signal.SIGTERM)
    if not _wait_gone(pgid, grace_seconds):
        _signal_group(pgid, signal.SIGKILL)
        _wait_gone(pgid, _KILL_WAIT_S)


@atexit.register
def _kill_live_groups() -> None:
    for pgid in list(_live_groups):
        _signal_group(pgid, signal.SIGKILL)


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def kill_leftover(
    log_dir: str | os.PathLike[str], grace_seconds: float = DEFAULT_GRACE_SECONDS
) -> bool:
    """Kill the group recorded in ``log_dir``'s pid file, if any of it still runs (a worker died
    with its trial). True when something was killed. A record from another machine is left
    alone (a shared folder); one from before a reboot, or whose pid an unrelated process now
    has (another start time), is removed without killing anything."""
    path = Path(log_dir) / PID_FILE
    try:
        record = json.loads(path.read_text())
        pgid = int(record["pgid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if record.get("host") != socket.gethostname():
        return False
    recorded, now = record.get("start_ticks"), _start_ticks(pgid)
    reused = recorded is not None and now is not None and recorded != now
    alive = record.get("boot_id") == _boot_id() and not reused and group_alive(pgid)
    if alive:
        terminate_group(pgid, grace_seconds)
    path.unlink(missing_ok=True)
    return alive


def _write_pid_file(log_dir: Path, pid: int, argv: Sequence[str]) -> None:
    record = {
        "pgid": pid,
        "start_ticks": _start_ticks(pid),
        "host": socket.gethostname(),
        "boot_id": _boot_id(),
        "argv": list(argv),
    }
    temporary = log_dir / f".{PID_FILE}.tmp"
    temporary.write_text(json.dumps(record))
    temporary.replace(log_dir / PID_FILE)


def _die_with_parent() -> Callable[[], None] | None:
    """The ``preexec_fn`` that makes the kernel SIGKILL the program when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork, only called after
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


# --- output --------------------------------------------------------------------------------


class _Tail:
    """The last bytes of a stream, for failure messages."""

    def __init__(self, limit: int = 64 * 1024) -> None:
        self._data = bytearray()
        self._limit = limit
        self._lock = threading.Lock()

    def add(self, chunk: bytes) -> None:
        with self._lock:
            self._data += chunk
            del self._data[: max(0, len(self._data) - self._limit)]

    def text(self, lines: int = 20, ignore: tuple[str, ...] = ()) -> str:
        """The last ``lines`` non-blank lines not starting with one of ``ignore``; of a line
        rewritten with ``\\r`` (progress bars), the last version."""
        with self._lock:
            decoded = self._data.decode("utf-8", "replace")
        kept = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in decoded.split("\n")]
        shown = [line for line in kept if line.strip() and not line.startswith(ignore)]
        return "\n".join(shown[-lines:])

    def all_text(self) -> str:
        with self._lock:
            return self._data.decode("utf-8", "replace")


def _write_all(file: IO[bytes], data: bytes) -> bool:
    try:
        file.write(data)  # unbuffered: one write system call, all of it for a regular file
    except OSError:
        return False
    return True


def _split_lines(pending: bytes, chunk: bytes) -> tuple[list[bytes], bytes]:
    *lines, rest = (pending + chunk).split(b"\n")
    return lines, (rest if len(rest) <= _MAX_LINE else b"")


class RunningProgram:
    """A launched program. Iterate :meth:`reports` until it ends, then read :attr:`returncode`;
    leaving the ``with`` block (normally or by an exception) kills whatever remains."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        log_dir: Path,
        grace_seconds: float,
        report_pipe: IO[bytes],
        logs: tuple[IO[bytes], IO[bytes]],
    ) -> None:
        self.pid = self.pgid = popen.pid
        self.log_dir = log_dir
        self.grace_seconds = grace_seconds
        self.returncode: int | None = None
        self.stdout_tail, self.stderr_tail = _Tail(), _Tail()
        self._popen = popen
        self._events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._stopped = False
        assert popen.stdout is not None and popen.stderr is not None
        self._threads = [
            self._thread(self._pump, "stdout", popen.stdout, logs[0], self._stdout_line),
            self._thread(self._pump, "stderr", popen.stderr, logs[1], None),
            self._thread(self._pump, "reports", report_pipe, None, self._shim_line),
            self._thread(self._wait),
        ]

    def _thread(self, target: Callable[..., None], *args: Any) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        return thread

    def _wait(self) -> None:
        self._events.put(("exit", self._popen.wait()))

    def _stdout_line(self, line: bytes) -> None:
        if line.startswith(PREFIX.encode()):
            self._events.put(("report", parse_stdout_line(line.decode("utf-8", "replace"))))

    def _shim_line(self, line: bytes) -> None:
        self._events.put(("report", parse_shim_line(line.decode("utf-8", "replace"))))

    def _pump(
        self,
        name: str,
        stream: IO[bytes],
        log: IO[bytes] | None,
        on_line: Callable[[bytes], None] | None,
    ) -> None:
        tail = {"stdout": self.stdout_tail, "stderr": self.stderr_tail}.get(name)
        pending = b""
        try:
            while chunk := os.read(stream.fileno(), 65536):
                if log is not None and not _write_all(log, chunk):
                    with contextlib.suppress(OSError):
                        log.close()
                    log = None  # a full disk loses the log, never the reading of the program
                if tail is not None:
                    tail.add(chunk)
                if on_line is not None:
                    lines, pending = _split_lines(pending, chunk)
                    for line in lines:
                        self._line(on_line, line.rstrip(b"\r"))
            if on_line is not None and pending:
                self._line(on_line, pending.rstrip(b"\r"))
        finally:
            stream.close()
            if log is not None:
                log.close()
            self._events.put(("eof", name))

    def _line(self, on_line: Callable[[bytes], None], line: bytes) -> None:
        try:
            on_line(line)
        except ReportError as error:
            self._events.put(("error", str(error)))

    def reports(self) -> Iterator[dict[str, float]]:
        """Each report as it arrives, until the program has exited and its output is read.
        Raises :class:`ReportError` on a malformed report line."""
        open_streams = {"stdout", "stderr", "reports"}
        deadline: float | None = None
        while open_streams or self.returncode is None:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                kind, value = self._events.get(timeout=timeout)
            except queue.Empty:
                if self._stopped:  # held open by a process that left the group: stop reading
                    return
                self.stop()  # the program exited; what it left running holds its output
                deadline = time.monotonic() + _OUTPUT_LINGER_S
                continue
            if kind == "report":
                if value:
                    yield value
            elif kind == "error":
                raise ReportError(value)
            elif kind == "eof":
                open_streams.discard(value)
            else:
                self.returncode = value
                deadline = time.monotonic() + _OUTPUT_LINGER_S

    def wait(self) -> int:
        """The exit status (once :meth:`reports` is exhausted, without waiting)."""
        return self._popen.wait()

    def stop(self) -> None:
        """Kill the whole group (SIGTERM, SIGKILL after the grace period); idempotent."""
        if not self._stopped:
            self._stopped = True
            terminate_group(self.pgid, self.grace_seconds)

    def close(self) -> None:
        self.stop()
        for thread in self._threads:
            thread.join(timeout=_OUTPUT_LINGER_S)
        if not group_alive(self.pgid):
            _live_groups.discard(self.pgid)
            (self.log_dir / PID_FILE).unlink(missing_ok=True)

    def __enter__(self) -> RunningProgram:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def launch(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str],
    env: Mapping[str, str],
    log_dir: str | os.PathLike[str],
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
) -> RunningProgram:
    """Start ``argv`` in ``cwd`` with exactly ``env`` plus the W&B shim and its report pipe."""
    folder = Path(log_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as on_failure:
        logs = tuple(
            on_failure.enter_context(open(folder / name, "wb", buffering=0))
            for name in (STDOUT_LOG, STDERR_LOG)
        )
        read_fd, write_fd = os.pipe()
        on_failure.callback(os.close, read_fd)
        try:
            popen = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=shim_environment(env, write_fd),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(write_fd,),
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        except OSError as error:
            raise ProgramFailed(f"could not start {argv[0]!r} in {cwd}: {error}") from error
        finally:
            os.close(write_fd)
        on_failure.pop_all()  # from here on the reading threads own the files and the pipe
    _live_groups.add(popen.pid)
    _write_pid_file(folder, popen.pid, argv)
    report_pipe = os.fdopen(read_fd, "rb", buffering=0)
    return RunningProgram(popen, folder, grace_seconds, report_pipe, (logs[0], logs[1]))
