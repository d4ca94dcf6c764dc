"""Orchestration overhead: Rungs vs raw Ray Tune, side by side in one process tree.

Runs N no-op trials x R reports three ways on one embedded Ray:

(a) raw Ray Tune with its defaults (actor per trial, JSON/CSV/TensorBoard loggers, basic variant),
(b) raw Ray Tune tuned (reuse_actors, default loggers off, OptunaSearch TPE, verbose 0),
(c) Rungs: ``run_sweep`` on a one-stage synthetic sweep (TPE, database recording on, SQLite),

and prints ms per trial and the ratios (targets on 2 cores: (c)/(b) <= 1.2, (a)/(c) >= 20).

    .venv/bin/python benchmarks/orchestration_overhead.py --trials 100 --reports 10
    .venv/bin/python benchmarks/orchestration_overhead.py --setups c   # (c) alone, to profile
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("WANDB_MODE", "disabled")

SWEEP = """
name: overhead
metric: {{name: score, goal: maximize}}
model: {{name: synthetic, fixed: {{noise: 0.0}}}}
parameters:
  lr: {{distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}}
epochs: {reports}
resources: {{cpus_per_trial: 1}}
stages:
  - {{name: only, subset: 2000, trials: {trials}, early_terminate: null}}
validation: {{enabled: false}}
selection: {{k: 1}}
wandb: false
"""


def noop(config: dict[str, Any]) -> None:
    from ray import tune

    for i in range(config["reports"]):
        tune.report({"score": config["lr"] * (i + 1), "epoch": i + 1})


def raw_ray(trials: int, reports: int, tuned: bool, root: Path) -> float:
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    # Read when the Tuner builds its default callbacks: on for (a), off for (b).
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1" if tuned else "0"
    space = {"lr": tune.loguniform(1e-4, 1e-2), "reports": reports}
    tune_config = tune.TuneConfig(num_samples=trials, metric="score", mode="max")
    run_config = tune.RunConfig(storage_path=str(root), name="tuned" if tuned else "defaults")
    if tuned:
        tune_config = tune.TuneConfig(
            num_samples=trials,
            metric="score",
            mode="max",
            reuse_actors=True,
            search_alg=OptunaSearch(seed=0),
            max_concurrent_trials=2,
        )
        run_config = tune.RunConfig(storage_path=str(root), name="tuned", verbose=0)
    start = time.perf_counter()
    tune.Tuner(
        tune.with_resources(noop, {"cpu": 1}),
        param_space=space,
        tune_config=tune_config,
        run_config=run_config,
    ).fit()
    return time.perf_counter() - start


def rungs(trials: int, reports: int, root: Path) -> float:
    from orchestrator.runner.pipeline import run_sweep
    from orchestrator.storage import open_storage
    from orchestrator.sweepfile import parse_spec, spec_to_dict

    parsed = parse_spec(SWEEP.format(trials=trials, reports=reports), "overhead.yaml")
    storage = open_storage(f"sqlite:///{root / 'rungs.db'}")
    sweep_id = storage.create_sweep("overhead", spec_to_dict(parsed.spec), parsed.yaml_text)
    start = time.perf_counter()
    run_sweep(storage, sweep_id, workdir=root / "work", progress=False)
    elapsed = time.perf_counter() - start
    rows = sum(len(storage.get_results(t.id)) for t in storage.get_trials(sweep_id))
    assert rows == trials * reports, (
        f"Rungs recorded {rows} result rows, expected {trials * reports}"
    )
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--reports", type=int, default=10)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument(
        "--setups",
        default="a,b,c",
        help="comma-separated subset of a,b,c to run (e.g. 'c' to profile Rungs alone)",
    )
    args = parser.parse_args(argv)
    chosen = set(args.setups.split(","))

    from orchestrator.runner.ray_setup import init_ray

    init_ray(num_cpus=args.cpus)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runs = {
            "a": (
                "(a) raw Ray Tune, defaults",
                lambda: raw_ray(args.trials, args.reports, False, root / "a"),
            ),
            "b": (
                "(b) raw Ray Tune, tuned",
                lambda: raw_ray(args.trials, args.reports, True, root / "b"),
            ),
            "c": (
                "(c) Rungs (pipeline + database)",
                lambda: rungs(args.trials, args.reports, root / "c"),
            ),
        }
        seconds = {name: run() for key, (name, run) in runs.items() if key in chosen}
    print(f"{args.trials} trials x {args.reports} reports, {args.cpus} CPUs\n")
    print("| setup | wall s | ms per trial |\n|---|---|---|")
    for name, s in seconds.items():
        print(f"| {name} | {s:.2f} | {1000 * s / args.trials:.1f} |")
    by_key = {key: seconds[name] for key, (name, _) in runs.items() if name in seconds}
    if "b" in by_key and "c" in by_key:
        print(f"\n(c)/(b) = {by_key['c'] / by_key['b']:.2f}  (target <= 1.2)")
    if "a" in by_key and "c" in by_key:
        print(f"(a)/(c) = {by_key['a'] / by_key['c']:.1f}  (target >= 20)")


if __name__ == "__main__":
    main()
