"""A stage's stored history: what a (re)started stage keeps, replays and runs again.

Every stage starts by reading what the database already holds for it, which is how a sweep
resumes from the database alone (the "restart cleanly" option; Ray's experiment folder is not
the record). After ``kill -9``:

* completed stages are skipped (their stage record says ``completed``; see
  :mod:`orchestrator.runner.pipeline`);
* in the interrupted stage, trials in a terminal state (:attr:`TrialState.is_terminal`) are kept
  and counted against each variant's budget and told to the proposers, so TPE continues from them;
* the other trials (interrupted while running or pending, or cancelled) are re-run under their
  old key, config and seed. A re-run trial continues from the checkpoint in its own folder
  (:func:`orchestrator.runner.trainable.request_for`): it reports the epochs that checkpoint
  covers again, then trains on; a trainer without checkpoints is seeded and reports the same
  epochs again. Either way the storage's idempotency on (trial_id, step) keeps exactly one row
  per epoch - none lost, none duplicated;
* the stopping rules are rebuilt by replaying the stored results in arrival order (result ids),
  and a re-run trial's already-seen epochs are not fed again (``RuleScheduler.fed``);
* the partial Ray experiment of the stage is deleted; the stage starts a fresh ``Tuner.fit()``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.runner.schedulers import finite
from orchestrator.runner.searchers import QueuedTrial
from orchestrator.storage.base import BaseStorage
from orchestrator.storage.records import TrialRecord
from stages.states import TrialState
from stages.stopping import StopDecision, StoppingRule


@dataclass
class StageHistory:
    """A stage's stored trials, split into those kept (``finished``: in a terminal state) and
    those to re-run (``unfinished``)."""

    finished: list[TrialRecord] = field(default_factory=list)
    unfinished: list[TrialRecord] = field(default_factory=list)

    def finished_in(self, variant: str) -> int:
        return sum(1 for t in self.finished if t.variant == variant)

    def next_ordinal(self, variant: str) -> int:
        """One past the highest ``<variant>-<n>`` key stored, so new keys never collide."""
        pattern = re.compile(rf"^{re.escape(variant)}-(\d+)$")
        ordinals = [int(m.group(1)) for t in self.all if (m := pattern.match(t.key))]
        return max(ordinals, default=-1) + 1

    @property
    def all(self) -> list[TrialRecord]:
        return self.finished + self.unfinished


def load_history(storage: BaseStorage, sweep_id: int, stage: str) -> StageHistory:
    history = StageHistory()
    for trial in storage.get_trials(sweep_id, stage=stage):
        kept = TrialState(trial.status).is_terminal
        bucket = history.finished if kept else history.unfinished
        bucket.append(trial)
    return history


def replay_rules(
    storage: BaseStorage,
    sweep_id: int,
    history: StageHistory,
    rules: Mapping[str, StoppingRule | None],
    metric: str,
) -> tuple[dict[str, int], dict[str, StopDecision]]:
    """Feed the stored results through fresh rules; returns (last fed iteration per key,
    decisions that stop an *unfinished* trial - it should have been stopped before the crash)."""
    by_id = {t.id: t for t in history.all}
    fed: dict[str, int] = {}
    decisions: dict[str, StopDecision] = {}
    cursor = 0
    while page := storage.results_after(sweep_id, cursor):
        cursor = page[-1].id
        for row in page:
            trial = by_id.get(row.trial_id)
            rule = rules.get(trial.variant) if trial else None
            value = finite(row.metrics.get(metric))
            if trial is None or rule is None or value is None or row.step <= fed.get(trial.key, 0):
                continue
            fed[trial.key] = row.step
            decision = rule.on_result(trial.key, row.step, value)
            if decision is not None and not TrialState(trial.status).is_terminal:
                decisions[trial.key] = decision
    for trial in history.finished:
        rule = rules.get(trial.variant)
        if rule is not None and trial.status == TrialState.COMPLETED:
            rule.on_complete(trial.key)
    return fed, decisions


def requeue(history: StageHistory, stopped: Mapping[str, Any]) -> dict[str, list[QueuedTrial]]:
    """Interrupted trials to re-run, per variant, in their original order."""
    out: dict[str, list[QueuedTrial]] = {}
    for trial in sorted(history.unfinished, key=lambda t: t.id):
        if trial.key in stopped:
            continue
        group = trial.name if trial.name != trial.key else None
        out.setdefault(trial.variant, []).append(
            QueuedTrial(trial.key, trial.config, trial.seed, group)
        )
    return out


def close_replayed_stops(
    storage: BaseStorage, history: StageHistory, stopped: Mapping[str, StopDecision]
) -> None:
    """Unfinished trials the replayed rule stops are stored as early_stopped, not re-run."""
    for trial in history.unfinished:
        if trial.key in stopped:
            storage.update_trial(
                trial.id,
                status=TrialState.EARLY_STOPPED,
                stop_reason=stopped[trial.key].to_dict(),
                finished=True,
            )
