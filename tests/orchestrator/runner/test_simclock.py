"""Whole-stage behaviour of the stopping rules on recorded curves, on a simulated clock."""

from __future__ import annotations

import numpy as np
import pytest

from stages.curves import refeed, replay_curves
from stages.hyperband import HyperbandStopper
from stages.median import MedianStopper
from stages.spec import Hyperband, MedianStopping
from stages.stopping import StopDecision


def learning_curves(seed: int = 0, trials: int = 27, epochs: int = 27) -> dict[str, list[float]]:
    """Saturating SI-SDR-like curves: different ceilings and speeds, a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, epochs + 1)
    curves = {}
    for i in range(trials):
        ceiling, speed = rng.uniform(1.0, 4.0), rng.uniform(2.0, 4.0)
        noise = rng.normal(0.0, 0.05, epochs)
        curves[f"t{i:02d}"] = [float(v) for v in ceiling * (1 - np.exp(-t / speed)) + noise]
    return curves


def hyperband() -> HyperbandStopper:
    return HyperbandStopper(Hyperband(min_iter=3, eta=3), "maximize", max_epochs=27)


def median() -> MedianStopper:
    return MedianStopper(MedianStopping(grace=3, min_samples=3), "maximize")


class StopAt:
    """A scripted rule: stop ``trial`` at ``iteration``."""

    def __init__(self, trial: str, iteration: int) -> None:
        self.trial, self.iteration = trial, iteration
        self.completed: list[str] = []

    def on_result(self, trial_id: str, iteration: int, value: float) -> StopDecision | None:
        if (trial_id, iteration) == (self.trial, self.iteration):
            return StopDecision("median", iteration, None, 0.0, value, "maximize")
        return None

    def on_complete(self, trial_id: str) -> None:
        self.completed.append(trial_id)


def test_clock_runs_workers_in_parallel_and_a_stop_frees_the_slot() -> None:
    curves = {"a": [1.0, 1.0, 1.0], "b": [2.0, 2.0], "c": [3.0, 3.0]}
    rule = StopAt("a", 1)
    result = replay_curves(curves, rule, workers=2)
    order = [(trial, it) for trial, it, _ in result.feed]
    # a and b start at 0; a is stopped at t=1, so c starts then and reports alongside b's 2nd
    assert order == [("a", 1), ("b", 1), ("b", 2), ("c", 1), ("c", 2)]
    assert result.stopped == {"a": 1} and result.completed == ["b", "c"] == rule.completed
    assert result.iterations == 5 and result.end_time == 3.0


def test_clock_staggers_the_first_starts() -> None:
    curves = {"a": [1.0, 1.0], "b": [2.0, 2.0]}
    result = replay_curves(curves, None, workers=2, stagger=1.5)
    assert [(t, i) for t, i, _ in result.feed] == [("a", 1), ("a", 2), ("b", 1), ("b", 2)]
    assert result.end_time == 3.5
    with pytest.raises(ValueError, match="workers >= 1"):
        replay_curves(curves, None, workers=0)


def test_hyperband_spends_far_fewer_iterations_and_keeps_the_best_curve() -> None:
    curves = learning_curves()
    best = max(curves, key=lambda k: curves[k][-1])
    full = replay_curves(curves, None, workers=4, stagger=0.5)
    cut = replay_curves(curves, hyperband(), workers=4, stagger=0.5)
    assert full.iterations == 27 * 27 and full.finished_fraction == 1.0
    assert cut.iterations < 0.5 * full.iterations
    assert best in cut.completed
    assert all(d.rung in (3, 9, 27) for d in cut.decisions.values())


def test_median_stopping_is_more_conservative_than_hyperband() -> None:
    # seed 004: stage 3 finished 36% of runs with hyperband and 98% with median stopping
    curves = learning_curves()
    hb = replay_curves(curves, hyperband(), workers=4, stagger=0.5)
    med = replay_curves(curves, median(), workers=4, stagger=0.5)
    assert len(med.stopped) < len(hb.stopped)
    assert med.finished_fraction > hb.finished_fraction
    assert med.iterations > hb.iterations


@pytest.mark.parametrize("make_rule", [hyperband, median])
def test_replaying_stored_results_rebuilds_identical_decisions(make_rule) -> None:
    result = replay_curves(learning_curves(seed=3), make_rule(), workers=3, stagger=0.25)
    assert result.decisions  # the rule did stop something, so the comparison means something
    assert refeed(result.feed, make_rule()) == result.decisions
