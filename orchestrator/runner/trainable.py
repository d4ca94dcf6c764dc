"""The Ray Tune function trainable: turns a trial's config into a TrialRequest and trains it.

The trainable is model-agnostic: it strips the runner's tags (:mod:`orchestrator.runner.tags`)
from the config, builds a :class:`~trainers.api.TrialRequest` from the stage's
:class:`TrialContext` and calls :func:`trainers.run_trial` with a reporter that forwards every
epoch to ``ray.tune.report``. When the trainer returns, one last report carries the
:class:`~trainers.api.TrialOutcome` (status and reason) so that the recorder can store
``diverged`` with its cause; that report repeats the last epoch and is never stored as a result.

A user's program (``ctx.program``, :func:`train_program`) is the same path with its
:class:`~trainers.api.ProgramRequest` added (:mod:`orchestrator.runner.programs`): only reports
holding the metric reach Ray, and a program that fails is reported ``failed`` with its reason
(a crash, out of memory, no metric) instead of raising, so Ray never retries it blindly.

Each trial checkpoints into its own folder, keyed by stage and trial key
(:func:`trial_checkpoint_dir`): a trial that ``rungs resume`` re-runs after a kill, or that Ray
retries within a run, continues from that folder. With URI storage (``RUNGS_STORAGE=s3://...``)
the folder is on the trial's node and each checkpoint goes to Ray too, so that a retry on
another node continues from Ray's copy (:func:`request_for`). An out-of-memory error is an outcome, not an error
(:func:`train_or_oom`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from orchestrator.paths import safe_child, slug
from orchestrator.runner import tags
from orchestrator.runner.out_of_memory import oom_reason, release_cached_memory
from orchestrator.runner.programs import MetricReports, ProgramTrials
from orchestrator.runner.wandb_logging import WandbSettings, wandb_reporter
from stages.states import TrialState
from trainers.api import DataRequest, Reporter, TrialOutcome, TrialRequest, has_checkpoint

# How long Ray waits for a stopped trial's thread before it gives up reusing the actor (its
# default is 2 s): a program's stop may take its SIGTERM grace period, then a SIGKILL.
_THREAD_TIMEOUT_ENV = "TUNE_FUNCTION_THREAD_TIMEOUT_S"
_KILL_MARGIN_S = 5


@dataclass(frozen=True)
class TrialContext:
    """What every trial of one stage shares (shipped to the workers once, by Ray)."""

    sweep_name: str
    stage: str
    model: str
    preset: str
    data: DataRequest
    subset: int
    epochs: int
    metric: str
    default_seed: int = 0
    wandb: WandbSettings | None = None
    program: ProgramTrials | None = None  # set when the sweep runs a user's own script
    checkpoint_root: str | None = None  # trials' checkpoint folders (None: no checkpoints)
    # Ray keeps a copy of each checkpoint only where checkpoint_root is not shared (URI storage):
    # elsewhere the folder is the copy, and Ray's would cost a copy per epoch (2.4x the
    # orchestration overhead of 0-second epochs, measured)
    ray_checkpoints: bool = False


# Stored with every epoch's metrics: the id of the Ray node that trained that epoch. A trial that
# Ray retries or that ``rungs resume`` re-runs may move to another node, and on a cluster a crash
# or a slow epoch is then traced to its machine (Ray's ``node_ip`` and ``hostname`` cannot tell
# two nodes of one machine apart).
NODE_ID = "node_id"


class RayReporter:
    """Forwards each epoch to ``ray.tune.report`` with the :data:`NODE_ID` of the node it ran on;
    Ray may end the trial inside that call."""

    def __init__(self, ray_checkpoints: bool = True) -> None:
        import ray

        self.last: dict[str, float] = {}
        self.node_id = ray.get_runtime_context().get_node_id()
        self.ray_checkpoints = ray_checkpoints  # hand each checkpoint to Ray (TrialContext)

    def report(self, metrics: Mapping[str, float], checkpoint_dir: Path | None = None) -> None:
        from ray import tune

        self.last = dict(metrics)
        send = checkpoint_dir is not None and self.ray_checkpoints
        checkpoint = tune.Checkpoint.from_directory(str(checkpoint_dir)) if send else None
        tune.report({**metrics, NODE_ID: self.node_id}, checkpoint=checkpoint)


def trial_checkpoint_dir(ctx: TrialContext, config: Mapping[str, Any]) -> str | None:
    """``<checkpoint root>/<stage>/<key>``: the trial's own folder, the same path in every run
    of the sweep, so a re-run trial finds what the interrupted one saved."""
    if ctx.checkpoint_root is None:
        return None
    key = slug(str(config.get(tags.KEY, "trial")), fallback="trial")
    return str(safe_child(ctx.checkpoint_root, Path(slug(ctx.stage, fallback="stage")) / key))


def request_for(
    ctx: TrialContext, config: Mapping[str, Any], restored: str | None = None
) -> TrialRequest:
    """The request of one trial, continuing from ``restored`` (Ray's copy of the trial's last
    checkpoint, when Ray retries it within a run) or else from the trial's folder when it holds
    a checkpoint (a trial interrupted by a kill, re-run by ``rungs resume``)."""
    checkpoint_dir = trial_checkpoint_dir(ctx, config)
    resume_from = restored or (checkpoint_dir if has_checkpoint(checkpoint_dir) else None)
    return build_request(ctx, config, checkpoint_dir, resume_from)


def restored_checkpoint() -> str | None:
    """The local copy of the checkpoint Ray restored this trial with (a retry), else None."""
    from ray import tune

    checkpoint = tune.get_checkpoint()
    return checkpoint.to_directory() if checkpoint is not None else None


def build_request(
    ctx: TrialContext,
    config: Mapping[str, Any],
    checkpoint_dir: str | None,
    resume_from: str | None = None,
) -> TrialRequest:
    """The TrialRequest for one trial (no checkpoints when ``checkpoint_dir`` is None)."""
    seed = int(config.get(tags.SEED, ctx.default_seed))
    return TrialRequest(
        model=ctx.model,
        preset=ctx.preset,
        hparams=tags.strip(config),
        data=ctx.data,
        subset_size=ctx.subset,
        epochs=ctx.epochs,
        seed=seed,
        checkpoint_dir=checkpoint_dir,
        resume_from=resume_from,
    )


def final_report(outcome: TrialOutcome, last: Mapping[str, float], metric: str) -> dict[str, Any]:
    """The outcome report: the last epoch's metric (Ray insists on it) plus status and reason."""
    report: dict[str, Any] = {tags.FINAL: 1, tags.STATUS: outcome.status}
    report[tags.REASON] = outcome.reason or ""
    value = last.get(metric, outcome.best_metric)
    report[metric] = float("nan") if value is None else value
    report["epoch"] = outcome.epochs_run
    return report


