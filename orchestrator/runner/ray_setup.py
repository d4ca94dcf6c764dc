"""Ray configured for small machines: few CPUs, no dashboard, no default loggers.

Ray Tune's defaults cost seconds per trial on a 2-core machine (dashboard, per-trial JSON/CSV/
TensorBoard loggers, actor start-up per trial, driver log forwarding). Rungs records everything
in its database, so the default loggers are switched off and actors are reused; measured ~30x
cheaper (see benchmarks/results/RESULTS_orchestration_overhead.md).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
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


_shipped: dict[str, str | None] = {"working_dir": None}  # what this process's Ray job ships


def init_ray(
    address: str | None = None, num_cpus: int | None = None, working_dir: str | None = None
) -> Any:
    """Start an embedded Ray (``address=None``) or join a cluster; idempotent in one process.

    ``working_dir`` (a program's folder, on a cluster) is shipped to every node through Ray's
    runtime environment, not through a shared filesystem: Ray uploads it once and starts the
    workers in their node's copy. A driver that joined without it (or with another program's
    folder) joins again."""
    configure_env()
    import ray

    if ray.is_initialized():
        if working_dir is None or _shipped["working_dir"] == working_dir:
            return ray
        ray.shutdown()
    runtime_env: dict[str, Any] = dict(_worker_runtime_env() or {})
    if working_dir is not None:
        runtime_env["working_dir"] = working_dir
        # Tune would move each trial into its own folder; the program runs in the copy instead
        runtime_env["env_vars"] = {"RAY_CHDIR_TO_TRIAL_DIR": "0"}
    common: dict[str, Any] = dict(
        log_to_driver=False,
        configure_logging=False,
        ignore_reinit_error=True,
        runtime_env=runtime_env or None,
    )
    sigterm = signal.getsignal(signal.SIGTERM)
    if address:
        _join(ray, address, common, working_dir)
    else:
        cpus = num_cpus if num_cpus is not None else (os.cpu_count() or 1)
        ray.init(num_cpus=cpus, include_dashboard=False, **common)
    _keep_sigterm_handler(sigterm)
    return ray


def _keep_sigterm_handler(handler: Any) -> None:
    """``ray.init`` replaces SIGTERM's handler with one that exits at once. A process that set
    its own keeps it (``rungs worker``: SIGTERM ends the sweep ``interrupted``, as Ctrl-C does;
    Ray's own processes are shut down at exit all the same)."""
    if callable(handler) and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def _join(ray: Any, address: str, common: dict[str, Any], working_dir: str | None) -> None:
    try:
        ray.init(address=address, **common)
    except Exception as exc:
        if working_dir is None:
            raise
        raise RuntimeError(
            f"could not ship the program's folder {working_dir} to the Ray cluster at {address} "
            f"(Ray's runtime_env working_dir, size-limited: keep data sets and outputs outside "
            f"it): {exc}"
        ) from exc
    _shipped["working_dir"] = working_dir


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
