"""Workers whose trials run in their own process instead of on Ray: the real claim loop, leases,
pipeline, recorder and storage, in processes a test can kill - without Ray's seconds of start-up.

:class:`InProcessExecutor` drives a stage job's searcher, scheduler and recorder in the order
Ray's loop calls them, one trial at a time and in real time (the ``synthetic`` model's
``sleep_per_epoch``), and stops at the next epoch once the job's ``should_stop`` says so (as
``LeaseStopper`` stops a ``Tuner.fit``). Not the product's ``SimulatedExecutor``: that one runs
on a simulated clock, where a sweep takes no wall time and there is nothing to kill half-way. With a trace file it appends
one line per trial start and end (``open|close <sweep> <pid> <key>``, ``O_APPEND``): the order of
the lines is the order of the events, across processes. A worker notes ``ready`` as it starts.

Run as a script (tests start it as a process):

* ``python simulated_worker.py worker --db URL --name NAME [--trace FILE] [--parent-pid PID]``:
  ``rungs worker`` on this executor;
* ``python simulated_worker.py serve --db URL --port PORT [--workers N] [--trace FILE]``:
  ``rungs serve``, whose embedded workers are the above.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))

from ray.tune.schedulers import TrialScheduler  # noqa: E402
from ray.tune.search import Searcher  # noqa: E402

from orchestrator.runner import tags  # noqa: E402
from orchestrator.runner.jobs import StageJob  # noqa: E402
from orchestrator.runner.pipeline import run_sweep  # noqa: E402
from orchestrator.runner.trainable import build_request, final_report  # noqa: E402
from orchestrator.storage.base import BaseStorage  # noqa: E402
from orchestrator.worker import Runner  # noqa: E402
from trainers import run_trial  # noqa: E402


class _Trial:
    def __init__(self, trial_id: str, config: dict[str, Any]) -> None:
        self.trial_id, self.config, self.error_file = trial_id, config, None


class _Stopped(Exception):
    """A trial ends inside a report, as ``ray.tune.report`` ends it: ``everything`` when the
    whole stage stops (lease lost), else the stopping rule stopped this trial."""

    def __init__(self, everything: bool) -> None:
        super().__init__("stopped")
        self.everything = everything


class _Reporter:
    def __init__(self, job: StageJob, trial: _Trial) -> None:
        self.job, self.trial = job, trial
        self.last: dict[str, Any] = {}
        self.iteration = 0

    def report(self, metrics: Any, checkpoint_dir: Path | None = None) -> None:
        if self.job.should_stop():
            raise _Stopped(everything=True)
        self.iteration += 1
        self.last = dict(metrics)
        if deliver(self.job, self.trial, {**metrics, "training_iteration": self.iteration}):
            raise _Stopped(everything=False)


def deliver(job: StageJob, trial: _Trial, result: dict[str, Any]) -> bool:
    """Ray's order: scheduler, searcher (unless stopped), callbacks. Whether to stop."""
    decision = job.scheduler.on_trial_result(None, trial, result)
    if decision != TrialScheduler.STOP:
        job.searcher.on_trial_result(trial.trial_id, result)
    job.recorder.on_trial_result(0, [], trial, result)
    return decision == TrialScheduler.STOP


class InProcessExecutor:
    def __init__(self, trace: Path | None = None) -> None:
        self.trace, self.ids = trace, itertools.count()

    def execute(self, job: StageJob) -> None:
        while not job.should_stop():
            trial_id = f"{os.getpid()}-{next(self.ids)}"
            config = job.searcher.suggest(trial_id)
            if config is None or config == Searcher.FINISHED:
                break
            assert isinstance(config, dict)
            if not self._run(job, _Trial(trial_id, config)):
                break
        job.recorder.on_experiment_end([])

    def _run(self, job: StageJob, trial: _Trial) -> bool:
        """One trial to its end; False when the stage stops under it."""
        job.recorder.on_trial_start(0, [], trial)
        self._note("open", job, trial)
        reporter = _Reporter(job, trial)
        try:
            outcome = run_trial(build_request(job.ctx, trial.config, None), reporter)
            deliver(job, trial, final_report(outcome, reporter.last, job.ctx.metric))
        except _Stopped as stop:
            if stop.everything:
                return False  # on_experiment_end records it as cancelled
        finally:
            self._note("close", job, trial)
        job.scheduler.on_trial_complete(None, trial, reporter.last)
        job.searcher.on_trial_complete(trial.trial_id, reporter.last)
        job.recorder.on_trial_complete(0, [], trial)
        return True

    def _note(self, event: str, job: StageJob, trial: _Trial) -> None:
        if self.trace is not None:
            note(self.trace, event, job.ctx.sweep_name, trial.config[tags.KEY])


def note(trace: Path, event: str, sweep: str, key: str) -> None:
    """One line, appended in one write: lines of several processes never interleave."""
    fd = os.open(trace, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{event} {sweep} {os.getpid()} {key}\n".encode())
    finally:
        os.close(fd)


def simulated_runner(trace: Path | None = None) -> Runner:
    def run(storage: BaseStorage, sweep_id: int, owner: str) -> None:
        run_sweep(storage, sweep_id, progress=False, owner=owner, executor=InProcessExecutor(trace))

    return run


def trace_events(trace: Path) -> list[tuple[str, str, int, str]]:
    """``(event, sweep name, pid, key)`` in the order they happened."""
    if not trace.exists():
        return []
    rows = [line.split() for line in trace.read_text().splitlines()]
    return [(event, sweep, int(pid), key) for event, sweep, pid, key in rows]


# -- as a script --------------------------------------------------------------------------------
def _worker(args: argparse.Namespace) -> int:
    import logging

    from orchestrator.worker import exit_with_parent, stop_on_sigterm, work

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop_on_sigterm()
    if args.parent_pid is not None:
        exit_with_parent(args.parent_pid)
    trace = Path(args.trace) if args.trace else None
    if trace is not None:
        note(trace, "ready", "-", "-")  # tests wait for this before they queue sweeps
    try:
        work(args.db, name=args.name, poll_seconds=0.2, runner=simulated_runner(trace))
    except KeyboardInterrupt:
        return 130
    return 0


def _serve(args: argparse.Namespace) -> int:
    from orchestrator.cli import embedded_workers, main

    def simulated_worker_command(db: str | None, ray_address: str | None) -> list[str]:
        command = [sys.executable, __file__, "worker", "--parent-pid", str(os.getpid())]
        command += ["--db", args.db] + (["--trace", args.trace] if args.trace else [])
        return command

    embedded_workers.worker_command = simulated_worker_command  # type: ignore[assignment]
    serve = ["serve", "--db", args.db, "--port", str(args.port), "--workers", str(args.workers)]
    return main(serve)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    worker = sub.add_parser("worker")
    worker.add_argument("--db", required=True)
    worker.add_argument("--name")
    worker.add_argument("--trace")
    worker.add_argument("--parent-pid", type=int)
    worker.set_defaults(func=_worker)
    serve = sub.add_parser("serve")
    serve.add_argument("--db", required=True)
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--trace")
    serve.set_defaults(func=_serve)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
