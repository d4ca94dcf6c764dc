"""The worker processes that ``rungs serve`` runs beside the API: started, watched, stopped.

Each is a ``rungs worker`` process of its own (Ray and torch own their process, and the API must
never block on a sweep), in a session of its own, so that a terminal's Ctrl-C reaches only the
server, which then stops every worker the one way, whatever stopped the server:

* on shutdown (Ctrl-C or SIGTERM of the server) each worker gets SIGTERM, which it takes as
  Ctrl-C: its sweep ends ``interrupted`` (resumable), its trials and its Ray end with it. One that
  does not exit within the grace period is killed;
* a worker that dies while the server runs is started again: a dead worker would leave every
  later submission queued while the API keeps answering 201;
* a worker watches the server's pid (``--parent-pid``) and ends with it: a ``kill -9`` of the
  server leaves no orphan, and the sweep it ran is taken over once its lease expires.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Sequence

log = logging.getLogger("rungs.serve")

STOP_GRACE_SECONDS = 60.0
WATCH_SECONDS = 2.0


def worker_command(db: str | None, ray_address: str | None) -> list[str]:
    """``rungs worker`` for this server: same database and cluster, ending with this process."""
    command = [sys.executable, "-m", "orchestrator", "worker", "--parent-pid", str(os.getpid())]
    if db:
        command += ["--db", db]
    if ray_address:
        command += ["--ray-address", ray_address]
    return command


class EmbeddedWorkers:
    """``count`` processes running ``command``, restarted when they die, until :meth:`stop`."""

    def __init__(self, command: Sequence[str], count: int) -> None:
        self.command, self.count = list(command), count
        self.processes: list[subprocess.Popen[bytes]] = []
        self._lock, self._stopping = threading.Lock(), threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="worker-watch", daemon=True)

    def start(self) -> None:
        with self._lock:
            self.processes = [self._spawn() for _ in range(self.count)]
        if self.count:
            self._watcher.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.command, env=os.environ.copy(), start_new_session=True)

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_SECONDS):
            with self._lock:
                if self._stopping.is_set():
                    return
                for index, process in enumerate(self.processes):
                    if process.poll() is not None:  # reaped: no zombie is left behind
                        log.warning(
                            "worker %s exited with %s; starting another",
                            process.pid,
                            process.returncode,
                        )
                        self.processes[index] = self._spawn()

    def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM to every worker; SIGKILL to any still running after ``grace_seconds``."""
        self._stopping.set()
        with self._lock:
            processes = list(self.processes)
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                log.error(
                    "worker %s ignored SIGTERM for %.0f s; killing it", process.pid, grace_seconds
                )
                process.kill()
                process.wait()