def shipped_program(ctx: TrialContext) -> TrialContext:
    """``ctx`` for a cluster: a program's folder reaches the nodes as Ray's working_dir
    (:func:`orchestrator.runner.ray_setup.init_ray`), so the program runs in the worker's copy."""
    if ctx.program is None:
        return ctx
    return replace(ctx, program=replace(ctx.program, shipped=True))


def failed_report(reason: str, last: Mapping[str, float], metric: str) -> dict[str, Any]:
    """The outcome report of a program that failed (a crash, out of memory, no metric): the
    trial is recorded ``failed`` with ``reason`` and told to the proposer as failed."""
    report: dict[str, Any] = {tags.FINAL: 1, tags.STATUS: TrialState.FAILED, tags.REASON: reason}
    report[metric] = last.get(metric, float("nan"))
    report["epoch"] = int(last.get("epoch", 0))
    return report


def train_fn(config: dict[str, Any], ctx: TrialContext) -> None:
    """Ray Tune entry point (use with ``tune.with_parameters(train_fn, ctx=...)``)."""
    from ray import tune

    request = request_for(ctx, config, restored_checkpoint())
    ray_reporter = RayReporter(ctx.ray_checkpoints)
    run_name = str(config.get(tags.KEY, tune.get_context().get_trial_name()))
    if ctx.program is not None:
        train_program(ctx.program, request, run_name, ray_reporter)
        return
    with wandb_reporter(ctx.wandb, ray_reporter, name=run_name, config=request.hparams) as reporter:
        outcome = train_or_oom(request, reporter)
    tune.report(outcome_report(outcome, ray_reporter.last, ctx.metric))


def outcome_report(
    outcome: TrialOutcome | str, last: Mapping[str, float], metric: str
) -> dict[str, Any]:
    """The last report of :func:`train_or_oom`'s result: out of memory is a ``failed`` outcome
    (never an error, which Ray would retry from scratch), else :func:`final_report`."""
    if isinstance(outcome, str):
        return failed_report(outcome, last, metric)
    return final_report(outcome, last, metric)


def train_or_oom(request: TrialRequest, reporter: Reporter) -> TrialOutcome | str:
    """The trainer's outcome, or the ``out of memory: ...`` reason when it ran out of memory
    (after freeing the cached memory, so the worker's next trial starts clean); any other error
    propagates (:mod:`orchestrator.runner.out_of_memory`)."""
    from trainers import run_trial

    try:
        return run_trial(request, reporter)
    except Exception as exc:
        reason = oom_reason(exc)
        if reason is None:
            raise
    # out of the except block: the traceback, and the trial's tensors its frames hold, are gone
    release_cached_memory()
    return reason


def train_program(
    trials: ProgramTrials, request: TrialRequest, key: str, ray_reporter: RayReporter
) -> None:
    """One trial of a user's program. When the stage's rule stops it, Ray's ``tune.report``
    raises SystemExit in this thread (the trainer kills the program's process group on the way
    out), so the actor waits long enough for that kill before reusing itself."""
    import ray
    from ray import tune

    from trainers import run_trial
    from trainers.program.failures import ProgramFailed

    os.environ[_THREAD_TIMEOUT_ENV] = str(int(trials.program.grace_seconds) + _KILL_MARGIN_S)
    request = trials.request(request, key, ray.get_gpu_ids())
    try:
        outcome = run_trial(request, MetricReports(ray_reporter, trials.metric))
    except ProgramFailed as failure:
        tune.report(failed_report(str(failure), ray_reporter.last, trials.metric))
        return
    tune.report(final_report(outcome, ray_reporter.last, trials.metric))
