"""DEHB (dehb 0.1.2: differential evolution + Hyperband), as shipped, through its ask/tell
interface with the data-subset size as the fidelity (eta = 2 over the 2K..16K subsets). The
recommendation is DEHB's incumbent."""

from __future__ import annotations

import tempfile
from typing import Any

from benchmarks.sample_efficiency.peer_runs import levels, run_peer, signed_cost, to_configspace
from benchmarks.sample_efficiency.pipeline_runs import Outcome
from benchmarks.sample_efficiency.strategies import SEED_STRIDE, Run

ETA = 2


def dehb(run: Run) -> Outcome:
    from dehb import DEHB

    budgets, seed = levels(run), SEED_STRIDE * run.rep % 2**31
    cs = to_configspace(run.bench.space, seed)
    with tempfile.TemporaryDirectory(prefix="dehb-") as out:
        optimizer = DEHB(
            cs=cs,
            dimensions=len(list(cs.values())),
            min_fidelity=budgets[0],
            max_fidelity=budgets[-1],
            eta=ETA,
            n_workers=1,  # ask/tell: the clock runs the 4 workers
            seed=seed,
            output_path=out,
            save_freq="end",
            log_level="ERROR",
        )

        def ask() -> tuple[Any, dict[str, Any], int]:
            job = optimizer.ask()
            config = dict(job["config"])  # a ConfigSpace Configuration
            return job, config, round(job["fidelity"])

        def tell(job: Any, value: float) -> None:
            cost = float(job["fidelity"])
            optimizer.tell(job, {"fitness": signed_cost(value, run.bench.goal), "cost": cost})

        def incumbent() -> dict[str, Any]:
            config, _ = optimizer.get_incumbents()
            return dict(config)

        return run_peer(run, ask, tell, incumbent)
