"""Build one stage's job: searcher + scheduler + recorder wired to the database, Ray-free.

A :class:`StageJob` is everything an executor needs to run a stage's remaining trials. The Ray
executor (:mod:`orchestrator.runner.executor`) turns it into one ``Tuner.fit()``; tests drive
the same objects with a simulated executor, so the pipeline logic is tested without Ray.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from orchestrator.runner.progress import ProgressLine
from orchestrator.runner.proposers import Outcome, make_proposer
from orchestrator.runner.recorder import Recorder
from orchestrator.runner.resume import (
    StageHistory,
    close_replayed_stops,
    load_history,
    replay_rules,
    requeue,
)
from orchestrator.runner.schedulers import RuleScheduler
from orchestrator.runner.searchers import QueuedTrial, StageSearcher, VariantBudget
from orchestrator.runner.trainable import TrialContext
from orchestrator.runner.wandb_logging import wandb_settings
from orchestrator.storage.base import BaseStorage
from orchestrator.storage.records import SweepRecord, TrialRecord
from stages.narrowing import top_configs
from stages.space import Space
from stages.spec import Resources, Stage, SweepSpec
from stages.stopping import StopDecision, make_stopping_rule
from stages.trials import TrialSummary
from trainers.api import DataRequest

VALIDATION_VARIANT = "validation"


@dataclass
class SweepEnv:
    """One sweep being run: its record, spec, folder and database."""

    storage: BaseStorage
    sweep: SweepRecord
    spec: SweepSpec
    sweep_dir: Path
    cache_dir: Path
    progress: bool = True
    max_failures: int = 1

    @property
    def metric(self) -> str:
        return self.spec.metric.name

    @property
    def goal(self) -> Any:
        return self.spec.metric.goal

    @property
    def mode(self) -> str:
        return "max" if self.goal == "maximize" else "min"


@dataclass
class StageJob:
    name: str
    stage_id: int
    ctx: TrialContext
    searcher: StageSearcher
    scheduler: RuleScheduler
    recorder: Recorder
    progress: ProgressLine
    decisions: dict[str, StopDecision]
    trials: int  # how many trials this run will start
    resources: Resources
    sweep_dir: Path
    max_failures: int
    show_progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


class Executor(Protocol):
    def execute(self, job: StageJob) -> None:
        """Run every trial the job's searcher suggests; return when all have ended."""


def trial_context(env: SweepEnv, stage: str, subset: int, epochs: int) -> TrialContext:
    d = env.spec.dataset
    data = DataRequest(
        kind=d.kind,
        train_manifest=d.train_manifest,
        valid_manifest=d.valid_manifest,
        valid_size=d.valid_size,
        sample_rate=d.sample_rate,
        segment_seconds=d.segment_seconds,
        seed=d.seed,
        cache_dir=str(env.cache_dir),
    )
    block = env.spec.wandb
    return TrialContext(
        sweep_name=env.sweep.name,
        stage=stage,
        model=env.spec.model.name,
        preset=env.spec.model.preset,
        data=data,
        subset=subset,
        epochs=epochs,
        metric=env.metric,
        default_seed=env.spec.seed,
        wandb=wandb_settings(block, sweep=env.sweep.name, stage=stage, sweep_dir=env.sweep_dir),
    )


def summaries(trials: Sequence[TrialRecord], max_epochs: int | None) -> list[TrialSummary]:
    return [
        TrialSummary(
            id=t.id,
            config=t.config,
            value=t.best_value,
            name=t.name,
            stage=t.stage_name,
            variant=t.variant,
            status=t.status,
            epochs=t.epochs,
            max_epochs=max_epochs,
        )
        for t in trials
    ]


def _told_outcome(status: str) -> Outcome:
    return {"completed": "complete", "failed": "failed"}.get(status, "pruned")  # type: ignore[return-value]


