"""Where to run without Ray: stage jobs on the simulated clock, in-process.

:class:`SimulatedExecutor` has :class:`~orchestrator.runner.executor.RayExecutor`'s interface
(``execute(job)``), so :func:`~orchestrator.runner.pipeline.run_sweep` runs a whole sweep on it:
stages, stopping rules, narrowing, selection, validation and the database, exactly as under Ray.
It drives the job's own searcher, scheduler and recorder in Ray's order (the searcher suggests;
each result goes to the scheduler, then the searcher unless stopped, then the recorder; an end
is told to all three) on the clock of :mod:`.simclock`: ``workers`` trials at once, an epoch on
``n`` samples taking ``n`` units of simulated time.

Its trainers are the learning-curve models of :mod:`trainers.curves` (``synthetic``,
``sim-seed004``, ``mf-hartmann6``): closed-form curves, so a sweep of hundreds of trials runs in
seconds. ``rungs run --simulate`` runs a sweep of one of them this way; the whole-pipeline tests
and the sample-efficiency benchmark use it too, so what the benchmark measures is what users
run. Unlike Ray, it logs nothing to W&B and does not retry a failed trial.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher

from orchestrator.runner import tags
from orchestrator.runner.jobs import VALIDATION_VARIANT, StageJob
from orchestrator.runner.simclock import Ledger, Running, run_clock
from orchestrator.runner.trainable import build_request, failed_report, final_report, train_or_oom
from trainers import ListReporter, TrialOutcome, TrialRequest, model_entry

CURVES = "trainers.curves."
# A trial's epochs, one report per next(); it returns its outcome (or an out-of-memory reason)
# and raises the error that ended it, after the reports made before the error.
Steps = Generator[Mapping[str, Any], None, TrialOutcome | str]
TrialSteps = Callable[[TrialRequest], Steps]


def curve_steps(request: TrialRequest) -> Steps:
    """A curve trainer's epochs: trained at once (milliseconds), handed out one at a time."""
    reporter = ListReporter()
    error: Exception | None = None
    ending: TrialOutcome | str | None = None
    try:
        ending = train_or_oom(request, reporter)
    except Exception as exc:  # a crash: its reports first, then the error, as under Ray
        error = exc
    yield from reporter.reports
    if error is not None:
        raise error
    assert ending is not None
    return ending


@dataclass
class SimTrial:
    """What Ray's callbacks read of a trial: its id, its tagged config, its error file."""

    trial_id: str
    config: dict[str, Any]
    error_file: str | None = None


@dataclass
class _Live:
    """A trial on the clock: its steps, its last report, and one step read ahead."""

    trial: SimTrial
    steps: Steps
    last: dict[str, Any] = field(default_factory=dict)
    ahead: tuple[str, Any] | None = None

    def pull(self) -> tuple[str, Any]:
        """("report", metrics), ("end", outcome) or ("error", exception)."""
        if self.ahead is not None:
            item, self.ahead = self.ahead, None
            return item
        try:
            return "report", next(self.steps)
        except StopIteration as end:
            return "end", end.value
        except Exception as exc:
            return "error", exc


class SimulatedExecutor:
    """Runs stage jobs on the simulated clock.

    ``workers``: trials at once (default: the spec's ``max_concurrent``, else as many as this
    machine's CPUs hold, as Ray would). ``search_budget``: sample-epochs after which no new
    search trial starts (running ones finish; validation always runs in full), the way a
    time-limited sweep ends. ``steps`` trains one trial (default: a curve trainer, at once).
    ``ledger`` counts the compute of every job run so far; ``executed`` names them in order.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        search_budget: float | None = None,
        steps: TrialSteps | None = None,
    ) -> None:
        self.workers, self.search_budget = workers, search_budget
        self.steps = steps or curve_steps
        self.curves_only = steps is None
        self.ledger = Ledger()
        self.executed: list[str] = []
        self.clock = 0.0  # simulated time of every job so far, end to end
        self.ids = itertools.count()

    def execute(self, job: StageJob) -> None:
        self.executed.append(job.name)
        if job.trials <= 0:
            return
        self.check(job)
        source = JobSource(self, job)
        try:
            self.clock += run_clock(source, self.concurrency(job), self.ledger)
        except BaseException:  # Ctrl-C or a kill in a test: keep what the trials reported
            job.recorder.flush()
            raise
        job.recorder.on_experiment_end([])  # trials the lost lease left running: cancelled

    def check(self, job: StageJob) -> None:
        if job.ctx.program is not None:
            raise ValueError("the simulated executor cannot run a program: it runs curve trainers")
        module = model_entry(job.ctx.model).module
        if self.curves_only and not module.startswith(CURVES):
            raise ValueError(
                f"the simulated executor runs the learning-curve trainers ({CURVES}*), but "
                f"model {job.ctx.model!r} is {module}: run it on Ray"
            )

    def concurrency(self, job: StageJob) -> int:
        if self.workers:
            return self.workers
        if job.resources.max_concurrent:
            return int(job.resources.max_concurrent)
        per_trial = max(job.resources.cpus_per_trial, 1e-3)
        return max(1, math.floor((os.cpu_count() or 1) / per_trial))

    def trial_steps(self, job: StageJob, request: TrialRequest) -> Steps:
        """One trial's steps (a test may override this to inject a fault)."""
        return self.steps(request)

    def may_start(self, job: StageJob) -> bool:
        if job.should_stop():
            return False
        if self.search_budget is None or is_validation(job):
            return True
        return self.ledger.sample_epochs < self.search_budget


