"""/api/meta: what clients need to know about Rungs itself, such as its state machine."""

from __future__ import annotations

from fastapi import APIRouter

from orchestrator.api.deps import ReadAuth
from orchestrator.api.schemas import MachinePublic, StatesPublic, error_responses
from stages.states import StageState, State, SweepState, TrialState

router = APIRouter(prefix="/meta", tags=["meta"], responses=error_responses(401))


def _machine(states: type[State]) -> MachinePublic:
    return MachinePublic(
        states=[s.value for s in states],
        final=[s.value for s in states.finals()],
        moves={s.value: [t.value for t in states if s.can_become(t)] for s in states},
    )


@router.get("/states", response_model=StatesPublic, dependencies=[ReadAuth])
def get_states() -> StatesPublic:
    """Sweep, stage and trial states as :mod:`stages.states` defines them: the dashboard takes
    its filters and its "still live" test from here instead of copying the lists."""
    return StatesPublic(
        sweep=_machine(SweepState), stage=_machine(StageState), trial=_machine(TrialState)
    )
