"""The ``synthetic`` model: a cheap, deterministic learning curve for tests and benchmarks.

``score(hparams, subset, epoch, seed) = asymptote(hparams, subset) * (1 - exp(-epoch / tau)) +
noise`` where the asymptote peaks at ``lr = 1e-3`` (in log space), low ``weight_decay``, moderate
``grad_clip`` and gentle ``lr_factor``, and grows with the data subset (as real models do when the
pipeline moves from 2K to 16K samples). ``tau`` shrinks with the learning rate, so a high-lr trial
looks good early and plateaus lower: exactly the trap early stopping must handle. The noise is
seeded by (seed, epoch, config), so a rerun reports identical values - what resume relies on.

Fault injection (for tests): ``crash_at_epoch`` raises, ``nan_at_epoch`` diverges,
``sleep_per_epoch`` makes a trial take wall time.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Mapping
from typing import Any

from trainers.api import Reporter, TrialOutcome, TrialRequest

METRIC = "score"
_DEFAULTS: dict[str, Any] = {
    "lr": 1e-3,
    "weight_decay": 1e-5,
    "grad_clip": 5.0,
    "lr_factor": 0.7,
    "lr_patience": 3,
    "batch_size": 4,
    "dropout": 0.1,
    "hidden": 64,
    "layers": 2,
    "optimizer": "adam",
    "noise": 0.02,
    "sleep_per_epoch": 0.0,
    "crash_at_epoch": 0,
    "nan_at_epoch": 0,
}


def _check_keys(hparams: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(hparams) - set(_DEFAULTS))
    if unknown:
        valid = ", ".join(sorted(_DEFAULTS))
        raise ValueError(f"synthetic model: unknown hyperparameters {unknown}; valid: {valid}")
    return {**_DEFAULTS, **hparams}


def asymptote(hp: Mapping[str, Any], subset: int) -> float:
    """The plateau a configuration reaches; maximal (about 10 at 16K samples) at the optimum."""
    lr_gap = math.log10(max(float(hp["lr"]), 1e-12)) + 3.0  # 0 at lr = 1e-3
    wd_pen = max(0.0, math.log10(max(float(hp["weight_decay"]), 1e-12)) + 5.0) * 0.6
    clip_pen = abs(math.log10(max(float(hp["grad_clip"]), 1e-6) / 3.0)) * 0.5
    factor_pen = abs(float(hp["lr_factor"]) - 0.8) * 1.5
    opt_pen = 0.0 if hp["optimizer"] == "adam" else 0.5
    quality = 8.0 - 3.0 * lr_gap**2 - wd_pen - clip_pen - factor_pen - opt_pen
    data_gain = 1.0 + 0.25 * math.log2(max(subset, 1) / 2000)  # more data, higher plateau
    return quality * max(data_gain, 0.1)


def tau(hp: Mapping[str, Any]) -> float:
    """Epochs to reach 63% of the plateau: faster with a larger learning rate."""
    return max(0.5, 4.0 * (1e-3 / max(float(hp["lr"]), 1e-12)) ** 0.5)


def _noise(hp: Mapping[str, Any], epoch: int, seed: int) -> float:
    blob = json.dumps({"hp": hp, "epoch": epoch, "seed": seed}, sort_keys=True, default=str)
    rng = random.Random(hashlib.sha256(blob.encode()).hexdigest())
    return rng.gauss(0.0, float(hp["noise"]))


def score(hparams: Mapping[str, Any], subset: int, epoch: int, seed: int) -> float:
    """The metric reported after ``epoch`` (1-based)."""
    hp = _check_keys(hparams)
    curve = asymptote(hp, subset) * (1.0 - math.exp(-epoch / tau(hp)))
    return curve + _noise(hp, epoch, seed)


def run_trial(request: TrialRequest, reporter: Reporter) -> TrialOutcome:
    """Report ``score`` once per epoch; see the module docstring for the faults."""
    hp = _check_keys(request.hparams)
    best: float | None = None
    best_epoch: int | None = None
    for epoch in range(1, request.epochs + 1):
        if hp["sleep_per_epoch"]:
            time.sleep(float(hp["sleep_per_epoch"]))
        if epoch == int(hp["crash_at_epoch"]):
            raise RuntimeError(f"synthetic crash at epoch {epoch} (crash_at_epoch={epoch})")
        if epoch == int(hp["nan_at_epoch"]):
            reason = f"train_loss became NaN at epoch {epoch} (nan_at_epoch={epoch})"
            return TrialOutcome("diverged", best, best_epoch, epoch - 1, reason=reason)
        value = score(hp, request.subset_size, epoch, request.seed)
        if best is None or value > best:
            best, best_epoch = value, epoch
        reporter.report({METRIC: value, "epoch": epoch, "train_loss": 10.0 - value, "lr": hp["lr"]})
    return TrialOutcome("completed", best, best_epoch, request.epochs)
