"""What a user asks of a stored sweep: cancel it, or queue it again for a worker.

``rungs cancel`` and ``POST /api/sweeps/{id}/cancel`` (and the API's resume) make the same move
through :func:`move_sweep`, allowed or refused by the one state machine (:mod:`stages.states`).
"""

from __future__ import annotations

from orchestrator.storage.base import BaseStorage
from orchestrator.storage.records import SweepRecord
from stages.states import SweepState


class MoveRefused(ValueError):
    """The sweep's state does not allow the move; the message names the states that do."""


def move_sweep(storage: BaseStorage, sweep_id: int, target: SweepState, verb: str) -> SweepRecord:
    """Move the sweep to ``target`` and return it; KeyError for an unknown id, MoveRefused when
    the state machine does not allow the move from the sweep's state."""
    sweep = storage.get_sweep(sweep_id)
    if not SweepState(sweep.state).can_become(target):
        allowed = tuple(s.value for s in SweepState.leading_to(target))
        raise MoveRefused(f"sweep {sweep_id} is {sweep.state}; only {allowed} can be {verb}")
    if target == SweepState.QUEUED:
        _requeue(storage, sweep_id)
    else:
        storage.set_sweep_state(sweep_id, target)
    return storage.get_sweep(sweep_id)


def _requeue(storage: BaseStorage, sweep_id: int) -> None:
    """Queue again for a worker; a running sweep only once its runner's lease expired (the
    runner died), so a live run is never started twice (:mod:`orchestrator.storage.leases`)."""
    if storage.requeue_sweep(sweep_id):
        return
    now = storage.get_sweep(sweep_id)
    if now.state != SweepState.RUNNING:
        raise MoveRefused(f"sweep {sweep_id} is {now.state}; it cannot be queued again")
    raise MoveRefused(
        f"sweep {sweep_id} is running under {now.worker}, whose lease is live; cancel it "
        "first (or, if that worker is gone, resume once its lease has expired)"
    )


def cancel_sweep(storage: BaseStorage, sweep_id: int) -> SweepRecord:
    """A queued sweep never starts; a running one stops at its runner's next check."""
    return move_sweep(storage, sweep_id, SweepState.CANCELLED, "cancelled")
