"""The Ray Tune searcher of one stage: assigns variants, stable keys and budgets.

One :class:`StageSearcher` serves all variants of a stage, so stage 3's hyperband and median
variants run in ONE ``Tuner.fit()`` sharing the machine: each suggestion goes to the variant with
the most budget left (ties: declaration order), comes from that variant's own proposer (as two
separate W&B sweeps would, each with its own bayes search), and is tagged with ``__variant``,
``__key`` and ``__seed`` (see :mod:`orchestrator.runner.tags`).

Keys are ``<variant>-<ordinal>`` and never reused: after a restart the searcher continues the
ordinals past the stored trials and first re-runs the interrupted ones under their old keys and
configs, so the database keeps one trial per key.
"""

from __future__ import annotations

import json
import sys
from collections import deque
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from ray.tune.search import Searcher

from orchestrator.runner import tags
from orchestrator.runner.out_of_memory import is_oom
from orchestrator.runner.proposers import Outcome, Proposer
from stages.states import TrialState
from stages.stopping import StopDecision


@dataclass(frozen=True)
class QueuedTrial:
    """A trial to run with a fixed config (re-run after a restart, or a validation run)."""

    key: str
    config: Mapping[str, Any]
    seed: int
    group: str | None = None


@dataclass
class VariantBudget:
    """What one variant still has to run: ``remaining`` counts the queued trials too."""

    name: str
    remaining: int
    proposer: Proposer | None = None
    queue: deque[QueuedTrial] = field(default_factory=deque)
    next_ordinal: int = 0
    seed: int = 0


class StageSearcher(Searcher):
    """Suggests until every variant's budget is spent, then returns ``Searcher.FINISHED``.

    ``decisions`` is shared with the :class:`~orchestrator.runner.schedulers.RuleScheduler`: a
    trial with a decision was stopped early and is told to its proposer as PRUNED.

    ``target`` is W&B's ``metric.target``: once any trial reports a value that reaches it, no
    new trial starts (running ones finish), as W&B finishes a sweep; ``target_reached`` starts
    true when a stored trial of the stage reached it before a restart.
    """

    def __init__(
        self,
        variants: list[VariantBudget],
        *,
        metric: str,
        mode: str,
        fixed: Mapping[str, Any],
        decisions: MutableMapping[str, StopDecision],
        target: float | None = None,
        target_reached: bool = False,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        self.target, self.target_reached = target, target_reached
        self.variants = {v.name: v for v in variants}
        self.fixed = dict(fixed)
        self.decisions = decisions
        self._live: dict[str, dict[str, Any]] = {}  # ray trial id -> config
        self._best: dict[str, float] = {}

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        variant = self._next_variant()
        if variant is None or self.target_reached:
            return Searcher.FINISHED
        config = self._config_for(variant)
        if config is None:  # the proposer is exhausted (a small grid): stop this variant
            variant.remaining = 0
            return self.suggest(trial_id)
        variant.remaining -= 1
        self._live[trial_id] = config
        return config

    def _next_variant(self) -> VariantBudget | None:
        open_ = [v for v in self.variants.values() if v.remaining > 0]
        return max(open_, key=lambda v: v.remaining) if open_ else None

    def _config_for(self, variant: VariantBudget) -> dict[str, Any] | None:
        if variant.queue:
            q = variant.queue.popleft()
            extra = {tags.GROUP: q.group} if q.group else {}
            return {
                **dict(q.config),
                tags.VARIANT: variant.name,
                tags.KEY: q.key,
                tags.SEED: q.seed,
                **extra,
            }
        assert variant.proposer is not None, f"variant {variant.name!r} has no proposer"
        params = variant.proposer.ask()
        if params is None:
            return None
        key = f"{variant.name}-{variant.next_ordinal:03d}"
        variant.next_ordinal += 1
        return {
            **self.fixed,
            **params,
            tags.VARIANT: variant.name,
            tags.KEY: key,
            tags.SEED: variant.seed,
        }

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        value = result.get(self.metric)
        if tags.FINAL in result or not isinstance(value, (int, float)) or value != value:
            return
        best = self._best.get(trial_id)
        better = best is None or (value > best if self.mode == "max" else value < best)
        if better:
            self._best[trial_id] = float(value)
        if reaches(value, self.target, self.mode) and not self.target_reached:
            self.target_reached = True
            print(
                f"metric.target {self.target:g} reached ({self.metric} = {value:g}): "
                "no new trials in this stage",
                file=sys.stderr,
                flush=True,
            )

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        config = self._live.pop(trial_id, None)
        if config is None:
            return
        variant = self.variants[config[tags.VARIANT]]
        outcome = trial_outcome(config[tags.KEY], result, error, self.decisions)
        if variant.proposer is not None:
            params = {k: v for k, v in tags.strip(config).items() if k not in self.fixed}
            variant.proposer.tell(params, self._best.pop(trial_id, None), outcome)

    def save(self, checkpoint_path: str) -> None:
        # Resume is driven by the database, not by Ray's experiment state (see history.py), so the
        # searcher only leaves a note; Ray calls this on every experiment snapshot.
        with open(checkpoint_path, "w") as fh:
            json.dump({"resume": "database"}, fh)

    def restore(self, checkpoint_path: str) -> None:
        # Rungs never calls Tuner.restore: `rungs resume` rebuilds the searcher from the stored
        # trials (history.py). Reaching this means someone restored a Ray experiment by hand.
        raise RuntimeError(
            "Rungs sweeps resume from the database, not from Ray's experiment folder: "
            "use `rungs resume SWEEP_ID`"
        )


def reaches(value: float | None, target: float | None, mode: str) -> bool:
    """Whether ``value`` reaches W&B's ``metric.target`` (at or past it in the goal's direction)."""
    if value is None or target is None:
        return False
    return value >= target if mode == "max" else value <= target


def trial_outcome(
    key: str,
    result: Mapping[str, Any] | None,
    error: bool,
    decisions: Mapping[str, StopDecision],
) -> Outcome:
    """How a finished trial is told to the proposer.

    A trial stopped early by hyperband or the median rule has only a low-budget value: telling
    TPE that value as COMPLETE would compare a 3-epoch score with 27-epoch scores and pull the
    model towards configs that merely start fast. PRUNED keeps it out of TPE's value ranking while
    still marking the region as unpromising. Diverged trials are PRUNED for the same reason
    (their region is bad; their value is not comparable); crashes, a trainer's own or a
    program's reported failure, are FAILED (no information), except running out of memory: that
    says the config's region does not fit (:mod:`orchestrator.runner.out_of_memory`).
    """
    if result and result.get(tags.STATUS) == TrialState.FAILED and is_oom(result.get(tags.REASON)):
        return "out_of_memory"
    if error or (result and result.get(tags.STATUS) == TrialState.FAILED):
        return "failed"
    if key in decisions:
        return "pruned"
    if result and result.get(tags.STATUS) in tags.TRAINER_STOPS:
        return "pruned"
    return "complete"
