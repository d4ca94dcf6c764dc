"""Where to run: one stage job as one Ray Tune ``Tuner.fit()``.

All variants of a stage share this one fit (the searcher assigns variants, the scheduler
dispatches by variant), so stage 3's two early-termination strategies run side by side on the
same machine or cluster. Ray's own experiment folder (``<sweep>/ray/<stage>``, or under
``RUNGS_STORAGE`` on a cluster of several machines: :mod:`.trial_storage`) only holds
checkpoints; the database is the record.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray.tune import Stopper

from orchestrator.paths import safe_child
from orchestrator.runner import tags
from orchestrator.runner.jobs import StageJob
from orchestrator.runner.progress import ProgressCallback
from orchestrator.runner.ray_setup import cluster_cpus, configure_env, init_ray
from orchestrator.runner.trainable import shipped_program, train_fn
from orchestrator.runner.trial_storage import check_storage, configured_storage, ray_storage_path


class RayExecutor:
    """Runs stage jobs on an embedded Ray (default) or the cluster at ``address``."""

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
    ) -> None:
        self.address, self.num_cpus = address, num_cpus

    def execute(self, job: StageJob) -> None:
        if job.trials <= 0:
            return
        ctx = shipped_program(job.ctx) if self.address else job.ctx
        shipped = ctx.program.program.workdir if ctx.program and ctx.program.shipped else None
        ray = init_ray(self.address, self.num_cpus, working_dir=shipped)
        from ray import tune

        shared = configured_storage()
        check_storage(ray.nodes(), shared)  # before any trial: a worker node cannot see our disk

        concurrency = max_concurrent(job)
        job.progress.concurrency = concurrency  # the ETA divides the work left by it
        configure_env(max_pending=concurrency)
        clear_partial_run(job.sweep_dir, job.name)
        trainable = tune.with_resources(
            tune.with_parameters(train_fn, ctx=ctx),
            {"cpu": job.resources.cpus_per_trial, "gpu": job.resources.gpus_per_trial},
        )
        callbacks: list[Any] = [job.recorder]
        if job.show_progress:
            callbacks.append(ProgressCallback(job.progress, job.decisions))
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=job.searcher,
                scheduler=job.scheduler,
                num_samples=job.trials,
                max_concurrent_trials=concurrency,
                reuse_actors=True,
                trial_name_creator=trial_name,
                trial_dirname_creator=trial_name,
            ),
            run_config=tune.RunConfig(
                name=job.name,
                storage_path=ray_storage_path(shared, job.sweep_dir),
                verbose=0,
                callbacks=callbacks,
                stop=LeaseStopper(job.should_stop),
                failure_config=tune.FailureConfig(max_failures=job.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            ),
        )
        tuner.fit()


def clear_partial_run(sweep_dir: Path, stage: str) -> None:
    """Delete Ray's folder of an earlier, partial run of this stage (resume): only ever a folder
    inside the sweep's, whatever the stage's name (``UnsafePath`` otherwise)."""
    shutil.rmtree(safe_child(sweep_dir, Path("ray") / stage), ignore_errors=True)


def trial_name(trial: Any) -> str:
    """``<key>_<ray id>``: readable, unique, and short (Ray's default embeds the whole config)."""
    return f"{trial.config.get(tags.KEY, 'trial')}_{trial.trial_id}"


def max_concurrent(job: StageJob) -> int:
    """spec.resources.max_concurrent, else as many trials as the cluster's CPUs hold."""
    if job.resources.max_concurrent:
        return int(job.resources.max_concurrent)
    per_trial = max(job.resources.cpus_per_trial, 1e-3)
    return max(1, min(job.trials, math.floor(cluster_cpus() / per_trial)))


class LeaseStopper(Stopper):
    """Stops the whole stage once the run lost the sweep's lease: a user cancelled or re-queued
    the sweep, or another worker took it over (:mod:`orchestrator.runner.heartbeat`). It reads
    the heartbeat's flag, so Tune's loop makes no database call for it."""

    def __init__(self, should_stop: Callable[[], bool]) -> None:
        self.should_stop: Callable[[], bool] | None = should_stop

    def __getstate__(self) -> dict[str, Any]:
        # Ray pickles the Tuner into its experiment folder; the flag belongs to this process.
        return {"should_stop": None}

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return self.stop_all()

    def stop_all(self) -> bool:
        return self.should_stop is not None and self.should_stop()
