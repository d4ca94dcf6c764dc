"""A user's program under Rungs: overhead per trial, and how fast a stopped trial's process dies.

Side by side in one run, on one embedded Ray, with a stdout-JSON program that sleeps a fixed
time per epoch (``--wandb`` uses a W&B-style program with the real ``wandb`` package instead):

1. **Overhead per trial.** The same configs run twice: bare, as ``python train.py --lr=...``
   from a subprocess, and as a one-stage Rungs sweep (grid over those configs, one trial at a
   time, no early stopping). A trial's Rungs time is from the recorder's start to its end
   (stored in the database); the overhead is that minus the bare time of the same config
   (median over configs; target <= 0.5 s). A second figure counts the gaps between trials too:
   the stage's span from the first start to the last end, per trial, minus the bare mean.
2. **Stop latency.** A second sweep whose configs get worse one after the other, under W&B
   hyperband (``min_iter 1, eta 2``): every trial from the third on is stopped at its first
   rung. The latency runs from the scheduler's decision (timestamped in the driver) to the
   moment the program's process is gone (a watcher polls ``/proc`` every 2 ms for the pid the
   program wrote); target p95 <= 1 s plus the grace period (the program dies on SIGTERM, so the
   grace is not used).

    .venv/bin/python benchmarks/program_overhead.py --trials 8 --epochs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

PROGRAM = """\
import argparse, json, os, time
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float)
parser.add_argument("--epochs", type=int)
args = parser.parse_args()
if os.environ.get("WANDB_DIR"):  # under Rungs: tell the benchmark's watcher who we are
    with open(os.path.join(os.environ["WANDB_DIR"], "bench.pid"), "w") as f:
        f.write(str(os.getpid()))
{setup}
for epoch in range(1, args.epochs + 1):
    time.sleep({seconds})
    {report}
{teardown}
"""
JSON = dict(setup="", report='print("[rungs]", json.dumps({"score": args.lr * epoch}), flush=True)')
WANDB = dict(
    setup="import wandb\nrun = wandb.init()",
    report='wandb.log({"score": args.lr * epoch})',
    teardown="run.finish()",
)
SWEEP = """\
name: {name}
program: train.py
metric: {{name: score, goal: maximize}}
method: grid
parameters:
  lr: {{values: {values}}}
program_parameters: {{epochs: epochs}}
epochs: {epochs}
resources: {{cpus_per_trial: 1, max_concurrent: 1}}
early_terminate: {early_terminate}
stages:
  - {{name: only, subset: 2000, trials: {trials}}}
selection: {{k: 1, require_full_budget: false}}
validation: {{enabled: false}}
wandb: {wandb}
"""


def write_program(folder: Path, use_wandb: bool, seconds: float) -> None:
    parts = {"setup": "", "teardown": "", **(WANDB if use_wandb else JSON)}
    (folder / "train.py").write_text(PROGRAM.format(seconds=seconds, **parts))


def bare_seconds(folder: Path, values: list[float], epochs: int, use_wandb: bool) -> list[float]:
    """Wall time of ``python train.py`` per config, as a user runs it by hand."""
    env = {**os.environ, "WANDB_MODE": "offline" if use_wandb else "disabled"}
    env["WANDB_DIR"] = ""  # no pid file
    times = []
    for lr in values:
        started = time.perf_counter()
        argv = [sys.executable, "train.py", f"--epochs={epochs}", f"--lr={lr}"]
        subprocess.run(argv, cwd=folder, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def run_rungs(folder: Path, name: str, sweep_text: str) -> tuple[object, int]:
    from orchestrator.runner.pipeline import run_sweep
    from orchestrator.storage import open_storage
    from orchestrator.sweepfile import load_spec, spec_to_dict

    (folder / f"{name}.yaml").write_text(sweep_text)
    spec = load_spec(folder / f"{name}.yaml").spec
    storage = open_storage(f"sqlite:///{folder / (name + '.db')}")
    sweep_id = storage.create_sweep(spec.name, spec_to_dict(spec), sweep_text, state="running")
    run_sweep(storage, sweep_id, workdir=folder / "w", progress=False, num_cpus=2)
    return storage, sweep_id


def overhead(folder: Path, args: argparse.Namespace, values: list[float]) -> dict[str, float]:
    bare = dict(zip(values, bare_seconds(folder, values, args.epochs, args.wandb), strict=True))
    text = SWEEP.format(
        name="overhead",
        values=values,
        epochs=args.epochs,
        early_terminate="null",
        trials=len(values),
        wandb="{mode: offline}" if args.wandb else "false",
    )
    storage, sweep_id = run_rungs(folder, "overhead", text)
    trials = storage.get_trials(sweep_id)  # type: ignore[attr-defined]
    extra = [(t.finished_at - t.started_at).total_seconds() - bare[t.config["lr"]] for t in trials]
    # the whole stage, one trial after the other: the gaps between trials count too
    span = (max(t.finished_at for t in trials) - min(t.started_at for t in trials)).total_seconds()
    return {
        "bare_s": statistics.median(bare.values()),
        "overhead_s": statistics.median(extra),
        "overhead_max_s": max(extra),
        "span_overhead_s": span / len(trials) - statistics.mean(bare.values()),
    }


class Watcher:
    """Polls the trials' pid files and ``/proc``: when each program's process disappeared."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.gone: dict[str, float] = {}
        self.pids: dict[str, int] = {}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid_file in self.logs.glob("sweep-*-stops/logs/*/*/bench.pid"):
                key = pid_file.parent.name
                if key not in self.pids and pid_file.read_text():
                    self.pids[key] = int(pid_file.read_text())
            for key, pid in self.pids.items():
                if key not in self.gone and not _running(pid):
                    self.gone[key] = time.time()
            time.sleep(0.002)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join()


