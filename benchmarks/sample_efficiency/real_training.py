"""Real training for the sample-efficiency benchmark: the tiny DPRNN on the demo corpus.

The simulated clock reads a trial's values epoch by epoch and may stop it at any report. Training
every trial for all its epochs up front would cost the wall time of the epochs it never uses
(hyperband stops most trials after one or two), so a :class:`LazyCurve` trains in a thread of
its own that is released one epoch at a time: reading ``values[i]`` trains up to epoch ``i + 1``
and no further. Only one thread trains at any moment (strict hand-off), so one benchmark worker
uses one core.

Scale (chosen so that 5 strategies x 3 budgets x 3 repetitions fit in about 1.5 h on 2 CPU
cores): subsets 25 / 50 / 100 / 200 clips of 0.25 s at 8 kHz, 6 search and 6 validation epochs,
the flat sweep with a tenth of the template's 160 trials. The true quality of a config is its
best validation SI-SDR averaged over three fresh seeds on the full 200-clip subset.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

SUBSET_SCALE = 200 / 16000  # the template's 2K/4K/8K/16K -> 25/50/100/200 clips
SEARCH_EPOCHS = 6
VALIDATION_EPOCHS = 6
FLAT_TRIAL_SCALE = 0.1  # the flat sweep gets 16 of the template's 160 trials
SEGMENT_SECONDS = 0.25
VALID_SIZE = 25
TRUE_SEEDS = (7, 8, 9)
# The sweep YAML's dataset block: the demo corpus at the scale above
DATASET = {"kind": "demo", "segment_seconds": SEGMENT_SECONDS, "valid_size": VALID_SIZE}
log = logging.getLogger("rungs.benchmarks")
DIVERGED = -50.0  # the value a diverged run "reports" for the epochs it did not reach


class _Stop(Exception):
    """Raised inside an abandoned training thread to end it."""


class _SteppedReporter:
    """Hands each epoch's SI-SDR to the reader, then waits until the next epoch is wanted."""

    def __init__(self) -> None:
        self.values: queue.Queue[float | None] = queue.Queue()
        self.go: queue.Queue[bool] = queue.Queue()

    def report(self, metrics: Mapping[str, float], checkpoint_dir: Any = None) -> None:
        self.values.put(float(metrics.get("si_sdr", math.nan)))
        if not self.go.get():
            raise _Stop


class LazyCurve:
    """The SI-SDR after each of ``epochs`` epochs of one training run, trained on demand."""

    def __init__(
        self,
        config: Mapping[str, Any],
        subset: int,
        epochs: int,
        seed: int,
        train: Callable[[Any, Any], Any] | None = None,
    ) -> None:
        self.request = _request(config, subset, epochs, seed)
        self.train = train  # run_trial unless a test passes a stand-in
        self.epochs = epochs
        self.values: list[float] = []
        self.reporter = _SteppedReporter()
        self.thread: threading.Thread | None = None
        self.finished = False

    def __len__(self) -> int:
        return self.epochs

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            stop = index.indices(self.epochs)[1]
            self._train_until(stop)
            return np.asarray(self.values[: self.epochs], dtype=float)[index]
        position = index % self.epochs if index < 0 else index
        self._train_until(position + 1)
        return self.values[position]

    def _train_until(self, epochs: int) -> None:
        while len(self.values) < epochs and not self.finished:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, daemon=True)
                self.thread.start()
            else:
                self.reporter.go.put(True)
            value = self.reporter.values.get()
            if value is None:  # the run ended (diverged or early-stopped) before ``epochs``
                self.finished = True
                break
            self.values.append(DIVERGED if math.isnan(value) else value)
        while len(self.values) < epochs:
            self.values.append(DIVERGED)

    def _run(self) -> None:
        from trainers import run_trial

        try:
            (self.train or run_trial)(self.request, self.reporter)
        except _Stop:
            return
        except Exception as exc:  # a crashed trial reads as diverged from here on, as in Rungs
            log.warning("trial %s crashed: %r", self.request.hparams, exc)
        finally:
            self.reporter.values.put(None)

    def close(self) -> None:
        """End the training thread if it is waiting for another epoch."""
        if self.thread is not None and self.thread.is_alive():
            self.reporter.go.put(False)
            self.thread.join()


def _request(config: Mapping[str, Any], subset: int, epochs: int, seed: int) -> Any:
    from trainers import DataRequest, TrialRequest

    return TrialRequest(
        model="dprnn",
        preset="tiny",
        hparams=dict(config),
        data=DataRequest(kind="demo", segment_seconds=SEGMENT_SECONDS, valid_size=VALID_SIZE),
        subset_size=subset,
        epochs=epochs,
        seed=seed,
        device="cpu",
    )


class CurveCache:
    """One :class:`LazyCurve` per (config, subset, epochs, seed): a config seen again (a
    validation seed that a search trial used, a true-quality seed) is not trained twice."""

    def __init__(self) -> None:
        self.curves: dict[tuple[Any, ...], LazyCurve] = {}

    def get(self, config: Mapping[str, Any], subset: int, epochs: int, seed: int) -> LazyCurve:
        key = (tuple(sorted(config.items())), subset, epochs, seed)
        if key not in self.curves:
            self.curves[key] = LazyCurve(config, subset, epochs, seed)
        return self.curves[key]

    def true_quality(self, config: Mapping[str, Any], full: int, world: int) -> float:
        runs = [
            float(np.max(self.get(config, full, VALIDATION_EPOCHS, s + 1000 * world)[:]))
            for s in TRUE_SEEDS
        ]
        return float(np.mean(runs))

    def close(self) -> None:
        """End every waiting thread (a task's trials are never read again after it ends)."""
        for curve in self.curves.values():
            curve.close()


def trial_steps(cache: CurveCache, world: int) -> Callable[[Any], Any]:
    """The simulated executor's trainer for the pipeline's trials: each epoch is trained when
    the clock reads it (a stopped trial trains no further), through the same cache as the
    other strategies' trials."""

    def steps(request: Any) -> Any:
        from trainers import TrialOutcome

        curve = cache.get(
            request.hparams, request.subset_size, request.epochs, request.seed + 1000 * world
        )
        values: list[float] = []
        for epoch in range(1, len(curve) + 1):
            values.append(float(curve[epoch - 1]))
            yield {"si_sdr": values[-1], "epoch": epoch}
        best = int(np.argmax(values))
        return TrialOutcome("completed", values[best], best + 1, request.epochs)

    return steps


def prepare_corpus() -> None:
    """Synthesise the demo corpus once in the main process, before worker processes start (the
    corpus builder's own process pool cannot start inside a pool worker)."""
    from trainers.data.datasets import build_separation_data

    request = _request({}, round(16000 * SUBSET_SCALE), 1, 0)
    build_separation_data(request.data, request.subset_size, 0)
