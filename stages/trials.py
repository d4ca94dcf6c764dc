"""The view of a trial that stage logic works on: hand-buildable in tests, built from the
database by the orchestrator."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stages.spec import Goal

FINISHED = "completed"


@dataclass(frozen=True)
class TrialSummary:
    """``config`` is flat (dotted names for nested parameters); ``value`` is the trial's best
    metric in natural units (goal not applied), None when it never reported one."""

    id: int | str
    config: Mapping[str, Any]
    value: float | None
    name: str = ""
    stage: str = ""
    variant: str = "main"
    status: str = FINISHED
    epochs: int = 0
    max_epochs: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def reached_full_budget(self) -> bool:
        """Completed and trained the stage's whole budget (not stopped early)."""
        if self.status != FINISHED:
            return False
        return self.max_epochs is None or self.epochs >= self.max_epochs


def signed(value: float, goal: Goal) -> float:
    """Convert once at the boundary so that everything inside maximises (Ray's ``metric_op``)."""
    return value if goal == "maximize" else -value
