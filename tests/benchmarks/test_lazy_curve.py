"""LazyCurve (benchmarks/sample_efficiency/real_training.py) with a stand-in trainer: a trial is
trained only as far as the clock reads its curve."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from benchmarks.sample_efficiency.real_training import DIVERGED, LazyCurve


class FakeTrainer:
    """Stands in for run_trial: reports ``values`` one per epoch, counting the epochs trained."""

    def __init__(self, values: list[float]) -> None:
        self.values, self.trained = values, 0

    def __call__(self, request: Any, reporter: Any) -> None:
        for value in self.values[: request.epochs]:
            self.trained += 1
            reporter.report({"si_sdr": value})


def curve(values: list[float], epochs: int = 4) -> tuple[LazyCurve, FakeTrainer]:
    fake = FakeTrainer(values)
    config: Mapping[str, Any] = {"lr": 1e-3}
    return LazyCurve(config, subset=25, epochs=epochs, seed=0, train=fake), fake


def test_reading_an_epoch_trains_up_to_it_and_no_further() -> None:
    lazy, fake = curve([1.0, 2.0, 3.0, 4.0])
    assert fake.trained == 0 and len(lazy) == 4
    assert lazy[0] == 1.0 and fake.trained == 1
    assert lazy[1] == 2.0 and fake.trained == 2
    assert list(lazy[:2]) == [1.0, 2.0] and fake.trained == 2  # already trained: no new epoch
    assert float(np.max(lazy[:3])) == 3.0 and fake.trained == 3
    lazy.close()


def test_a_stopped_trial_ends_its_thread_when_closed() -> None:
    lazy, fake = curve([1.0, 2.0, 3.0, 4.0])
    assert lazy[0] == 1.0
    assert lazy.thread is not None and lazy.thread.is_alive()  # waiting for the next epoch
    lazy.close()
    assert not lazy.thread.is_alive() and fake.trained == 1


def test_a_run_that_ends_early_reads_as_diverged_afterwards() -> None:
    lazy, _ = curve([1.0, math.nan])  # reports NaN, then stops (as a diverged run does)
    assert list(lazy[:]) == [1.0, DIVERGED, DIVERGED, DIVERGED]
    assert lazy.thread is not None
    lazy.thread.join(timeout=10)
    assert not lazy.thread.is_alive()


def test_a_crash_in_training_does_not_hang_the_reader() -> None:
    def broken(request: Any, reporter: Any) -> None:
        reporter.report({"si_sdr": 0.5})
        raise RuntimeError("out of memory")

    lazy = LazyCurve({"lr": 1e-3}, subset=25, epochs=3, seed=0, train=broken)
    done = threading.Event()
    values: list[float] = []

    def read() -> None:
        values.extend(lazy[:])
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(timeout=10), "the reader hung on a crashed trial"
    assert values == [0.5, DIVERGED, DIVERGED]


@pytest.mark.parametrize("index", [-1, 3])
def test_negative_and_last_indices(index: int) -> None:
    lazy, _ = curve([1.0, 2.0, 3.0, 4.0])
    assert lazy[index] == 4.0
    lazy.close()
