"""Sweep, stage and trial states: the one state machine that storage, runner, API and dashboard
read (the dashboard through ``GET /api/meta/states``).

Each state is a ``StrEnum`` whose values are the strings stored in the database, so a member
compares, formats and serialises as that string: ``TrialState.COMPLETED == "completed"``.

* ``is_final``: nothing works on it any more; it changes again only when a user resumes the
  sweep. Storage stamps ``finished_at`` on entering one; the API counts final trials as done.
* ``is_terminal``: no move leads out of it. A resume keeps a trial that is terminal and runs a
  final but not terminal one (``cancelled``) again under its key.
* ``can_become``: the allowed moves. Entering the state a record already has is a move only
  where listed (``running -> running``: a resume re-marks what a killed process left running).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Self


class State(StrEnum):
    """Base of the three machines (no members of its own)."""

    @property
    def is_final(self) -> bool:
        return self in _FINAL[type(self)]

    @property
    def is_terminal(self) -> bool:
        return not _MOVES[type(self)][self]

    def can_become(self, new: Self) -> bool:
        return new in _MOVES[type(self)][self]

    @classmethod
    def finals(cls) -> tuple[Self, ...]:
        return tuple(s for s in cls if s.is_final)

    @classmethod
    def leading_to(cls, target: Self) -> tuple[Self, ...]:
        """The states from which ``target`` may be entered."""
        return tuple(s for s in cls if s.can_become(target))

    @classmethod
    def check(cls, value: str) -> Self:
        """``value`` as a member; a ValueError listing the valid strings otherwise."""
        try:
            return cls(value)
        except ValueError:
            valid = [s.value for s in cls]
            raise ValueError(
                f"{cls.__name__} must be one of {valid}, but got state={value!r}"
            ) from None


class SweepState(State):
    QUEUED = "queued"  # waits for a worker (or was queued again by a resume)
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"  # the error is stored on the sweep
    CANCELLED = "cancelled"  # by a user; the runner notices between results
    INTERRUPTED = "interrupted"  # Ctrl-C of ``rungs run``


class StageState(State):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TrialState(State):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    EARLY_STOPPED = "early_stopped"  # by the stage's stopping rule (its stop_reason says which)
    DIVERGED = "diverged"  # NaN/inf losses past the trainer's limit
    FAILED = "failed"  # an exception, e.g. out of memory
    CANCELLED = "cancelled"  # the sweep was stopped while it ran


_FINAL: Mapping[type[State], frozenset[State]] = {
    SweepState: frozenset(
        {SweepState.COMPLETED, SweepState.FAILED, SweepState.CANCELLED, SweepState.INTERRUPTED}
    ),
    StageState: frozenset({StageState.COMPLETED, StageState.FAILED, StageState.CANCELLED}),
    TrialState: frozenset(
        {
            TrialState.COMPLETED,
            TrialState.EARLY_STOPPED,
            TrialState.DIVERGED,
            TrialState.FAILED,
            TrialState.CANCELLED,
        }
    ),
}

# Running may end in any final state, or be re-marked running by a resume. A resume also leaves
# every final sweep state but completed (``rungs resume``: straight to running; the API: queued
# for a worker); a re-run stage or trial goes back to running. A running sweep goes back to
# queued when the API resumes it after its runner died (its lease expired: storage.leases).
_MOVES: Mapping[type[State], Mapping[State, frozenset[State]]] = {
    SweepState: {
        SweepState.QUEUED: frozenset({SweepState.RUNNING, SweepState.CANCELLED}),
        SweepState.RUNNING: frozenset({SweepState.RUNNING, SweepState.QUEUED, *_FINAL[SweepState]}),
        SweepState.COMPLETED: frozenset(),
        SweepState.FAILED: frozenset({SweepState.QUEUED, SweepState.RUNNING}),
        SweepState.CANCELLED: frozenset({SweepState.QUEUED, SweepState.RUNNING}),
        SweepState.INTERRUPTED: frozenset({SweepState.QUEUED, SweepState.RUNNING}),
    },
    StageState: {
        StageState.PENDING: frozenset({StageState.RUNNING, StageState.CANCELLED}),
        StageState.RUNNING: frozenset({StageState.RUNNING, *_FINAL[StageState]}),
        StageState.COMPLETED: frozenset(),
        StageState.FAILED: frozenset({StageState.RUNNING}),
        StageState.CANCELLED: frozenset({StageState.RUNNING}),
    },
    TrialState: {
        TrialState.PENDING: frozenset({TrialState.RUNNING, TrialState.CANCELLED}),
        TrialState.RUNNING: frozenset({TrialState.RUNNING, *_FINAL[TrialState]}),
        TrialState.COMPLETED: frozenset(),
        TrialState.EARLY_STOPPED: frozenset(),
        TrialState.DIVERGED: frozenset(),
        TrialState.FAILED: frozenset(),
        TrialState.CANCELLED: frozenset({TrialState.RUNNING}),
    },
}
