"""Workers: claim sweeps from the database and run them, each under a lease.

The API process never runs a sweep itself: it only queues. A worker (``rungs worker``, or the
ones ``rungs serve`` starts beside the API) claims the oldest queued sweep - or a running one
whose runner stopped renewing its lease: killed, or its machine lost - atomically, and runs or
continues it as ``rungs resume`` would, holding the sweep's lease while it runs
(:mod:`orchestrator.storage.leases`, :mod:`orchestrator.runner.heartbeat`). Two workers never
run the same sweep at once; a cancel or a re-queue reaches the run through its lease.

A worker outlives the database going away: claiming just tries again at the next poll, a sweep's
own calls wait out an outage up to its limit (:mod:`orchestrator.storage.retrying`), and a
failure is recorded once the database is back - recording it never takes the worker down.
SIGTERM takes Ctrl-C's path (:func:`stop_on_sigterm`): the running sweep ends ``interrupted``,
resumable, and its trials and Ray end with the process.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from orchestrator.runner.heartbeat import LeaseHeld, lease_seconds, process_owner
from orchestrator.storage import open_storage
from orchestrator.storage.base import BaseStorage
from orchestrator.storage.records import SweepRecord
from orchestrator.storage.retrying import OutagePolicy, failure_text, is_disconnect
from stages.states import SweepState

log = logging.getLogger("rungs.worker")

# A worker runs a sweep through one of these: (storage, sweep id, the lease's owner).
Runner = Callable[[BaseStorage, int, str], None]
# The database may stay away for as long as it likes while a worker waits to record something.
_UNTIL_BACK = OutagePolicy(limit_seconds=float("inf"))


def default_worker_name() -> str:
    return process_owner()


def ray_runner(ray_address: str | None) -> Runner:
    """Runs a claimed sweep on Ray (embedded, or the cluster at ``ray_address``)."""
    # Imported here, not at the top: Ray is for workers only (`rungs serve` imports this module).
    # And imported now, before any claim: seconds of imports must not eat into a fresh lease.
    from orchestrator.runner.pipeline import run_sweep

    def run(storage: BaseStorage, sweep_id: int, owner: str) -> None:
        run_sweep(storage, sweep_id, ray_address=ray_address, progress=False, owner=owner)

    return run


@dataclass(frozen=True)
class _Loop:
    name: str
    poll_seconds: float
    max_sweeps: int | None
    idle_exit_seconds: float | None
    runner: Runner
    lease_seconds: float


def work(
    database_url: str | None = None,
    *,
    name: str | None = None,
    poll_seconds: float = 2.0,
    max_sweeps: int | None = None,
    idle_exit_seconds: float | None = None,
    ray_address: str | None = None,
    runner: Runner | None = None,
) -> int:
    """Claim and run sweeps until ``max_sweeps`` ran or nothing was claimable for
    ``idle_exit_seconds`` (None: forever). Returns how many sweeps this worker ran. The lease
    lasts ``$RUNGS_LEASE_SECONDS`` (default 30 s): a sweep whose worker died is taken over
    within about that plus ``poll_seconds``."""
    loop = _Loop(
        name or default_worker_name(),
        poll_seconds,
        max_sweeps,
        idle_exit_seconds,
        runner or ray_runner(ray_address),
        lease_seconds(),
    )
    storage = _UNTIL_BACK.call(open_storage, database_url)
    try:
        return _work_loop(storage, loop)
    finally:
        storage.close()


def _work_loop(storage: BaseStorage, loop: _Loop) -> int:
    ran, idle_since = 0, time.monotonic()
    while loop.max_sweeps is None or ran < loop.max_sweeps:
        sweep = _claim(storage, loop)
        if sweep is None:
            if (
                loop.idle_exit_seconds is not None
                and time.monotonic() - idle_since > loop.idle_exit_seconds
            ):
                break
            time.sleep(loop.poll_seconds)
            continue
        log.info("worker %s runs sweep %s (%s)", loop.name, sweep.id, sweep.name)
        _run_claimed(storage, sweep, loop)
        ran += 1
        idle_since = time.monotonic()
    return ran


def _claim(storage: BaseStorage, loop: _Loop) -> SweepRecord | None:
    try:
        return storage.claim_next_sweep(loop.name, loop.lease_seconds)
    except Exception as exc:
        if not is_disconnect(exc):
            raise
        log.warning("worker %s cannot reach the database (%s); polling on", loop.name, exc)
        return None


def _run_claimed(storage: BaseStorage, sweep: SweepRecord, loop: _Loop) -> None:
    try:
        loop.runner(storage, sweep.id, loop.name)
    except LeaseHeld as exc:  # someone took the sweep between the claim and the run
        log.warning("sweep %s is not ours any more: %s", sweep.id, exc)
    except Exception as exc:  # a broken sweep must not take the worker down with it
        log.exception("sweep %s failed", sweep.id)
        record_failure(storage, sweep.id, loop.name, exc)


def record_failure(
    storage: BaseStorage,
    sweep_id: int,
    owner: str,
    exc: BaseException,
    patience: OutagePolicy = _UNTIL_BACK,
) -> None:
    """Store ``exc`` as the failure of the sweep ``owner`` runs (unless its run already ended it
    in some state), waiting for the database if it is away. Never raises: a failure to record
    is logged, and the worker goes on."""
    error = failure_text(exc)
    try:
        patience.call(storage.release_lease, sweep_id, owner, SweepState.FAILED, error)
    except Exception:
        log.exception("could not record the failure of sweep %s", sweep_id)


# -- process life -----------------------------------------------------------------------------
def stop_on_sigterm() -> None:
    """Make SIGTERM (``docker stop``, systemd, ``rungs serve`` stopping) act as Ctrl-C does:
    a KeyboardInterrupt in the main thread. The running sweep then ends ``interrupted`` and
    stays resumable, and the process exits, ending its trials and its embedded Ray with it."""
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def exit_with_parent(parent_pid: int, every_seconds: float = 1.0) -> threading.Thread:
    """End this process (as ``kill -9`` would) once its parent is gone: a worker of
    ``rungs serve`` must not outlive it. Its sweep keeps its lease until it expires, and is then
    taken over by a live worker, as after any crash."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(every_seconds)
        log.error("the parent process %s is gone; this worker ends with it", parent_pid)
        os.kill(os.getpid(), signal.SIGKILL)

    watcher = threading.Thread(target=watch, name="parent-watch", daemon=True)
    watcher.start()
    return watcher
