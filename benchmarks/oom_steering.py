"""Out-of-memory steering: how often TPE proposes configs that run out of memory, by how the
out-of-memory trials are told to it.

A synthetic "model" runs out of memory when ``batch_size x hidden > LIMIT`` and otherwise scores
better the bigger it is (as real models do), so the best configs sit next to the out-of-memory
region and an unsteered search keeps walking into it. Rungs' TPE proposer
(:class:`orchestrator.runner.proposers.TPEProposer`, the one the runner uses) proposes
``--trials`` configs per seed; every proposal is told back, out-of-memory ones in one of these
ways, side by side on the same seeds:

* ``failed``: Optuna FAIL (what Rungs did before: TPE ignores FAIL trials);
* ``pruned``: Optuna PRUNED with no value;
* ``penalty``: COMPLETE with the worst value seen so far;
* ``constraint``: what Rungs does now (outcome ``out_of_memory``): PRUNED and infeasible
  (constraint ``out_of_memory = 1``);

and, for scale, Rungs' random search (``method: random``), which learns nothing.

It prints, per telling, the fraction of proposals in the out-of-memory region (after the
random start-up trials, and over all trials) and the best feasible score, and the ratio of each
fraction to ``failed``'s.

    .venv/bin/python benchmarks/oom_steering.py --seeds 20 --trials 60
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.runner.proposers import Proposer, RandomProposer, TPEProposer  # noqa: E402
from stages.space import Numeric  # noqa: E402

LIMIT = 8192  # batch_size x hidden above this runs out of memory
STARTUP = 10  # Optuna TPE's default n_startup_trials: random proposals, nothing to steer
SPACE = {
    "batch_size": Numeric(4, 128, log=True, integer=True),
    "hidden": Numeric(32, 1024, log=True, integer=True),
    "lr": Numeric(1e-4, 1e-1, log=True),
}
TELLINGS = ("failed", "pruned", "penalty", "constraint", "random search")


def out_of_memory(config: dict[str, Any]) -> bool:
    return int(config["batch_size"]) * int(config["hidden"]) > LIMIT


def score(config: dict[str, Any]) -> float:
    """Bigger fits better; the learning rate peaks at 3e-3."""
    size = math.log2(int(config["batch_size"]) * int(config["hidden"]))
    lr_gap = math.log10(float(config["lr"])) - math.log10(3e-3)
    return size - 2.0 * lr_gap**2


def run(telling: str, seed: int, trials: int) -> tuple[list[bool], float]:
    """Proposals' out-of-memory flags and the best feasible score of one search."""
    proposer: Proposer = (
        RandomProposer(SPACE, seed)
        if telling == "random search"
        else TPEProposer(SPACE, "maximize", seed)
    )
    flags: list[bool] = []
    best, worst = -math.inf, math.inf
    for _ in range(trials):
        config = proposer.ask()
        assert config is not None
        oom = out_of_memory(config)
        flags.append(oom)
        if not oom:
            value = score(config)
            best, worst = max(best, value), min(worst, value)
            proposer.tell(config, value, "complete")
        elif telling == "penalty":
            proposer.tell(config, worst if math.isfinite(worst) else 0.0, "complete")
        else:
            outcome = {"failed": "failed", "pruned": "pruned"}.get(telling, "out_of_memory")
            proposer.tell(config, None, outcome)  # type: ignore[arg-type]
    return flags, best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", type=int, default=60)
    args = parser.parse_args(argv)
    rows = {}
    for telling in TELLINGS:
        after, overall, bests = [], [], []
        for seed in range(args.seeds):
            flags, best = run(telling, seed, args.trials)
            after.append(sum(flags[STARTUP:]) / max(1, len(flags) - STARTUP))
            overall.append(sum(flags) / len(flags))
            bests.append(best)
        rows[telling] = (statistics.mean(after), statistics.mean(overall), statistics.mean(bests))
    base = rows["failed"][0]
    print(
        f"{args.seeds} seeds x {args.trials} trials; out of memory when batch_size x hidden > {LIMIT}"
    )
    print(
        "| telling | OOM proposals after start-up | OOM proposals, all | ratio to failed | best score |"
    )
    print("|---|---:|---:|---:|---:|")
    for telling, (after_mean, overall_mean, best_mean) in rows.items():
        ratio = after_mean / base if base else float("nan")
        print(
            f"| {telling} | {after_mean:.1%} | {overall_mean:.1%} | {ratio:.2f} | {best_mean:.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