def is_validation(job: StageJob) -> bool:
    return VALIDATION_VARIANT in job.searcher.variants


class JobSource:
    """A stage job as a :class:`~orchestrator.runner.simclock.TrialSource`."""

    def __init__(self, executor: SimulatedExecutor, job: StageJob) -> None:
        self.executor, self.job = executor, job

    def next_trial(self, ledger: Ledger) -> Running | None:
        if not self.executor.may_start(self.job):
            return None
        trial_id = f"sim{next(self.executor.ids)}"
        config = self.job.searcher.suggest(trial_id)
        if config is None or config == Searcher.FINISHED:
            return None
        assert isinstance(config, dict)
        trial = SimTrial(trial_id, config)
        self.job.recorder.on_trial_start(0, [], trial)
        steps = self.executor.trial_steps(self.job, build_request(self.job.ctx, config, None))
        return Running(str(config[tags.KEY]), self.job.ctx.subset, _Live(trial, steps))

    def step(self, running: Running, ledger: Ledger) -> bool:
        live: _Live = running.state
        if self.job.should_stop():  # the lease is lost: Ray's LeaseStopper ends every trial
            live.steps.close()
            return False
        kind, value = live.pull()
        if kind != "report":
            return self.end(live, kind, value)
        ledger.charge(running.subset)
        running.iteration += 1
        live.last = dict(value)
        result = {**value, "training_iteration": running.iteration}
        if self.deliver(live.trial, result):
            live.steps.close()
            self.complete(live.trial, result)
            return False
        if running.iteration >= self.job.ctx.epochs:  # its last epoch: it ends now, not later
            kind, value = live.ahead = live.pull()
            if kind != "report":
                live.ahead = None
                return self.end(live, kind, value)
        return True

    def end(self, live: _Live, kind: str, value: Any) -> bool:
        if kind == "error":
            self.error(live.trial, value)
            return False
        metric = self.job.ctx.metric
        if isinstance(value, str):  # out of memory: an outcome, as the Ray trainable reports it
            final = failed_report(value, live.last, metric)
        else:
            final = final_report(value, live.last, metric)
        self.deliver(live.trial, final)
        self.complete(live.trial, final)
        return False

    def deliver(self, trial: SimTrial, result: dict[str, Any]) -> bool:
        """Ray's order: scheduler, then searcher (unless stopped), then callbacks; True: STOP."""
        decision = self.job.scheduler.on_trial_result(None, trial, result)
        if decision != TrialScheduler.STOP:
            self.job.searcher.on_trial_result(trial.trial_id, result)
        self.job.recorder.on_trial_result(0, [], trial, result)
        return bool(decision == TrialScheduler.STOP)

    def complete(self, trial: SimTrial, result: dict[str, Any]) -> None:
        self.job.scheduler.on_trial_complete(None, trial, result)
        self.job.searcher.on_trial_complete(trial.trial_id, result)
        self.job.recorder.on_trial_complete(0, [], trial)

    def error(self, trial: SimTrial, exc: Exception) -> None:
        """As Ray: the error in the trial's error file (the recorder stores its last line)."""
        folder = Path(self.job.sweep_dir) / "errors" / self.job.name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{trial.config.get(tags.KEY, trial.trial_id)}.txt"
        path.write_text(f"Traceback (simulated executor)\n{type(exc).__name__}: {exc}\n")
        trial.error_file = str(path)
        # a SimTrial stands in for Ray's Trial: Ray's hooks read its id, config and error file
        self.job.scheduler.on_trial_error(None, trial)  # type: ignore[arg-type]
        self.job.recorder.on_trial_error(0, [], trial)
        self.job.searcher.on_trial_complete(trial.trial_id, None, error=True)