def _running(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2] not in "ZX"


def stop_latency(folder: Path, args: argparse.Namespace, trials: int) -> list[float]:
    from orchestrator.runner.schedulers import RuleScheduler

    decided: dict[str, float] = {}
    feed = RuleScheduler.feed

    def timed_feed(self, config, result):  # the driver's scheduler: the decision's moment
        decision = feed(self, config, result)
        if decision is not None:
            decided[str(config["__key"])] = time.time()
        return decision

    RuleScheduler.feed = timed_feed  # type: ignore[method-assign]
    values = [round(1.0 / (i + 1), 4) for i in range(trials)]  # each worse than the last
    text = SWEEP.format(
        name="stops",
        values=values,
        epochs=args.epochs * 4,
        early_terminate="{type: hyperband, min_iter: 1, eta: 2}",
        trials=trials,
        wandb="{mode: offline}" if args.wandb else "false",
    )
    watcher = Watcher(folder / "w")
    watcher.thread.start()
    try:
        storage, sweep_id = run_rungs(folder, "stops", text)
    finally:
        watcher.stop()
        RuleScheduler.feed = feed  # type: ignore[method-assign]
    return [watcher.gone[key] - moment for key, moment in decided.items() if key in watcher.gone]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8, help="configs (trials per sweep)")
    parser.add_argument("--epochs", type=int, default=5, help="reports per trial")
    parser.add_argument("--seconds", type=float, default=0.1, help="sleep per epoch")
    parser.add_argument("--wandb", action="store_true", help="a W&B program (real wandb)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rungs-program-bench-") as tmp:
        folder = Path(tmp)
        write_program(folder, args.wandb, args.seconds)
        values = [round(10 ** (-1 - i / args.trials), 6) for i in range(args.trials)]
        costs = overhead(folder, args, values)
        latencies = sorted(stop_latency(folder, args, args.trials))
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else None
    print(
        textwrap.dedent(f"""\
        program: {"W&B (real wandb, offline)" if args.wandb else "stdout JSON"}, {args.trials} configs x {args.epochs} epochs x {args.seconds} s; load {os.getloadavg()[0]:.1f}
        | measure | value | target |
        | --- | --- | --- |
        | bare `python train.py`, median | {costs["bare_s"]:.2f} s | |
        | Rungs overhead per trial, median (max) | {costs["overhead_s"]:.3f} s ({costs["overhead_max_s"]:.3f} s) | <= 0.5 s |
        | the same with the gaps between trials (stage span / trials - bare mean) | {costs["span_overhead_s"]:.3f} s | <= 0.5 s |
        | stop latency, decision -> process gone, median | {statistics.median(latencies) if latencies else float("nan"):.3f} s | |
        | stop latency p95 ({len(latencies)} stops) | {p95 if p95 is not None else float("nan"):.3f} s | <= 1 s + grace (3 s) |""")
    )


if __name__ == "__main__":
    main()
