"""Terminal progress: one concise line per change, at most every few seconds.

``[stage-3] 12/40 done (7 finished, 4 stopped, 1 failed), 2 running | best score 7.93 |
elapsed 6m02s, ETA 9m10s``

The ETA is a simple, honest estimate: the mean duration of the stage's ended trials times the
trials not ended yet, divided by how many run at once (``ETA ?`` until a trial has ended). Early
stopped trials are short, so it moves as the stage goes on.

Lines go to stderr so that ``rungs run ... > out.txt`` keeps only the final ranking. A tqdm bar
would be redrawn on every result; on a shared 2-core machine a line every few seconds is enough.
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import IO, Any

from ray.tune import Callback

from orchestrator.runner import tags


def duration_text(seconds: float) -> str:
    """``45s``, ``3m12s``, ``2h05m``: short enough for a progress line."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class ProgressLine:
    """Counts, the best value, elapsed time and ETA of one stage; :meth:`line` formats them
    (Ray-free). ``concurrency`` is how many trials run at once (the executor sets it)."""

    def __init__(
        self,
        stage: str,
        total: int,
        metric: str,
        goal: str,
        *,
        concurrency: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stage, self.total, self.metric, self.goal = stage, total, metric, goal
        self.concurrency, self.clock = concurrency, clock
        self.began = clock()
        self.running = 0
        self.finished: Counter[str] = Counter()
        self.best: float | None = None
        self.durations: list[float] = []
        self._started_at: dict[str, float] = {}

    def started(self, trial_id: str = "") -> None:
        if trial_id not in self._started_at:  # a restarted trial is still one running trial
            self.running += 1
        self._started_at[trial_id] = self.clock()

    def ended(self, status: str, trial_id: str = "") -> None:
        self.running = max(0, self.running - 1)
        self.finished[status] += 1
        start = self._started_at.pop(trial_id, None)
        if start is not None:
            self.durations.append(self.clock() - start)

    def eta_seconds(self) -> float | None:
        """Mean ended-trial duration x trials not ended / concurrency; None before any ended."""
        if not self.durations:
            return None
        left = max(0, self.total - sum(self.finished.values()))
        mean = sum(self.durations) / len(self.durations)
        return mean * left / max(1, self.concurrency)

    def timing(self) -> str:
        eta = self.eta_seconds()
        elapsed = duration_text(self.clock() - self.began)
        return f"elapsed {elapsed}, ETA {'?' if eta is None else duration_text(eta)}"

    def result(self, value: Any) -> None:
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return
        if self.best is None or (
            value > self.best if self.goal == "maximize" else value < self.best
        ):
            self.best = float(value)

    def counts(self) -> str:
        """The line without its times: it changes only when a trial starts, ends or improves."""
        done = sum(self.finished.values())
        parts = ", ".join(f"{n} {s}" for s, n in sorted(self.finished.items()))
        best = "-" if self.best is None else f"{self.best:.4g}"
        detail = f" ({parts})" if parts else ""
        return f"[{self.stage}] {done}/{self.total} done{detail}, {self.running} running | best {self.metric} {best}"

    def line(self) -> str:
        return f"{self.counts()} | {self.timing()}"


class ProgressCallback(Callback):
    """Prints the stage's line when its counts changed (at most every ``every_seconds``), and
    every ``heartbeat_seconds`` anyway so that elapsed time and ETA stay current."""

    def __init__(
        self,
        progress: ProgressLine,
        decisions: dict,
        *,
        every_seconds: float = 5.0,
        heartbeat_seconds: float = 60.0,
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.progress, self.decisions = progress, decisions
        self.every, self.heartbeat = every_seconds, heartbeat_seconds
        self.stream, self.clock = stream or sys.stderr, clock
        self._last_print = -math.inf
        self._last_counts = ""

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.progress.started(trial.trial_id)

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        if tags.FINAL not in result:
            self.progress.result(result.get(self.progress.metric))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        stopped = str(trial.config.get(tags.KEY)) in self.decisions
        self.progress.ended("stopped" if stopped else "finished", trial.trial_id)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.progress.ended("failed", trial.trial_id)

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        if self.clock() - self._last_print >= self.every:
            self.emit()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self.emit(force=True)

    def emit(self, force: bool = False) -> None:
        counts = self.progress.counts()
        stale = self.clock() - self._last_print >= self.heartbeat
        if force or stale or counts != self._last_counts:
            print(self.progress.line(), file=self.stream, flush=True)
            self._last_counts = counts
            self._last_print = self.clock()
