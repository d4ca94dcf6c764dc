"""W&B hyperband early termination, reproduced exactly (W&B sweeps ``hyperband_stopping.py``).

W&B's hyperband is a *stopping rule* only: nothing is paused or resumed. It computes "bands"
(rungs) in iterations, where an iteration is one reported value of the metric:

* with ``max_iter``: bands are ``int(max_iter / eta**k)`` for k = 1..s;
* with ``min_iter``: bands are ``int(min_iter * eta**k)`` for k = 0..99, and ``s`` is ignored.

What W&B's code does with them (read from W&B sweeps ``hyperband_stopping.py``, the version with
1-based bands and the ``strict`` flag), and therefore what :class:`HyperbandStopper` does:

* **History.** A run's history is its reported metric values with non-finite ones dropped
  (``metric_history(filter_invalid=True)``); a dropped value does not count as an iteration.
  Values are sign-flipped for ``maximize`` so that lower is better; here, as everywhere in
  ``stages``, the flip goes the other way (:func:`stages.trials.signed`: higher is better).
* **Value at a band.** The threshold of band ``b`` is built from ``history[b - 1]`` - the value
  reported *at* iteration ``b``, not the best so far - of every run with at least ``b`` values:
  running, finished and already-stopped runs alike.
* **Threshold.** Those values sorted best first; the one at index ``int((1.0 / eta) * n)``.
  So ``int(n / eta) + 1`` of ``n`` runs are at or better than it (W&B computes ``r = 1.0 / eta``
  first; we do the same so that float rounding matches).
* **Passed.** A run has passed band ``b`` once it has ``b`` values (``b <= len(history)``); the
  band that counts is the last one passed.
* **Compared value.** With ``strict`` off, the run's best value so far (``min(history)`` in W&B's
  lower-is-better terms, which includes values reported after the band); with ``strict`` on, its
  value at that band (``history[band - 1]``).
* **Default.** W&B's config schema fills ``strict: true`` when the YAML leaves it out (its
  DefaultFiller); :class:`stages.spec.Hyperband` defaults to False, so a parser of W&B YAML must
  apply W&B's default to behave like W&B.
* **Stop.** Only running runs are stopped, when the compared value is *strictly* worse than the
  threshold: a run exactly at the threshold continues.

W&B's controller re-evaluates every running run at each poll. A stopping rule here is asked only
when the trial itself reports, so a stop that W&B would issue between two reports of a trial (the
threshold moved because other runs reported) is issued at that trial's next report. Apart from
that timing, decisions are W&B's: the state the rule sees at each report is W&B's snapshot.
"""

from __future__ import annotations

import bisect
import math
import sys
from collections.abc import Mapping, Sequence

from stages.spec import Goal, Hyperband
from stages.stopping import StopDecision
from stages.trials import signed

# W&B builds 100 bands from min_iter; beyond any real run length they never matter.
_WANDB_MIN_ITER_BANDS = 100


def hyperband_rungs(hb: Hyperband, max_epochs: int | None = None) -> list[int]:
    """The iterations at which W&B's hyperband compares runs, ascending, deduplicated.

    ``max_epochs`` (the stage's budget) drops rungs a trial can never reach.

    >>> hyperband_rungs(Hyperband(min_iter=3, eta=3), max_epochs=30)
    [3, 9, 27]
    >>> hyperband_rungs(Hyperband(max_iter=27, s=2, eta=3))
    [3, 9]
    """
    if hb.min_iter is not None:
        bands = [int(hb.min_iter * hb.eta**k) for k in range(_WANDB_MIN_ITER_BANDS)]
        # Without a budget only the first band is meaningful to show.
        bands = bands[:1] if max_epochs is None else [b for b in bands if b <= max_epochs]
    elif hb.max_iter is not None:
        s = hb.s if hb.s is not None else 0
        bands = [int(hb.max_iter / hb.eta**k) for k in range(1, s + 1)]
        if max_epochs is not None:
            bands = [b for b in bands if b <= max_epochs]
    else:
        raise ValueError("hyperband needs min_iter or max_iter")
    return sorted({b for b in bands if b >= 1})


def wandb_bands(hb: Hyperband) -> list[int]:
    """Every band W&B compares at (no budget cut), ascending; W&B's error when there is none.

    >>> wandb_bands(Hyperband(max_iter=5, s=2, eta=2))
    [1, 2]
    >>> wandb_bands(Hyperband(min_iter=2, eta=2))[:5]
    [2, 4, 8, 16, 32]
    """
    if not hb.eta > 1:
        raise ValueError(f"hyperband needs eta > 1, but got {hb.eta=}")
    bands = hyperband_rungs(hb, max_epochs=sys.maxsize)
    if not bands:
        raise ValueError(
            f"hyperband has no band: max_iter / eta**k < 1 for every k <= s ({hb=}); "
            "increase s or max_iter, decrease eta, or use min_iter"
        )
    return bands


def threshold_index(n: int, eta: float) -> int:
    """W&B's index into the ``n`` band values sorted best first: ``int((1.0 / eta) * n)``.

    >>> [threshold_index(n, 3) for n in range(1, 8)]
    [0, 0, 1, 1, 1, 2, 2]
    """
    return int((1.0 / eta) * n)


