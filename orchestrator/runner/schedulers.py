"""When to stop: a Ray Tune scheduler that feeds every result to the variant's StoppingRule.

The maths lives in :mod:`stages.stopping` (pure, tested without Ray); this class is only the
adapter. One scheduler serves a whole stage and dispatches by the trial's ``__variant`` tag, so
stage 3's hyperband and median variants share one ``Tuner.fit()``. Rules know trials by their
stable database key, which lets :mod:`orchestrator.runner.history` rebuild a rule by replaying the
stored results before the stage continues.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from typing import Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from orchestrator.runner import tags
from stages.stopping import StopDecision, StoppingRule


class RuleScheduler(FIFOScheduler):
    """Returns STOP when the trial's rule decides so, recording the decision in ``decisions``.

    ``fed`` maps a key to the last iteration its rule has seen; a result at or below it (a trial
    re-run after a restart re-reports its first epochs) is not fed twice.
    """

    def __init__(
        self,
        rules: Mapping[str, StoppingRule | None],
        *,
        metric: str,
        mode: str,
        decisions: MutableMapping[str, StopDecision],
        fed: MutableMapping[str, int] | None = None,
    ) -> None:
        super().__init__()
        self.rules = dict(rules)
        self.decisions = decisions
        self.fed: MutableMapping[str, int] = fed if fed is not None else {}
        self._metric, self._mode = metric, mode
        self.metric_name = metric
        # Buffered results would reach the rule in batches, after the trial trained past a rung.
        self._supports_buffered_results = not any(self.rules.values())

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return True  # the metric and mode come from the sweep spec, not from the Tuner

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        decision = self.feed(trial.config, result)
        return TrialScheduler.STOP if decision else TrialScheduler.CONTINUE

    def feed(self, config: Mapping[str, Any], result: Mapping[str, Any]) -> StopDecision | None:
        """The Ray-free core of :meth:`on_trial_result` (tests call it directly)."""
        rule = self.rules.get(str(config.get(tags.VARIANT)))
        value = finite(result.get(self.metric_name))
        if rule is None or tags.FINAL in result or value is None:
            return None
        key = str(config[tags.KEY])
        iteration = int(result.get("epoch") or result.get("training_iteration") or 0)
        if iteration <= self.fed.get(key, 0):
            return None
        self.fed[key] = iteration
        decision = rule.on_result(key, iteration, value)
        if decision is not None:
            self.decisions[key] = decision
        return decision

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        self.complete(trial.config)

    def complete(self, config: Mapping[str, Any]) -> None:
        rule = self.rules.get(str(config.get(tags.VARIANT)))
        key = str(config.get(tags.KEY))
        if rule is not None and key not in self.decisions:
            rule.on_complete(key)

    def debug_string(self) -> str:
        return f"RuleScheduler: {len(self.decisions)} trials stopped early"


def finite(value: Any) -> float | None:
    """``value`` as a float when it is a finite number (not a bool), else None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
