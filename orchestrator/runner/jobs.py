"""Build one stage's job: searcher + scheduler + recorder wired to the database.

A :class:`StageJob` is everything an executor needs to run a stage's remaining trials. The
searcher, scheduler and recorder are Ray Tune classes (this module imports Ray through them),
but building a job starts no Ray runtime: the Ray executor (:mod:`orchestrator.runner.executor`)
turns the job into one ``Tuner.fit()``, and a simulated executor drives the same objects on a
simulated clock, so the pipeline logic is tested without a Ray cluster.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from orchestrator.runner.history import (
    StageHistory,
    close_replayed_stops,
    load_history,
    replay_rules,
    requeue,
)
from orchestrator.runner.out_of_memory import is_oom
from orchestrator.runner.programs import (
    ProgramTrials,
    kill_leftovers,
    trial_log_dir,
    wandb_environment,
)
from orchestrator.runner.progress import ProgressLine
from orchestrator.runner.proposers import Outcome, make_proposer
from orchestrator.runner.recorder import Recorder
from orchestrator.runner.schedulers import RuleScheduler
from orchestrator.runner.searchers import QueuedTrial, StageSearcher, VariantBudget, reaches
from orchestrator.runner.trainable import TrialContext
from orchestrator.runner.trial_storage import checkpoint_root, configured_storage, is_uri
from orchestrator.runner.wandb_logging import wandb_settings
from orchestrator.storage.base import BaseStorage
from orchestrator.storage.records import SweepRecord, TrialRecord
from stages.narrowing import top_configs
from stages.space import Space
from stages.spec import Resources, Stage, SweepSpec
from stages.states import SweepState, TrialState
from stages.stopping import StopDecision
from stages.stopping_rules import make_stopping_rule
from stages.trials import TrialSummary
from trainers.api import DataRequest

VALIDATION_VARIANT = "validation"


def never() -> bool:
    """A run that nothing stops early (no lease to lose)."""
    return False


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
    # True once the run lost the sweep's lease (cancelled, re-queued, taken over): runner.heartbeat
    should_stop: Callable[[], bool] = never

    def stopped(self) -> bool:
        """Whether the run must stop: its lease was lost, or the sweep was cancelled (read
        once more, for a cancel the heartbeat has not seen yet)."""
        if self.should_stop():
            return True
        return self.storage.get_sweep(self.sweep.id).state == SweepState.CANCELLED

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
    should_stop: Callable[[], bool] = never  # checked by the executor between steps


class Executor(Protocol):
    def execute(self, job: StageJob) -> None:
        """Run every trial the job's searcher suggests; return when all have ended."""


def trial_context(env: SweepEnv, stage: str, subset: int, epochs: int) -> TrialContext:
    # every field of the spec's dataset block is a field of the trainers' request
    data = DataRequest(**asdict(env.spec.dataset), cache_dir=str(env.cache_dir))
    block = env.spec.wandb
    storage = configured_storage()  # RUNGS_STORAGE: where checkpoints go (trial_storage)
    if env.spec.program is not None:  # the program logs to W&B itself, as under wandb agent
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
            program=program_trials(env, stage),
        )
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
        checkpoint_root=str(checkpoint_root(storage, env.sweep_dir)),
        ray_checkpoints=is_uri(storage),
    )


def program_trials(env: SweepEnv, stage: str) -> ProgramTrials:
    assert env.spec.program is not None
    return ProgramTrials(
        program=env.spec.program,
        sweep_dir=str(env.sweep_dir),
        metric=env.metric,
        goal=env.goal,
        sweep=env.sweep.name,
        stage=stage,
        wandb_env=wandb_environment(env.spec.wandb),
        cpus=env.spec.resources.cpus_per_trial,
        gpus=env.spec.resources.gpus_per_trial,
    )


def kill_program_leftovers(env: SweepEnv, stage: str, history: StageHistory) -> None:
    """Before a program stage continues, kill what its interrupted trials left running (their
    launcher died with ``rungs run``); a re-run would also do it, a replayed stop would not."""
    if env.spec.program is None or not history.unfinished:
        return
    folders = [trial_log_dir(env.sweep_dir, stage, t.key) for t in history.unfinished]
    for folder in kill_leftovers(folders, env.spec.program.grace_seconds):
        print(f"[{stage}] killed a program left running in {folder}", file=sys.stderr)


def summaries(trials: Sequence[TrialRecord], max_epochs: int | None) -> list[TrialSummary]:
    return [t.summary(max_epochs) for t in trials]


def _told_outcome(trial: TrialRecord) -> Outcome:
    """What a proposer is told about a stored trial (as :func:`.searchers.trial_outcome` told
    it the first time): complete, failed, out_of_memory or pruned."""
    if trial.status == TrialState.COMPLETED:
        return "complete"
    if trial.status != TrialState.FAILED:
        return "pruned"
    return "out_of_memory" if is_oom((trial.stop_reason or {}).get("message")) else "failed"


def _assemble(
    env: SweepEnv,
    name: str,
    stage_id: int,
    ctx: TrialContext,
    budgets: list[VariantBudget],
    rules: dict[str, Any],
    history: StageHistory,
    target: float | None = None,
) -> StageJob:
    kill_program_leftovers(env, name, history)
    fed, stopped = replay_rules(env.storage, env.sweep.id, history, rules, env.metric)
    close_replayed_stops(env.storage, history, stopped)
    for budget in budgets:  # interrupted trials first, under their old keys
        budget.queue.extend(requeue(history, stopped).get(budget.name, []))
    decisions: dict[str, StopDecision] = {}
    searcher = StageSearcher(
        budgets,
        metric=env.metric,
        mode=env.mode,
        fixed=env.spec.model.fixed,
        decisions=decisions,
        target=target,
        target_reached=any(reaches(t.best_value, target, env.mode) for t in history.all),
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
        should_stop=env.should_stop,
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
    budget = env.spec.budget_epochs(stage)
    rules = {v.name: make_stopping_rule(v.early_terminate, env.goal, budget) for v in variants}
    budgets = [
        _variant_budget(
            env, stage, position, index, space, history, warm if stage.warm_start else []
        )
        for index in range(len(variants))
    ]
    ctx = trial_context(env, stage.name, stage.subset, stage.epochs)
    target = env.spec.metric.target  # W&B's: a search stops starting trials once it is reached
    return _assemble(env, stage.name, stage_id, ctx, budgets, rules, history, target)


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
            {k: v for k, v in t.config.items() if k in space}, t.best_value, _told_outcome(t)
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
    kill_program_leftovers(env, name, history)
    history.unfinished = []  # the plan re-queues them (same keys); no double queue
    return _assemble(env, name, stage_id, ctx, [budget], {VALIDATION_VARIANT: None}, history)
