"""The runner's side of a sweep's lease: take it, renew it from a thread, notice when it is lost,
give it back at the end. (The database side, and what a lease allows, is
:mod:`orchestrator.storage.leases`.)

Every run of a sweep - a worker's, ``rungs run``'s, ``rungs resume``'s - holds the lease for as
long as it runs (:func:`held_lease`). A thread checks the sweep every second and renews the lease
every third of its length (``RUNGS_LEASE_SECONDS``, default 30 s). The lease is lost when the
sweep no longer runs under this owner: a user cancelled or re-queued it, or another worker took
it over after the lease had expired. The run then stops its trials at the executor's next step
(``should_stop``) and writes no final state: the sweep is no longer its own.

While the database cannot be reached the thread keeps trying and the run goes on: nobody can
take the sweep over meanwhile, and the first renewal after the outage tells whether someone did.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from orchestrator.storage.base import BaseStorage
from orchestrator.storage.records import SweepRecord
from orchestrator.storage.retrying import is_disconnect, unwrapped
from stages.states import SweepState

LEASE_SECONDS_ENV = "RUNGS_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 30.0
# How often the heartbeat looks at the sweep (a read): how soon a cancel stops the trials.
CHECK_SECONDS = 1.0

log = logging.getLogger("rungs.lease")


class LeaseHeld(RuntimeError):
    """Another live process holds the sweep's lease: it runs the sweep now."""


def lease_seconds(env: Mapping[str, str] | None = None) -> float:
    """``$RUNGS_LEASE_SECONDS``, else 30: how long a silent runner keeps its sweep."""
    env = os.environ if env is None else env
    raw = env.get(LEASE_SECONDS_ENV, "").strip()
    try:
        seconds = float(raw) if raw else DEFAULT_LEASE_SECONDS
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise ValueError(f"{LEASE_SECONDS_ENV} must be a positive number of seconds, got {raw!r}")
    return seconds


def process_owner() -> str:
    """This process as a lease owner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def dead_here(owner: str | None) -> bool:
    """Whether ``owner`` names a process of this host (``host:pid``) that no longer exists: its
    lease need not be waited for (``kill -9`` of ``rungs run``, then ``rungs resume``)."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


class LeaseKeeper:
    """Holds one sweep's lease for one run (use :func:`held_lease`)."""

    def __init__(self, storage: BaseStorage, sweep_id: int, owner: str, seconds: float) -> None:
        self.storage, self.sweep_id, self.owner, self.seconds = storage, sweep_id, owner, seconds
        self._direct = unwrapped(storage)  # the heartbeat never waits out an outage
        self._lost, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{sweep_id}", daemon=True)
        self.lost_because: str | None = None

    def acquire(self) -> None:
        """Take the lease (the sweep becomes running), or raise :class:`LeaseHeld`."""
        sweep = self.storage.get_sweep(self.sweep_id)
        replacing = sweep.worker if dead_here(sweep.worker) else None
        if not self.storage.acquire_lease(
            self.sweep_id, self.owner, self.seconds, replacing=replacing
        ):
            raise self._refusal(self.storage.get_sweep(self.sweep_id))

    def _refusal(self, sweep: SweepRecord) -> Exception:
        if not SweepState(sweep.state).can_become(SweepState.RUNNING):
            return ValueError(f"sweep {sweep.id} is {sweep.state}; it cannot run again")
        until = (
            sweep.lease_expires_at.isoformat(timespec="seconds") if sweep.lease_expires_at else "?"
        )
        return LeaseHeld(
            f"sweep {sweep.id} is {sweep.state} and held by {sweep.worker} (lease until "
            f"{until}); cancel it first, or, if that process is gone, resume after its lease "
            f"expires"
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def should_stop(self) -> bool:
        """Whether the lease was lost: the run must stop (cheap: no database call)."""
        return self._lost.is_set()

    def finish(self, state: str, error: str | None = None) -> bool:
        """End the sweep in ``state`` and give the lease back; only while the sweep still runs
        under this owner. Whether the state was written. The heartbeat is told first: a check
        that reads the state this writes is the run's own ending, not a lost lease."""
        self._stop.set()
        return self.storage.release_lease(self.sweep_id, self.owner, state, error)

    def release(self) -> None:
        """Give the lease back without a state (best effort: an unreachable database lets it
        expire on its own)."""
        try:
            self._direct.release_lease(self.sweep_id, self.owner)
        except Exception as exc:
            if not is_disconnect(exc):
                raise
            log.warning("could not give back the lease of sweep %s: %s", self.sweep_id, exc)

    # -- the heartbeat thread ---------------------------------------------------------------
    def _beat(self) -> None:
        renew_every = self.seconds / 3
        renewed = time.monotonic()
        while not self._stop.wait(min(CHECK_SECONDS, renew_every)):
            renew = time.monotonic() - renewed >= renew_every
            held = self._check(renew)
            if held is None:  # not checked: try again at the next beat
                continue
            if not held and self._stop.is_set():  # it read the run's own finish()
                return
            if not held:
                self._lose()
                return
            if renew:
                renewed = time.monotonic()

    def _check(self, renew: bool) -> bool | None:
        """Whether the lease is still ours (renewed when ``renew``); None when the database
        could not tell. Never raises: the heartbeat is the run's only guard."""
        try:
            if renew:
                return self._direct.renew_lease(self.sweep_id, self.owner, self.seconds)
            return self._still_mine(self._direct.get_sweep(self.sweep_id))
        except KeyError:  # the sweep is gone
            return False
        except Exception as exc:
            level = logging.WARNING if is_disconnect(exc) else logging.ERROR
            log.log(level, "lease of sweep %s not checked: %s", self.sweep_id, exc)
            return None

    def _still_mine(self, sweep: SweepRecord) -> bool:
        return sweep.state == SweepState.RUNNING and sweep.worker == self.owner

    def _lose(self) -> None:
        try:
            sweep = self._direct.get_sweep(self.sweep_id)
            self.lost_because = (
                f"the sweep is now {sweep.state}"
                if sweep.worker == self.owner
                else f"{sweep.worker} took the sweep over"
            )
        except Exception as exc:
            self.lost_because = f"the lease could not be renewed ({exc})"
        log.warning(
            "sweep %s: lease lost (%s); stopping its trials", self.sweep_id, self.lost_because
        )
        self._lost.set()


@contextmanager
def held_lease(
    storage: BaseStorage, sweep_id: int, owner: str | None = None, seconds: float | None = None
) -> Iterator[LeaseKeeper]:
    """The sweep's lease, held (and renewed) inside the block, given back after it. Raises
    :class:`LeaseHeld` when another live process holds it."""
    keeper = LeaseKeeper(storage, sweep_id, owner or process_owner(), seconds or lease_seconds())
    keeper.acquire()
    keeper.start()
    try:
        yield keeper
    finally:
        keeper.stop()
        keeper.release()