def _assemble(
    env: SweepEnv,
    name: str,
    stage_id: int,
    ctx: TrialContext,
    budgets: list[VariantBudget],
    rules: dict[str, Any],
    history: StageHistory,
) -> StageJob:
    fed, stopped = replay_rules(env.storage, env.sweep.id, history, rules, env.metric)
    close_replayed_stops(env.storage, history, stopped)
    for budget in budgets:  # interrupted trials first, under their old keys
        budget.queue.extend(requeue(history, stopped).get(budget.name, []))
    decisions: dict[str, StopDecision] = {}
    searcher = StageSearcher(
        budgets, metric=env.metric, mode=env.mode, fixed=env.spec.model.fixed, decisions=decisions
    )
    scheduler = RuleScheduler(rules, metric=env.metric, mode=env.mode, decisions=decisions, fed=fed)
    recorder = Recorder(
        env.storage, stage_id, metric=env.metric, goal=env.goal, decisions=decisions
    )
    total = sum(b.remaining for b in budgets)
    return StageJob(
        name=name,
        stage_id=stage_id,
        ctx=ctx,
        searcher=searcher,
        scheduler=scheduler,
        recorder=recorder,
        progress=ProgressLine(name, total, env.metric, env.goal),
        decisions=decisions,
        trials=total,
        resources=env.spec.resources,
        sweep_dir=env.sweep_dir,
        max_failures=env.max_failures,
        show_progress=env.progress,
    )


def search_job(
    env: SweepEnv,
    position: int,
    stage: Stage,
    stage_id: int,
    space: Space,
    warm: Sequence[TrialSummary],
) -> StageJob:
    """The job of a search stage; ``warm`` are the source stage's trials (warm start)."""
    history = load_history(env.storage, env.sweep.id, stage.name)
    variants = stage.effective_variants()
    rules = {
        v.name: make_stopping_rule(v.early_terminate, env.goal, stage.epochs) for v in variants
    }
    budgets = [
        _variant_budget(
            env, stage, position, index, space, history, warm if stage.warm_start else []
        )
        for index in range(len(variants))
    ]
    ctx = trial_context(env, stage.name, stage.subset, stage.epochs)
    return _assemble(env, stage.name, stage_id, ctx, budgets, rules, history)


def _variant_budget(
    env: SweepEnv,
    stage: Stage,
    position: int,
    index: int,
    space: Space,
    history: StageHistory,
    warm: Sequence[TrialSummary],
) -> VariantBudget:
    """One variant's proposer, told about its stored trials (resume) or warm-started (fresh)."""
    variants = stage.effective_variants()
    variant = variants[index]
    proposer = make_proposer(stage.method, space, env.goal, env.spec.seed + 1000 * position + index)
    done = [t for t in history.finished if t.variant == variant.name]
    for t in done:
        proposer.tell(
            {k: v for k, v in t.config.items() if k in space}, t.best_value, _told_outcome(t.status)
        )
    if warm and not history.all:
        for config in warm_configs(warm, env.goal, index, len(variants), variant.trials):
            proposer.enqueue({k: v for k, v in config.items() if k in space})
    return VariantBudget(
        name=variant.name,
        remaining=max(0, variant.trials - len(done)),
        proposer=proposer,
        next_ordinal=history.next_ordinal(variant.name),
        seed=env.spec.seed,
    )


def warm_configs(
    warm: Sequence[TrialSummary], goal: Any, index: int, n_variants: int, trials: int
) -> list[dict[str, Any]]:
    """The source stage's best configs for variant ``index``: dealt round-robin over the variants
    (so two variants do not both spend trials on the same points), at most a third of the
    variant's budget (the rest is the proposer's own search)."""
    per_variant = max(1, min(3, trials // 3))
    ranked = top_configs(list(warm), goal, per_variant * n_variants)
    return ranked[index::n_variants][:per_variant]


def validation_job(
    env: SweepEnv, name: str, stage_id: int, runs: Sequence[QueuedTrial], subset: int, epochs: int
) -> StageJob:
    """Top-k x seeds, no early stopping; stored runs that finished are not run again."""
    history = load_history(env.storage, env.sweep.id, name)
    done = {t.key for t in history.finished}
    todo = [r for r in runs if r.key not in done]
    budget = VariantBudget(VALIDATION_VARIANT, remaining=len(todo), queue=deque(todo))
    ctx = trial_context(env, name, subset, epochs)
    history.unfinished = []  # the plan re-queues them (same keys); no double queue
    return _assemble(env, name, stage_id, ctx, [budget], {VALIDATION_VARIANT: None}, history)
