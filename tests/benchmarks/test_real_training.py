"""The real-training benchmark's pipeline trials: the simulated executor reads real curves
epoch by epoch (a stopped trial trains no further), one world per repetition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest


def test_pipeline_trials_read_real_curves_epoch_by_epoch() -> None:
    from benchmarks.sample_efficiency.real_training import trial_steps
    from trainers import DataRequest, TrialRequest

    class Cache:
        def __init__(self) -> None:
            self.asked: list[tuple] = []

        def get(self, config: Mapping[str, Any], subset: int, epochs: int, seed: int) -> Any:
            self.asked.append((dict(config), subset, epochs, seed))
            return [1.0, 3.0, 2.0]

    cache = Cache()
    request = TrialRequest(
        model="dprnn",
        preset="tiny",
        hparams={"lr": 1e-3},
        data=DataRequest(),
        subset_size=25,
        epochs=3,
        seed=42,
    )
    steps = trial_steps(cache, world=2)(request)
    reports = [next(steps) for _ in range(3)]
    assert [r["si_sdr"] for r in reports] == [1.0, 3.0, 2.0]
    with pytest.raises(StopIteration) as end:
        next(steps)
    assert end.value.value.best_metric == 3.0 and end.value.value.best_epoch == 2
    assert cache.asked == [({"lr": 1e-3}, 25, 3, 42 + 1000 * 2)]  # the world offsets the seed
