"""What an early-stopping rule says, and the contract every rule keeps.

A rule (W&B hyperband in :mod:`stages.hyperband`, Ray's median rule in :mod:`stages.median`) is a
pure object fed every reported result of every trial, in the order they arrived. The orchestrator
wraps it in a Ray ``TrialScheduler``, which Ray or the simulated executor
(:mod:`orchestrator.runner.simulated`) drives. Because the orchestrator rebuilds a rule after a
restart by replaying the stored results through a fresh instance, a rule must be deterministic:
the same results in the same order give the same decisions.

The rules themselves import this module; :mod:`stages.stopping_rules` builds one from a stage's
settings, so the contract never imports the rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from stages.spec import Goal

RuleName = Literal["hyperband", "median"]
_RULE_TITLES = {"hyperband": "hyperband", "median": "median stopping"}


@dataclass(frozen=True)
class StopDecision:
    """Why a trial was stopped; stored as JSON in the database's ``trial.stop_reason``.

    ``threshold`` and ``value`` are in the metric's natural units (never sign-flipped): for
    hyperband the band's threshold and the trial's compared value, for the median rule the median
    of the other trials' running means and the trial's best value so far. ``rung`` is the
    hyperband band (an iteration count) and None for the median rule.
    """

    rule: RuleName
    iteration: int
    rung: int | None
    threshold: float
    value: float
    goal: Goal

    def to_dict(self, metric: str = "metric") -> dict[str, Any]:
        """JSON-safe; ``message`` repeats :meth:`describe` (naming ``metric``) for readers of
        the raw row."""
        return {**asdict(self), "message": self.describe(metric)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StopDecision:
        """Inverse of :meth:`to_dict` (``message`` is derived, so it is ignored)."""
        rung = data.get("rung")
        return cls(
            rule=data["rule"],
            iteration=int(data["iteration"]),
            rung=None if rung is None else int(rung),
            threshold=float(data["threshold"]),
            value=float(data["value"]),
            goal=data["goal"],
        )

    def describe(self, metric: str = "metric") -> str:
        """One sentence for the dashboard and the CLI.

        >>> StopDecision("hyperband", 9, 9, 1.85, 1.2, "maximize").describe("si_sdr")
        'stopped by hyperband at rung 9: si_sdr 1.20 below threshold 1.85'
        >>> StopDecision("median", 4, None, 0.5, 0.75, "minimize").describe("loss")
        'stopped by median stopping at iteration 4: best loss 0.75 above median 0.50'
        """
        where = f"rung {self.rung}" if self.rung is not None else f"iteration {self.iteration}"
        side = "below" if self.goal == "maximize" else "above"
        if self.rule == "median":
            what, ref = f"best {metric}", "median"
        else:
            what, ref = metric, "threshold"
        return (
            f"stopped by {_RULE_TITLES[self.rule]} at {where}: "
            f"{what} {format_number(self.value)} {side} {ref} {format_number(self.threshold)}"
        )


@runtime_checkable
class StoppingRule(Protocol):
    """The contract between a stopping rule and whatever drives it.

    * :meth:`on_result` is called for every reported value of every trial, in arrival order;
      ``iteration`` is the count of values that trial has reported so far (1-based). A returned
      decision means "stop this trial now"; None means "let it continue".
    * :meth:`on_complete` is called once when a trial ends on its own (full budget reached).
    * Results of stopped and completed trials stay part of the rule's state (both W&B and Ray
      compare running trials against them).
    * Deterministic: replaying the same calls on a fresh instance gives the same decisions.
    """

    def on_result(self, trial_id: str, iteration: int, value: float) -> StopDecision | None: ...

    def on_complete(self, trial_id: str) -> None: ...


def format_number(x: float) -> str:
    """Short, readable numbers for messages: ``1.20``, ``5.1e-4``, ``-inf``.

    >>> format_number(1.2), format_number(0.00051), format_number(3e-4), format_number(12345.0)
    ('1.20', '5.1e-4', '3.0e-4', '1.2e+4')
    """
    if not math.isfinite(x):
        return str(x)
    if x == 0 or 1e-2 <= abs(x) < 1e4:
        return f"{x:.2f}" if abs(x) < 100 else f"{x:.1f}"
    mantissa, exponent = f"{x:.1e}".split("e")
    power = int(exponent)
    return f"{mantissa}e{power:+d}" if power > 0 else f"{mantissa}e{power}"
