"""The Ray Tune function trainable: turns a trial's config into a TrialRequest and trains it.

The trainable is model-agnostic: it strips the runner's tags (:mod:`orchestrator.runner.tags`)
from the config, builds a :class:`~trainers.api.TrialRequest` from the stage's
:class:`TrialContext` and calls :func:`trainers.run_trial` with a reporter that forwards every
epoch to ``ray.tune.report``. When the trainer returns, one last report carries the
:class:`~trainers.api.TrialOutcome` (status and reason) so that the recorder can store
``diverged`` with its cause; that report repeats the last epoch and is never stored as a result.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.runner import tags
from orchestrator.runner.programs import MetricReports, ProgramTrials
from orchestrator.runner.wandb_logging import WandbSettings, wandb_reporter
from stages.states import TrialState
from trainers.api import DataRequest, TrialOutcome, TrialRequest

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


class RayReporter:
    """Forwards each epoch to ``ray.tune.report``; Ray may end the trial inside that call."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def report(self, metrics: Mapping[str, float], checkpoint_dir: Path | None = None) -> None:
        from ray import tune

        self.last = dict(metrics)
        checkpoint = tune.Checkpoint.from_directory(str(checkpoint_dir)) if checkpoint_dir else None
        tune.report(dict(metrics), checkpoint=checkpoint)


def build_request(
    ctx: TrialContext, config: Mapping[str, Any], trial_dir: str | None
) -> TrialRequest:
    """The TrialRequest for one trial; ``checkpoint_dir`` lives inside Ray's trial folder."""
    seed = int(config.get(tags.SEED, ctx.default_seed))
    return TrialRequest(
        model=ctx.model,
        preset=ctx.preset,
        hparams=tags.strip(config),
        data=ctx.data,
        subset_size=ctx.subset,
        epochs=ctx.epochs,
        seed=seed,
        checkpoint_dir=os.path.join(trial_dir, "checkpoint") if trial_dir else None,
    )


def final_report(outcome: TrialOutcome, last: Mapping[str, float], metric: str) -> dict[str, Any]:
    """The outcome report: the last epoch's metric (Ray insists on it) plus status and reason."""
    report: dict[str, Any] = {tags.FINAL: 1, tags.STATUS: outcome.status}
    report[tags.REASON] = outcome.reason or ""
    value = last.get(metric, outcome.best_metric)
    report[metric] = float("nan") if value is None else value
    report["epoch"] = outcome.epochs_run
    return report


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

    from trainers import run_trial

    trial_dir = tune.get_context().get_trial_dir()
    request = build_request(ctx, config, trial_dir)
    ray_reporter = RayReporter()
    run_name = str(config.get(tags.KEY, tune.get_context().get_trial_name()))
    if ctx.program is not None:
        train_program(ctx.program, request, run_name, ray_reporter)
        return
    with wandb_reporter(ctx.wandb, ray_reporter, name=run_name, config=request.hparams) as reporter:
        outcome = run_trial(request, reporter)
    tune.report(final_report(outcome, ray_reporter.last, ctx.metric))


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
