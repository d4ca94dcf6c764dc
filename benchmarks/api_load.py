"""API latency under dashboard load, and the dashboard endpoints on a very large sweep.

``load`` (default): ``rungs serve --workers 0`` on SQLite in a temp dir, a writer process that
appends results to a 200-trial sweep (~20 results/s, as a live stage would), and N concurrent
clients (asyncio + httpx, loopback only) that poll what the dashboard polls every 3 s: the sweep
list, the sweep detail, a trials page, then the stage curves on a (re)load or else
``results?after=cursor``. The writer is writing before the clients start, and every client is
built before the clock starts. Prints p50/p99 latency per endpoint and overall, the request
count, the errors and how late the load generator's own event loop ran (``--trace`` writes every
request). Target: p99 < 100 ms, 0 errors.

``big``: fills a SQLite database with one sweep of 5,000 trials x 100 epochs through the storage
API (bulk ``append_results``), then times each dashboard endpoint once, in process.

    .venv/bin/python benchmarks/api_load.py load --clients 50 --seconds 20
    .venv/bin/python benchmarks/api_load.py big --trials 5000 --epochs 100
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing as mp
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.storage import SQLStorage  # noqa: E402
from orchestrator.storage.records import ResultRow  # noqa: E402
from orchestrator.sweepfile import parse_spec, spec_to_dict  # noqa: E402
from stages.space import space_to_dict  # noqa: E402

YAML = """\
name: api-load
method: bayes
metric: {name: score, goal: maximize}
model: {name: synthetic}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
  weight_decay: {distribution: log_uniform_values, min: 1.0e-6, max: 1.0e-3}
  optimizer: {values: [adam, sgd]}
epochs: 100
stages:
  - {name: stage1, subset: 2000, trials: 200}
