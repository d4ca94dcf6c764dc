"""The benchmarks' objectives: a learning curve per (config, subset, seed) and a true quality.

A :class:`Benchmark` is everything a strategy needs to know about the problem: the search space
(in :mod:`stages.space` terms), the subsets of the progressive pipeline, the full subset and the
epochs. ``curve`` returns the values a trial reports after epochs 1..epochs; ``true_quality``
scores a recommended config (natural units, goal applied by the caller). ``world`` is the
repetition: the simulator draws a fresh landscape per repetition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stages.space import Numeric, Space
from stages.spec import Goal

CurveFn = Callable[[Mapping[str, Any], int, int, int, int], np.ndarray]
QualityFn = Callable[[Mapping[str, Any], int], float]


@dataclass(frozen=True)
class Benchmark:
    name: str
    model: str  # the registry name whose `rungs init` template is the default pipeline
    goal: Goal
    space: Space
    full_subset: int
    subset_scale: float  # template subsets (2000, 4000, 8000, 16000) x this
    search_epochs: int
    validation_epochs: int
    curve: CurveFn
    true_quality: QualityFn
    flat_trial_scale: float = 1.0  # the flat sweep's trials: the template's x this
    close: Callable[[], None] = lambda: None  # release what the curves hold (training threads)
    # False where true_quality trains (real): the "validation picked the truly best of k"
    # diagnostic would cost k more quality evaluations per run, so it is left out
    cheap_truth: bool = True
    # The sweep YAML's ``parameters`` (W&B format) for Rungs' pipeline; ``space`` is the same
    # space for the strategies that are not Rungs'.
    parameters: Mapping[str, Any] = field(default_factory=dict)
    fixed: Callable[[int], dict[str, Any]] = lambda world: {}  # the model's fixed hparams
    dataset: Mapping[str, Any] | None = None  # the sweep YAML's ``dataset`` (None: template's)
    # How the simulated executor trains a trial of world ``w`` (None: the curve trainers)
    steps: Callable[[int], Any] | None = None

    def scaled(self, subset: int) -> int:
        return max(1, round(subset * self.subset_scale))


def seed004_space() -> Space:
    """The `rungs init` template's space: the stage-1 space of a researcher's progressive DPRNN
    sweep on PolSESS (W&B project polsess-thesis-experiments, sweep ocjl0lhr)."""
    return {
        "lr": Numeric(3e-4, 3e-3, log=True, source="log_uniform_values"),
        "weight_decay": Numeric(1e-6, 1e-4, log=True, source="log_uniform_values"),
        "grad_clip": Numeric(0.5, 20.0),
        "lr_factor": Numeric(0.3, 0.95),
        "lr_patience": Numeric(1, 5, integer=True, source="int_uniform"),
    }


SEED004_PARAMETERS: dict[str, Any] = {
    "lr": {"distribution": "log_uniform_values", "min": 3e-4, "max": 3e-3},
    "weight_decay": {"distribution": "log_uniform_values", "min": 1e-6, "max": 1e-4},
    "grad_clip": {"distribution": "uniform", "min": 0.5, "max": 20.0},
    "lr_factor": {"distribution": "uniform", "min": 0.3, "max": 0.95},
    "lr_patience": {"distribution": "int_uniform", "min": 1, "max": 5},
}


def sim_benchmark() -> Benchmark:
    from trainers.curves import sim_seed004 as sim

    def curve(
        config: Mapping[str, Any], subset: int, epochs: int, seed: int, world: int
    ) -> np.ndarray:
        return sim.curve({**config, "world": world}, subset, epochs, seed)

    def quality(config: Mapping[str, Any], world: int) -> float:
        return sim.true_quality({**config, "world": world})

    return Benchmark(
        "sim",
        "sim-seed004",
        "maximize",
        seed004_space(),
        sim.FULL_SUBSET,
        1.0,
        40,
        sim.VALIDATION_EPOCHS,
        curve,
        quality,
        parameters=SEED004_PARAMETERS,
        fixed=lambda world: {"world": world},  # the simulator's landscape of this repetition
    )


def hartmann_benchmark() -> Benchmark:
    from trainers.curves import mf_hartmann as mfh

    def curve(
        config: Mapping[str, Any], subset: int, epochs: int, seed: int, world: int
    ) -> np.ndarray:
        # The function has no landscape to redraw: a repetition differs by its noise seeds.
        return mfh.curve(config, subset, epochs, seed + 7919 * world)

    def quality(config: Mapping[str, Any], world: int) -> float:
        return mfh.true_quality(config)

    space: Space = {name: Numeric(0.0, 1.0) for name in mfh.NAMES}
    parameters = {n: {"distribution": "uniform", "min": 0.0, "max": 1.0} for n in mfh.NAMES}
    return Benchmark(
        "hartmann",
        "mf-hartmann6",
        "maximize",
        space,
        mfh.FULL_SUBSET,
        1.0,
        40,
        60,
        curve,
        quality,
        parameters=parameters,
    )


def real_benchmark() -> Benchmark:
    """Real training of the tiny DPRNN (:mod:`.real_training`; about 1.5 h for a full run)."""
    import torch

    from benchmarks.sample_efficiency import real_training as real

    torch.set_num_threads(1)  # one benchmark worker process = one core
    cache = real.CurveCache()
    full = round(16000 * real.SUBSET_SCALE)

    def curve(config: Mapping[str, Any], subset: int, epochs: int, seed: int, world: int) -> Any:
        return cache.get(config, subset, epochs, seed + 1000 * world)

    def quality(config: Mapping[str, Any], world: int) -> float:
        return cache.true_quality(config, full, world)

    return Benchmark(
        "real",
        "dprnn",
        "maximize",
        seed004_space(),
        full,
        real.SUBSET_SCALE,
        real.SEARCH_EPOCHS,
        real.VALIDATION_EPOCHS,
        curve,
        quality,
        flat_trial_scale=real.FLAT_TRIAL_SCALE,
        close=cache.close,
        cheap_truth=False,
        parameters=SEED004_PARAMETERS,
        dataset=real.DATASET,
        steps=lambda world: real.trial_steps(cache, world),
    )


BENCHMARKS: dict[str, Callable[[], Benchmark]] = {
    "sim": sim_benchmark,
    "hartmann": hartmann_benchmark,
    "real": real_benchmark,
}


def make_benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]()
    except KeyError:
        raise KeyError(f"unknown benchmark {name!r}; valid: {', '.join(BENCHMARKS)}") from None
