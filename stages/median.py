"""Ray Tune's median stopping rule (``MedianStoppingRule``, from Google Vizier), as a pure rule.

Semantics, read from Ray Tune's ``median_stopping_rule.py`` with ``time_attr`` being the
iteration (the count of reported values) and ``hard_stop=True``:

* **Grace.** A result at iteration ``t < grace`` is never judged.
* **Who is compared.** The *other* trials whose latest result is at iteration ``>= t`` - running,
  completed and already-stopped trials alike, since Ray keeps every trial's results. With fewer
  than ``min_samples`` of them the trial continues.
* **Median.** Each of those trials' *running mean*: the mean of its values at iterations
  ``grace <= i <= t``; the median of these means (numpy's median: the mean of the two middle
  ones for an even count).
* **Compared value.** The trial's best value so far, over all its values (before grace too).
* **Stop.** When that best is *strictly* worse than the median; a tie continues.

Two deliberate differences, both outside what Ray defines: non-finite values are ignored (Ray
would put NaN into a mean and then compare against it, which decides nothing), and
:meth:`MedianStopper.on_complete` adds no value (Ray appends the completing result, which our
driver has already passed to :meth:`MedianStopper.on_result`).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from stages.spec import Goal, MedianStopping
from stages.stopping import StopDecision
from stages.trials import signed


@dataclass
class _Curve:
    """One trial's finite values (higher is better) with prefix sums for O(log n) means."""

    iterations: list[int] = field(default_factory=list)
    prefix: list[float] = field(default_factory=lambda: [0.0])
    best: float = -math.inf

    def add(self, iteration: int, value: float) -> None:
        self.iterations.append(iteration)
        self.prefix.append(self.prefix[-1] + value)
        self.best = max(self.best, value)

    @property
    def last(self) -> int:
        return self.iterations[-1] if self.iterations else 0

    def window_mean(self, first: int, last: int) -> float | None:
        """Mean of the values at iterations ``first <= i <= last``; None when there is none."""
        lo = bisect.bisect_left(self.iterations, first)
        hi = bisect.bisect_right(self.iterations, last)
        if hi <= lo:
            return None
        return (self.prefix[hi] - self.prefix[lo]) / (hi - lo)


def median_of_running_means(
    curves: dict[str, list[float]], grace: int, iteration: int
) -> float | None:
    """The median over curves (values at iterations 1, 2, ...) of each curve's mean over
    ``grace..iteration``; curves shorter than ``iteration`` are left out, as in Ray.

    >>> median_of_running_means({"a": [1, 3, 5], "b": [2, 2, 2], "c": [0, 0]}, grace=1, iteration=3)
    2.5
    """
    means = []
    for values in curves.values():
        curve = _Curve()
        for i, v in enumerate(values, start=1):
            curve.add(i, float(v))
        mean = curve.window_mean(grace, iteration) if curve.last >= iteration else None
        if mean is not None:
            means.append(mean)
    return float(np.median(means)) if means else None


class MedianStopper:
    """Ray Tune's ``MedianStoppingRule`` as a :class:`stages.stopping.StoppingRule`."""

    def __init__(self, rule: MedianStopping, goal: Goal) -> None:
        if rule.min_samples < 1:
            raise ValueError(f"median stopping needs min_samples >= 1, but got {rule.min_samples=}")
        self.rule = rule
        self.goal: Goal = goal
        self._curves: dict[str, _Curve] = {}
        self._ended: set[str] = set()

    def on_result(self, trial_id: str, iteration: int, value: float) -> StopDecision | None:
        """Record the value; stop the trial if its best so far is below the others' median."""
        if not math.isfinite(value):
            return None
        curve = self._curves.setdefault(trial_id, _Curve())
        curve.add(iteration, signed(float(value), self.goal))
        if trial_id in self._ended or iteration < self.rule.grace:
            return None
        median = self._median(trial_id, iteration)
        if median is None or curve.best >= median:  # a tie continues, as in Ray
            return None
        self._ended.add(trial_id)
        return StopDecision(
            rule="median",
            iteration=iteration,
            rung=None,
            threshold=signed(median, self.goal),
            value=signed(curve.best, self.goal),
            goal=self.goal,
        )

    def on_complete(self, trial_id: str) -> None:
        """A completed trial's results keep counting for the others."""
        self._ended.add(trial_id)

    def _median(self, trial_id: str, iteration: int) -> float | None:
        """Median of the other trials' running means at ``iteration``; None below min_samples."""
        others = [c for t, c in self._curves.items() if t != trial_id and c.last >= iteration]
        means = [m for c in others if (m := c.window_mean(self.rule.grace, iteration)) is not None]
        if len(means) < self.rule.min_samples:
            return None
        return float(np.median(means))