selection: {k: 5}
validation: {subset: 16000, seeds: [42, 123, 456]}
wandb: false
"""


def _score(i: int, step: int) -> float:
    return round((5 + (i % 37) / 10) * (1 - math.exp(-step / 8)), 5)


def fill(url: str, trials: int, epochs: int, finished: int) -> tuple[int, list[int]]:
    """One sweep, one stage, ``trials`` trials with ``epochs`` results each; the first
    ``finished`` trials are completed, the rest running. Returns (sweep id, trial ids)."""
    storage = SQLStorage(url)
    spec = parse_spec(YAML.replace("trials: 200", f"trials: {trials}"), "load.yaml").spec
    sweep_id = storage.create_sweep(spec.name, spec_to_dict(spec), YAML, state="running")
    stage_id = storage.upsert_stage(
        sweep_id, "stage1", position=0, kind="search", state="running",
        plan={"subset": 2000, "epochs": epochs, "trials": trials}, space=space_to_dict(spec.parameters),
    )  # fmt: skip
    ids = []
    for i in range(trials):
        config = {"lr": 1e-4 * 1.02 ** (i % 200), "weight_decay": 1e-6 * 1.03 ** (i % 200),
                  "optimizer": "adam" if i % 2 else "sgd"}  # fmt: skip
        tid = storage.create_trial(
            stage_id, variant="main", key=f"t{i}", config=config, name=f"t{i}"
        )
        ids.append(tid)
        storage.append_results(
            ResultRow(tid, s, {"score": _score(i, s), "loss": 1 / s}) for s in range(1, epochs + 1)
        )
        done = i < finished
        storage.update_trial(
            tid, status="completed" if done else "running", best_value=_score(i, epochs),
            last_value=_score(i, epochs), epochs=epochs, compute_seconds=3.0 * epochs, finished=done,
        )  # fmt: skip
    storage.close()
    return sweep_id, ids


def writer(url: str, trial_ids: list[int], start_step: int, per_second: float, stop: float) -> None:
    """Append results to the running trials at ``per_second`` rows/s in batches of 2 (what the
    runner's recorder does between flushes), updating each trial's epochs and best value."""
    storage = SQLStorage(url, create_tables=False)
    step, pace = start_step, 2 / per_second
    while time.time() < stop:
        for j in range(0, len(trial_ids), 2):
            batch = trial_ids[j : j + 2]
            storage.append_results(ResultRow(t, step, {"score": _score(t, step)}) for t in batch)
            for t in batch:
                storage.update_trial(t, epochs=step, best_value=_score(t, step))
            time.sleep(pace)
            if time.time() >= stop:
                break
        step += 1
    storage.close()


TRACE: list[tuple[float, str, float]] = []  # (start, endpoint, seconds) of every request


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def client(http: Any, sweep_id: int, until: float, think: float, budget: list[int],
                 samples: dict[str, list[float]], errors: list[str]) -> None:  # fmt: skip
    """One dashboard: the first round reads the curves; later rounds only what is new."""
    import httpx

    cursor, rounds = 0, 0
    await asyncio.sleep(random.uniform(0, think))  # dashboards are not opened in the same ms
    async with http:
        while time.time() < until and budget[0] > 0:
            # as dashboards/static/app.js refreshes: the sweep list, the sweep, a trials page,
            # then the curves on a (re)load (which gives the cursor) or else what is new since
            # the cursor; a reload every tenth round (a user switching stages)
            paths = {
                "sweeps": "/api/sweeps",
                "sweep": f"/api/sweeps/{sweep_id}",
                "trials": f"/api/sweeps/{sweep_id}/trials?limit=50&sort=best_value&order=desc",
            }
            if rounds % 10 == 0:
                paths["curves"] = (
                    f"/api/sweeps/{sweep_id}/curves?stage=stage1&limit=100&max_points=200&metric=score"
                )
            else:
                paths["results"] = f"/api/sweeps/{sweep_id}/results?after={cursor}"
            for name, path in paths.items():
                budget[0] -= 1
                t0 = time.perf_counter()
                try:
                    response = await http.get(path)
                except httpx.HTTPError as exc:
                    errors.append(f"{name}: {type(exc).__name__}")
                    continue
                samples[name].append(time.perf_counter() - t0)
                TRACE.append((t0, name, time.perf_counter() - t0))
                if response.status_code != 200:
                    errors.append(f"{name}: HTTP {response.status_code}")
                elif name in ("results", "curves"):
                    cursor = max(cursor, _cursor(response.content))
            rounds += 1
            await asyncio.sleep(think)


CURSOR = re.compile(rb'^\{"cursor": ?(\d+)')


def _cursor(body: bytes) -> int:
    """The cursor that leads both bodies. Read from the prefix, not by parsing the whole JSON:
    the 50 simulated dashboards share this one event loop, and parsing 50 curve documents of
    ~125 kB here held it for up to 90 ms, which was counted in the latency of every request in
    flight (a browser parses its own responses without delaying the other viewers)."""
    match = CURSOR.match(body)
    if match is None:
        raise ValueError(f"no cursor at the start of {body[:60]!r}")
    return int(match.group(1))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def print_table(samples: dict[str, list[float]], seconds: float) -> None:
    everything = [v for vs in samples.values() for v in vs]
    print("| endpoint | requests | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|")
    for name, values in [*samples.items(), ("overall", everything)]:
        print(f"| {name} | {len(values)} | {_pct(values, 0.5):.1f} | {_pct(values, 0.99):.1f} "
              f"| {max(values) * 1000:.1f} |")  # fmt: skip
    print(
        f"\n{len(everything)} requests in {seconds:.1f} s = {len(everything) / seconds:.0f} req/s"
    )


def run_load(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="rungs-load-"))
    url = f"sqlite:///{tmp / 'rungs.db'}"
    sweep_id, ids = fill(url, args.trials, args.start_epochs, finished=args.trials // 2)
    port = _free_port()
    env = {**os.environ, "RUNGS_HOME": str(tmp)}
    env.pop("RUNGS_API_TOKEN", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "serve", "--port", str(port), "--db", url,
         "--workers", "0"], cwd=ROOT, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_up(base)
        running = ids[args.trials // 2 :]
        # The writer runs a little longer than the clients, and they start only once it writes:
        # a live sweep is already writing when dashboards open (its start-up is not the API's).
        stop = time.time() + args.seconds + 60
        proc = mp.get_context("spawn").Process(
            target=writer, args=(url, running, args.start_epochs + 1, args.rate, stop)
        )
        proc.start()
        _wait_writing(url, sweep_id)
        samples: dict[str, list[float]] = defaultdict(list)
        errors: list[str] = []
        t0 = time.time()
        budget = [args.max_requests]
        asyncio.run(_clients(base, sweep_id, args, budget, samples, errors))
        proc.terminate()
        elapsed = time.time() - t0
        proc.join(timeout=30)
        written = len(SQLStorage(url, create_tables=False).results_after(sweep_id, 0, 10**9))
        load1 = os.getloadavg()[0]
        print(f"{args.clients} clients, think {args.think} s, {args.trials} trials; results in DB "
              f"after the run: {written}; load average {load1:.1f} on {os.cpu_count()} CPUs\n")  # fmt: skip
        print_table(dict(samples), elapsed)
        print(f"errors: {len(errors)} {sorted(set(errors))[:5]}")
        lags = [lag for _, lag in LAG]
        print(f"load generator's event-loop lag: p50 {_pct(lags, 0.5):.1f} ms, "
              f"p99 {_pct(lags, 0.99):.1f} ms, max {max(lags) * 1000:.1f} ms")  # fmt: skip
        if args.trace:
            args.trace.write_text(
                "start_s,endpoint,ms\n"
                + "".join(f"{t - TRACE[0][0]:.3f},{n},{ms * 1000:.2f}\n" for t, n, ms in TRACE)
            )
            args.trace.with_suffix(".lag.csv").write_text(
                "time_s,lag_ms\n" + "".join(f"{t - LAG[0][0]:.3f},{v * 1000:.2f}\n" for t, v in LAG)
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _clients(base: str, sweep_id: int, args: argparse.Namespace,
                   budget: list[int], samples: dict[str, list[float]], errors: list[str]) -> None:  # fmt: skip
    """Every client is built before the clock starts: making an httpx client costs ~40 ms of the
    load generator's CPU (an SSL context), which measured as API latency when 50 were made
    while the first requests were in flight."""
    import httpx

    https = [httpx.AsyncClient(base_url=base, timeout=30) for _ in range(args.clients)]
    stop = time.time() + args.seconds
    monitor = asyncio.create_task(_loop_lag(stop))
    await asyncio.gather(*(
        client(http, sweep_id, stop, args.think, budget, samples, errors) for http in https
    ))  # fmt: skip
    await monitor


LAG: list[tuple[float, float]] = []  # (time, seconds the load generator's loop was late)


async def _loop_lag(until: float, period: float = 0.01) -> None:
    """How late the load generator's own event loop wakes up: time it spends parsing responses
    is counted in the latency of every request in flight, so it is reported beside them."""
    while time.time() < until:
        t0 = time.perf_counter()
        await asyncio.sleep(period)
        LAG.append((time.time(), time.perf_counter() - t0 - period))


def _wait_writing(url: str, sweep_id: int) -> None:
    storage = SQLStorage(url, create_tables=False)
    before = storage.latest_result_id(sweep_id)
    for _ in range(300):
        if storage.latest_result_id(sweep_id) > before:
            break
        time.sleep(0.1)
    else:
        raise RuntimeError("the writer did not start writing")
    storage.close()
    time.sleep(1.0)


def _wait_up(base: str) -> None:
    import httpx

    for _ in range(200):
        try:
            if httpx.get(f"{base}/api/sweeps", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the API did not start")


def run_big(args: argparse.Namespace) -> None:
    from fastapi.testclient import TestClient

    from orchestrator.api import create_app
    from orchestrator.api.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="rungs-big-"))
    url = f"sqlite:///{tmp / 'rungs.db'}"
    t0 = time.perf_counter()
    sweep_id, _ = fill(url, args.trials, args.epochs, finished=args.trials - 20)
    print(
        f"filled {args.trials} trials x {args.epochs} epochs in {time.perf_counter() - t0:.1f} s\n"
    )
    storage = SQLStorage(url, create_tables=False)
    http = TestClient(create_app(Settings(database_url=url), storage))
    cursor = storage.latest_result_id(sweep_id)
    paths = {
        "sweeps": "/api/sweeps",
        "sweep": f"/api/sweeps/{sweep_id}",
        "trials (50, by best)": f"/api/sweeps/{sweep_id}/trials?limit=50&sort=best_value&order=desc",
        "results?after=latest-100": f"/api/sweeps/{sweep_id}/results?after={cursor - 100}",
        "curves (100 best + 20 running)": f"/api/sweeps/{sweep_id}/curves?stage=stage1",
        "trial curve": "/api/trials/1/curve",
        "top?k=5": f"/api/sweeps/{sweep_id}/top?k=5",
        "report json": f"/api/sweeps/{sweep_id}/report?format=json",
    }
    print("| endpoint | ms | status | bytes |\n|---|---|---|---|")
    for name, path in paths.items():
        t0 = time.perf_counter()
        response = http.get(path)
        ms = (time.perf_counter() - t0) * 1000
        print(f"| {name} | {ms:.0f} | {response.status_code} | {len(response.content)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode")
    load = sub.add_parser("load")
    load.add_argument("--clients", type=int, default=50)
    load.add_argument("--seconds", type=float, default=20)
    load.add_argument("--max-requests", type=int, default=20000)
    load.add_argument(
        "--think",
        type=float,
        default=3.0,
        help="seconds between a client's rounds (the dashboard refreshes every 3 s)",
    )
    load.add_argument("--trials", type=int, default=200)
    load.add_argument("--start-epochs", type=int, default=10)
    load.add_argument("--rate", type=float, default=20, help="results written per second")
    load.add_argument("--trace", type=Path, help="write every request (start, endpoint, ms) here")
    big = sub.add_parser("big")
    big.add_argument("--trials", type=int, default=5000)
    big.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()
    if args.mode == "big":
        run_big(args)
    else:
        if args.mode is None:
            args = load.parse_args([])
        run_load(args)


if __name__ == "__main__":
    main()
