"""Build the stopping rule a stage variant asks for, and guard it at the last epoch.

Kept apart from :mod:`stages.stopping` (the contract), which both rules import: this module
imports the rules, so the contract stays free of them and no import cycle exists.
"""

from __future__ import annotations

from stages.hyperband import HyperbandStopper
from stages.median import MedianStopper
from stages.spec import EarlyTerminate, Goal, Hyperband, MedianStopping
from stages.stopping import StopDecision, StoppingRule


def make_stopping_rule(
    early_terminate: EarlyTerminate | None, goal: Goal, max_epochs: int | None = None
) -> StoppingRule | None:
    """The rule a stage variant asks for (None: no early stopping)."""
    rule: StoppingRule
    if early_terminate is None:
        return None
    if isinstance(early_terminate, Hyperband):
        rule = HyperbandStopper(early_terminate, goal, max_epochs=max_epochs)
    elif isinstance(early_terminate, MedianStopping):
        rule = MedianStopper(early_terminate, goal)
    else:
        raise TypeError(
            f"unknown early_terminate {early_terminate!r}; valid: Hyperband, MedianStopping, None"
        )
    return rule if max_epochs is None else FinalEpochGuard(rule, max_epochs)


class FinalEpochGuard:
    """Never stop a trial at its last epoch: it has spent its whole budget, so stopping saves
    nothing, and it would wrongly mark a finished trial ``early_stopped`` (which keeps it out of
    the full-budget candidates of selection). The value still reaches the rule, so thresholds
    see it.
    """

    def __init__(self, rule: StoppingRule, max_epochs: int) -> None:
        self.rule, self.max_epochs = rule, max_epochs

    def on_result(self, trial_id: str, iteration: int, value: float) -> StopDecision | None:
        decision = self.rule.on_result(trial_id, iteration, value)
        return None if iteration >= self.max_epochs else decision

    def on_complete(self, trial_id: str) -> None:
        self.rule.on_complete(trial_id)