def band_threshold(ascending: Sequence[float], eta: float) -> float:
    """The threshold of one band from its values sorted ascending, higher being better.

    W&B sorts lower-is-better values ascending; in our higher-is-better convention that list is
    the reverse of ``ascending``, so W&B's index ``i`` is ``ascending[n - 1 - i]``.

    >>> band_threshold([1.0, 2.0, 3.0], eta=3)  # index 1 of [3, 2, 1]: two of three survive
    2.0
    >>> band_threshold([1.0, 2.0, 3.0, 4.0], eta=2)  # index 2 of [4, 3, 2, 1]
    2.0
    >>> band_threshold([5.0], eta=3)  # a band with a single run: its own value
    5.0
    """
    if not ascending:
        raise ValueError("a band threshold needs at least one value, but got none")
    return ascending[len(ascending) - 1 - threshold_index(len(ascending), eta)]


def last_passed_band(bands: Sequence[int], n_values: int) -> int | None:
    """The largest band ``b <= n_values`` (bands ascending), None before the first band.

    >>> last_passed_band([3, 9, 27], 2), last_passed_band([3, 9, 27], 9)
    (None, 9)
    """
    i = bisect.bisect_right(bands, n_values)
    return bands[i - 1] if i else None


def _finite_signed(values: Sequence[float], goal: Goal) -> list[float]:
    return [signed(float(v), goal) for v in values if math.isfinite(v)]


def wandb_hyperband_thresholds(
    histories: Mapping[str, Sequence[float]], bands: Sequence[int], eta: float, goal: Goal
) -> dict[int, float]:
    """W&B's threshold at each band, in natural units, for a snapshot of run histories.

    Bands that no run has reached are absent (W&B's threshold there is infinite: it stops no one).

    >>> h = {"a": [10, 9], "b": [10, 10], "c": [10, 8, 8], "d": [10, 7, 7], "e": [10, 6, 6]}
    >>> wandb_hyperband_thresholds(h, [1, 2], eta=2, goal="minimize")
    {1: 10.0, 2: 8.0}
    """
    cleaned = [_finite_signed(h, goal) for h in histories.values()]
    out: dict[int, float] = {}
    for band in sorted(set(bands)):
        at_band = sorted(h[band - 1] for h in cleaned if len(h) >= band)
        if at_band:
            out[band] = signed(band_threshold(at_band, eta), goal)
    return out


class HyperbandStopper:
    """W&B's hyperband as a :class:`stages.stopping.StoppingRule` (semantics: module docstring).

    ``max_epochs`` only trims :attr:`rungs` for display: decisions use all of W&B's bands, which
    a trial within its budget never tells apart.
    """

    def __init__(self, hb: Hyperband, goal: Goal, max_epochs: int | None = None) -> None:
        self.hb = hb
        self.goal: Goal = goal
        self.bands = wandb_bands(hb)
        self.rungs = hyperband_rungs(hb, max_epochs) if max_epochs is not None else self.bands
        self._band_set = set(self.bands)
        # Everything below is in the higher-is-better convention (signed at the boundary).
        self._histories: dict[str, list[float]] = {}
        self._best: dict[str, float] = {}
        self._at_band: dict[int, list[float]] = {b: [] for b in self.bands}  # kept sorted
        self._ended: set[str] = set()  # stopped or completed: never asked about again

    def on_result(self, trial_id: str, iteration: int, value: float) -> StopDecision | None:
        """Record the value; stop the trial if it is worse than its last passed band's threshold.

        A non-finite value is ignored, as W&B drops it from the history.
        """
        if not math.isfinite(value):
            return None
        history = self._record(trial_id, signed(float(value), self.goal))
        if trial_id in self._ended:
            return None  # a result Ray delivered after the stop: kept in the bands, not judged
        band = last_passed_band(self.bands, len(history))
        if band is None:
            return None
        threshold = band_threshold(self._at_band[band], self.hb.eta)
        compared = history[band - 1] if self.hb.strict else self._best[trial_id]
        if compared >= threshold:  # W&B stops only when strictly worse
            return None
        self._ended.add(trial_id)
        return StopDecision(
            rule="hyperband",
            iteration=iteration,
            rung=band,
            threshold=signed(threshold, self.goal),
            value=signed(compared, self.goal),
            goal=self.goal,
        )

    def on_complete(self, trial_id: str) -> None:
        """A finished run keeps counting in every band it reached (W&B uses all runs)."""
        self._ended.add(trial_id)

    def thresholds(self) -> dict[int, float]:
        """Current threshold per reached band, natural units (for the dashboard)."""
        return {
            b: signed(band_threshold(v, self.hb.eta), self.goal)
            for b, v in self._at_band.items()
            if v
        }

    def _record(self, trial_id: str, value: float) -> list[float]:
        history = self._histories.setdefault(trial_id, [])
        history.append(value)
        self._best[trial_id] = max(self._best.get(trial_id, value), value)
        if len(history) in self._band_set:
            bisect.insort(self._at_band[len(history)], value)
        return history
