"""Workers: claim queued sweeps from the database and run them with the orchestrator.

The API process never runs a sweep itself: it only queues. A worker (``rungs worker``, or the one
``rungs serve`` starts beside the API) claims the oldest queued sweep atomically - two workers
never run the same sweep - and runs or resumes it. Cancellation is a state change in the database
that the runner notices.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

from orchestrator.storage import open_storage
from orchestrator.storage.base import BaseStorage

log = logging.getLogger("rungs.worker")


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _run_claimed(storage: BaseStorage, sweep_id: int, ray_address: str | None) -> None:
    from orchestrator.runner.pipeline import run_sweep  # Ray is imported only by workers

    run_sweep(storage, sweep_id, ray_address=ray_address, progress=False)


def work(
    database_url: str | None = None,
    *,
    name: str | None = None,
    poll_seconds: float = 2.0,
    max_sweeps: int | None = None,
    idle_exit_seconds: float | None = None,
    ray_address: str | None = None,
    runner: Callable[[BaseStorage, int, str | None], None] = _run_claimed,
) -> int:
    """Claim and run sweeps until ``max_sweeps`` ran or nothing was queued for
    ``idle_exit_seconds`` (None: forever). Returns how many sweeps this worker ran."""
    storage = open_storage(database_url)
    try:
        return _work_loop(
            storage,
            name or default_worker_name(),
            poll_seconds,
            max_sweeps,
            idle_exit_seconds,
            ray_address,
            runner,
        )
    finally:
        storage.close()


def _work_loop(
    storage: BaseStorage,
    name: str,
    poll_seconds: float,
    max_sweeps: int | None,
    idle_exit_seconds: float | None,
    ray_address: str | None,
    runner: Callable[[BaseStorage, int, str | None], None],
) -> int:
    ran, idle_since = 0, time.monotonic()
    while max_sweeps is None or ran < max_sweeps:
        sweep = storage.claim_next_sweep(name)
        if sweep is None:
            if idle_exit_seconds is not None and time.monotonic() - idle_since > idle_exit_seconds:
                break
            time.sleep(poll_seconds)
            continue
        log.info("worker %s runs sweep %s (%s)", name, sweep.id, sweep.name)
        try:
            runner(storage, sweep.id, ray_address)
        except Exception as exc:  # a broken sweep must not take the worker down with it
            log.exception("sweep %s failed", sweep.id)
            storage.set_sweep_state(sweep.id, "failed", error=f"{type(exc).__name__}: {exc}")
        ran += 1
        idle_since = time.monotonic()
    return ran
