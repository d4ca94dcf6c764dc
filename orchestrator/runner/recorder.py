"""The Ray Tune callback that writes every trial, result and stop reason to the database.

The database is the single record (API, dashboard, CLI and resume read it), so everything Ray
learns is written as it happens. Result rows are batched - flushed every ``flush_every`` rows,
every ``flush_seconds`` and whenever a trial ends - because one transaction per epoch would cost
more than the trial itself for cheap trials. Appends are idempotent on (trial_id, step), so a
trial re-run after a restart cannot duplicate rows. While the database is unreachable every write
is retried with backoff (:mod:`orchestrator.storage.retrying`) and no buffered row is dropped.

Final statuses: ``early_stopped`` (the scheduler's StopDecision, stored with rule, rung,
threshold and value), ``diverged``/``early_stopped`` from the trainer's TrialOutcome (with its
reason), ``failed`` (exception, with the error message), ``cancelled`` (the sweep was stopped),
otherwise ``completed``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray.tune import Callback

from orchestrator.runner import tags
from orchestrator.runner.out_of_memory import OOM_RULE, is_oom
from orchestrator.storage.base import BaseStorage
from orchestrator.storage.records import ResultRow
from orchestrator.storage.retrying import retrying
from stages.states import TrialState
from stages.stopping import StopDecision

# Keys Ray adds to every result: bookkeeping, not the trainer's metrics.
_RAY_KEYS = frozenset(
    [
        "done",
        "training_iteration",
        "trial_id",
        "date",
        "timestamp",
        "time_this_iter_s",
        "time_total_s",
        "pid",
        "hostname",
        "node_ip",
        "config",
        "time_since_restore",
        "iterations_since_restore",
        "checkpoint_dir_name",
        "should_checkpoint",
        "experiment_tag",
        "timesteps_total",
        "episodes_total",
        "timesteps_since_restore",
        "episodes_this_iter",
        "timesteps_this_iter",
    ]
)

# The stop reason of a trial the sweep's cancellation ended.
_SWEEP_STOPPED = {"rule": "cancelled", "message": "the sweep was stopped"}


@dataclass
class _Live:
    """What the recorder knows about one running trial."""

    db_id: int
    key: str
    best: float | None = None
    last: float | None = None
    epochs: int = 0
    seconds: float = 0.0
    status: str | None = None  # the TrialOutcome status from the final report
    reason: str | None = None


def clean_metrics(result: Mapping[str, Any]) -> dict[str, Any]:
    """The trainer's metrics: Ray's bookkeeping dropped, non-finite floats as None (JSON)."""
    out: dict[str, Any] = {}
    for name, value in result.items():
        if name in _RAY_KEYS or name.startswith("__") or isinstance(value, (dict, list)):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        out[name] = value
    return out


class Recorder(Callback):
    def __init__(
        self,
        storage: BaseStorage,
        stage_id: int,
        *,
        metric: str,
        goal: str,
        decisions: Mapping[str, StopDecision],
        flush_every: int = 50,
        flush_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Every write waits out a database restart (retrying, with backoff) instead of failing
        # the sweep; rows stay buffered meanwhile, and the trials keep running.
        self.storage, self.stage_id = retrying(storage), stage_id
        self.metric, self.goal, self.decisions = metric, goal, decisions
        self.flush_every, self.flush_seconds, self.clock = flush_every, flush_seconds, clock
        self.live: dict[str, _Live] = {}  # by Ray trial id
        self.buffer: list[ResultRow] = []
        self._last_flush = clock()

    def __getstate__(self) -> dict[str, Any]:
        # Ray pickles the Tuner's callbacks into its experiment folder; a database connection
        # cannot (and need not) travel: Rungs resumes from the database, not from that pickle.
        return {k: v for k, v in self.__dict__.items() if k not in ("storage", "clock")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, storage=None, clock=time.monotonic)

    # -- Ray hooks -----------------------------------------------------------------------------
    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        config = trial.config
        key = str(config[tags.KEY])
        db_id = self.storage.create_trial(
            self.stage_id,
            variant=str(config[tags.VARIANT]),
            key=key,
            config=tags.strip(config),
            seed=int(config.get(tags.SEED, 0)),
            name=str(config.get(tags.GROUP) or key),
            status=TrialState.RUNNING,
        )
        stored = self.storage.get_trial(db_id)  # a re-run trial keeps what was stored before
        if stored.status != TrialState.RUNNING:  # a new trial was created running: no 2nd write
            self.storage.update_trial(db_id, status=TrialState.RUNNING)
        self.live[trial.trial_id] = _Live(
            db_id, key, stored.best_value, stored.last_value, stored.epochs
        )

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        live = self.live.get(trial.trial_id)
        if live is None:
            return
        live.seconds = float(result.get("time_total_s") or live.seconds)
        if tags.FINAL in result:
            live.status, live.reason = str(result[tags.STATUS]), str(result[tags.REASON]) or None
            return
        step = int(result.get("epoch") or result.get("training_iteration") or 0)
        self.buffer.append(ResultRow(live.db_id, step, clean_metrics(result)))
        self._track(live, step, result.get(self.metric))
        if len(self.buffer) >= self.flush_every:
            self.flush()

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        if self.buffer and self.clock() - self._last_flush >= self.flush_seconds:
            self.flush()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        live = self.live.pop(trial.trial_id, None)
        if live is None:
            return
        self.flush()
        status, reason = self.final_status(live)
        self._finish(live, status, reason)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        live = self.live.pop(trial.trial_id, None)
        if live is None:
            return
        self.flush()
        self._finish(live, TrialState.FAILED, {"rule": "error", "message": error_message(trial)})

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self.flush()
        for live in list(self.live.values()):  # the fit ended under them (sweep cancelled)
            self._finish(live, TrialState.CANCELLED, _SWEEP_STOPPED)
        self.live.clear()

    # -- helpers -------------------------------------------------------------------------------
    def flush(self) -> None:
        """Store the buffered rows. They leave the buffer only once stored: a flush that failed
        (the database gone for longer than the outage limit) loses nothing."""
        if self.buffer:
            self.storage.append_results(self.buffer)
            self.buffer = []
        self._last_flush = self.clock()

    def final_status(self, live: _Live) -> tuple[str, dict[str, Any] | None]:
        decision = self.decisions.get(live.key)
        if decision is not None:
            return TrialState.EARLY_STOPPED, decision.to_dict(self.metric)
        if live.status in tags.TRAINER_STOPS:
            return live.status, {"rule": "trainer", "message": live.reason or live.status}
        if live.status == TrialState.FAILED:  # out of memory, or a program that crashed
            rule = OOM_RULE if is_oom(live.reason) else "error"
            return TrialState.FAILED, {"rule": rule, "message": live.reason or "failed"}
        if live.status is None:  # ended without its outcome report: the sweep was stopped
            return TrialState.CANCELLED, _SWEEP_STOPPED
        return TrialState.COMPLETED, None

    def _track(self, live: _Live, step: int, value: Any) -> None:
        live.epochs = max(live.epochs, step)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return
        live.last = float(value)
        better = live.best is None or (
            value > live.best if self.goal == "maximize" else value < live.best
        )
        if better:
            live.best = float(value)

    def _finish(self, live: _Live, status: str, reason: dict[str, Any] | None) -> None:
        self.storage.update_trial(
            live.db_id,
            status=status,
            stop_reason=reason,
            best_value=live.best,
            last_value=live.last,
            epochs=live.epochs,
            compute_seconds=live.seconds,
            finished=True,
        )


def error_message(trial: Any) -> str:
    """The last line of the trial's error file (the exception), else a generic message."""
    path = getattr(trial, "error_file", None)
    if path and Path(path).exists():
        lines = [
            ln.strip() for ln in Path(path).read_text(errors="replace").splitlines() if ln.strip()
        ]
        if lines:
            return lines[-1][:2000]
    return "the trial raised an exception (no error file)"
