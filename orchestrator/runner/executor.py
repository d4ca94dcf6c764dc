"""Where to run: one stage job as one Ray Tune ``Tuner.fit()``.

All variants of a stage share this one fit (the searcher assigns variants, the scheduler
dispatches by variant), so stage 3's two early-termination strategies run side by side on the
same machine or cluster. Ray's own experiment folder (``<sweep>/ray/<stage>``) only holds
checkpoints; the database is the record.
"""

from __future__ import annotations

import math
import shutil
import time
from typing import Any

from ray.tune import Stopper

from orchestrator.runner import tags
from orchestrator.runner.jobs import StageJob
from orchestrator.runner.progress import ProgressCallback
from orchestrator.runner.ray_setup import cluster_cpus, configure_env, init_ray
from orchestrator.runner.trainable import train_fn
from orchestrator.storage.base import BaseStorage


class RayExecutor:
    """Runs stage jobs on an embedded Ray (default) or the cluster at ``address``."""

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        storage: BaseStorage | None = None,
        sweep_id: int | None = None,
    ) -> None:
        self.address, self.num_cpus = address, num_cpus
        self.storage, self.sweep_id = storage, sweep_id

    def execute(self, job: StageJob) -> None:
        if job.trials <= 0:
            return
        init_ray(self.address, self.num_cpus)
        from ray import tune

        concurrency = max_concurrent(job)
        configure_env(max_pending=concurrency)
        experiment = job.sweep_dir / "ray" / job.name
        shutil.rmtree(experiment, ignore_errors=True)  # a partial run of this stage (resume)
        trainable = tune.with_resources(
            tune.with_parameters(train_fn, ctx=job.ctx),
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
                storage_path=str(job.sweep_dir / "ray"),
                verbose=0,
                callbacks=callbacks,
                stop=CancelStopper(self.storage, self.sweep_id) if self.storage else None,
                failure_config=tune.FailureConfig(max_failures=job.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            ),
        )
        tuner.fit()


def trial_name(trial: Any) -> str:
    """``<key>_<ray id>``: readable, unique, and short (Ray's default embeds the whole config)."""
    return f"{trial.config.get(tags.KEY, 'trial')}_{trial.trial_id}"


def max_concurrent(job: StageJob) -> int:
    """spec.resources.max_concurrent, else as many trials as the cluster's CPUs hold."""
    if job.resources.max_concurrent:
        return int(job.resources.max_concurrent)
    per_trial = max(job.resources.cpus_per_trial, 1e-3)
    return max(1, min(job.trials, math.floor(cluster_cpus() / per_trial)))


class CancelStopper(Stopper):
    """Stops the whole stage when the sweep is cancelled in the database (API/CLI)."""

    def __init__(
        self, storage: BaseStorage, sweep_id: int | None, every_seconds: float = 3.0
    ) -> None:
        self.storage, self.sweep_id, self.every = storage, sweep_id, every_seconds
        self._checked, self._cancelled = 0.0, False

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "storage": None}  # Ray pickles the Tuner; see Recorder

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return self._cancelled

    def stop_all(self) -> bool:
        now = time.monotonic()
        if (
            self.storage is not None
            and self.sweep_id is not None
            and now - self._checked >= self.every
        ):
            self._checked = now
            self._cancelled = self.storage.get_sweep(self.sweep_id).state == "cancelled"
        return self._cancelled
