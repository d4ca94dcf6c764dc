"""Ray configured for small machines: few CPUs, no dashboard, no default loggers.

Ray Tune's defaults cost seconds per trial on a 2-core machine (dashboard, per-trial JSON/CSV/
TensorBoard loggers, actor start-up per trial, driver log forwarding). Rungs records everything
in its database, so the default loggers are switched off and actors are reused; measured ~30x
cheaper (see benchmarks/RESULTS_orchestration_overhead.md).
"""

from __future__ import annotations

import logging
import os
from typing import Any

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
        log_to_driver=False, configure_logging=False, ignore_reinit_error=True
    )
    if address:
        ray.init(address=address, **common)
    else:
        cpus = num_cpus if num_cpus is not None else (os.cpu_count() or 1)
        ray.init(num_cpus=cpus, include_dashboard=False, **common)
    return ray


def cluster_cpus() -> float:
    import ray

    return float(ray.cluster_resources().get("CPU", 1.0))
