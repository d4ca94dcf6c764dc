"""Terminal progress: one concise line per change, at most every few seconds.

``[stage-3] 12/40 done (7 completed, 4 stopped, 1 failed), 2 running | best score 7.93``

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


class ProgressLine:
    """Counts and the best value of one stage; :meth:`line` formats them (Ray-free)."""

    def __init__(self, stage: str, total: int, metric: str, goal: str) -> None:
        self.stage, self.total, self.metric, self.goal = stage, total, metric, goal
        self.running = 0
        self.finished: Counter[str] = Counter()
        self.best: float | None = None

    def started(self) -> None:
        self.running += 1

    def ended(self, status: str) -> None:
        self.running = max(0, self.running - 1)
        self.finished[status] += 1

    def result(self, value: Any) -> None:
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return
        if self.best is None or (
            value > self.best if self.goal == "maximize" else value < self.best
        ):
            self.best = float(value)

    def line(self) -> str:
        done = sum(self.finished.values())
        parts = ", ".join(f"{n} {s}" for s, n in sorted(self.finished.items()))
        best = "-" if self.best is None else f"{self.best:.4g}"
        detail = f" ({parts})" if parts else ""
        return f"[{self.stage}] {done}/{self.total} done{detail}, {self.running} running | best {self.metric} {best}"


class ProgressCallback(Callback):
    def __init__(
        self,
        progress: ProgressLine,
        decisions: dict,
        *,
        every_seconds: float = 5.0,
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.progress, self.decisions = progress, decisions
        self.every, self.stream, self.clock = every_seconds, stream or sys.stderr, clock
        self._last_print = -math.inf
        self._last_line = ""

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.progress.started()

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        if tags.FINAL not in result:
            self.progress.result(result.get(self.progress.metric))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        stopped = str(trial.config.get(tags.KEY)) in self.decisions
        self.progress.ended("stopped" if stopped else "finished")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.progress.ended("failed")

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        if self.clock() - self._last_print >= self.every:
            self.emit()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self.emit(force=True)

    def emit(self, force: bool = False) -> None:
        line = self.progress.line()
        if force or line != self._last_line:
            print(line, file=self.stream, flush=True)
            self._last_line = line
        self._last_print = self.clock()
