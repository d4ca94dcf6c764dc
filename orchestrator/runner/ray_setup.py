"""Ray configured for small machines: few CPUs, no dashboard, no default loggers.

Ray Tune's defaults cost seconds per trial on a 2-core machine (dashboard, per-trial JSON/CSV/
TensorBoard loggers, actor start-up per trial, driver log forwarding). Rungs records everything
in its database, so the default loggers are switched off and actors are reused; measured ~30x
cheaper (see benchmarks/results/RESULTS_orchestration_overhead.md).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from orchestrator.packages import shadowing_dirs

# Read by Ray at import or Tuner construction time, so they are set before any Ray import.
TUNE_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "TUNE_MAX_PENDING_TRIALS_PG": "4",
    "TUNE_WARN_THRESHOLD_S": "5",
    "RAY_AIR_NEW_OUTPUT": "0",
    "RAY_DEDUP_LOGS": "0",
    "TUNE_DISABLE_SIGINT_HANDLER": "1",
    # Ray warns on the terminal whenever checkpoints are frequent (every epoch of short trials
    # here); the warning says nothing a Rungs user can act on.
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
}


# Run by Ray in each worker before any task; see orchestrator/packages.py.
WORKER_SETUP_HOOK = "orchestrator.packages.pin_rungs_packages"


def configure_env(max_pending: int | None = None) -> None:
    """Set Ray's environment knobs unless the user set them already."""
    for name, value in TUNE_ENV.items():
        os.environ.setdefault(name, value)
    # With the file loggers off, Ray's ResultGrid warns at the end of every fit that it found no
    # result.json; the results are in the database, so that warning is noise.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    logging.getLogger("ray.tune.result_grid").setLevel(logging.ERROR)
    if max_pending is not None:
        os.environ["TUNE_MAX_PENDING_TRIALS_PG"] = str(max(1, max_pending))


def init_ray(address: str | None = None, num_cpus: int | None = None) -> Any:
    """Start an embedded Ray (``address=None``) or join a cluster; idempotent in one process."""
    configure_env()
    import ray

    if ray.is_initialized():
        return ray
    common: dict[str, Any] = dict(
        log_to_driver=False,
        configure_logging=False,
        ignore_reinit_error=True,
        runtime_env=_worker_runtime_env(),
    )
    if address:
        ray.init(address=address, **common)
    else:
        cpus = num_cpus if num_cpus is not None else (os.cpu_count() or 1)
        ray.init(num_cpus=cpus, include_dashboard=False, **common)
    return ray


def _worker_runtime_env() -> dict[str, str] | None:
    """Ray puts the driver's directory (and its script's) first on every worker's sys.path: a
    user's own `trainers/` or `stages/` folder there would replace Rungs' packages in the trials,
    so then every worker pins Rungs' own before running anything."""
    driver_dirs = [Path.cwd(), Path(sys.argv[0]).resolve().parent]
    if shadowing_dirs(driver_dirs):
        return {"worker_process_setup_hook": WORKER_SETUP_HOOK}
    return None


def cluster_cpus() -> float:
    import ray

    return float(ray.cluster_resources().get("CPU", 1.0))
