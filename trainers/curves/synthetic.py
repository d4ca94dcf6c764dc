"""The ``synthetic`` model: a cheap, deterministic learning curve for tests and benchmarks.

``score(hparams, subset, epoch, seed) = asymptote(hparams, subset) * (1 - exp(-epoch / tau)) +
noise`` where the asymptote peaks at ``lr = 1e-3`` (in log space), low ``weight_decay``, moderate
``grad_clip`` and gentle ``lr_factor``, and grows with the data subset (as real models do when the
pipeline moves from 2K to 16K samples). ``tau`` shrinks with the learning rate, so a high-lr trial
looks good early and plateaus lower: exactly the trap early stopping must handle. The noise is
seeded by (seed, epoch, config), so a rerun reports identical values - what resume relies on.

Fault injection (for tests): ``crash_at_epoch`` raises, ``nan_at_epoch`` diverges,
``sleep_per_epoch`` makes a trial take wall time, ``oom_above`` runs out of memory (a
``MemoryError`` before the first epoch) when ``batch_size x hidden`` exceeds it.

Checkpoints: with ``checkpoint_dir`` every epoch is saved (``checkpoint.json``: each epoch's
report and the id of the process that trained it) before it is reported; with ``resume_from``
the saved epochs are reported again and training continues at the next epoch, as the shared
loop does (:mod:`trainers.api`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainers.api import CHECKPOINT_FILES, Reporter, TrialOutcome, TrialRequest

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
    "oom_above": 0,
}
HPARAMS = frozenset(_DEFAULTS)  # the names a sweep may set (trainers.hparams)
CHECKPOINT_FILE = CHECKPOINT_FILES["curve"]


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


def load_epochs(directory: str | Path | None) -> list[dict[str, Any]]:
    """The epochs saved in a checkpoint directory (``{"metrics": ..., "pid": ...}`` each)."""
    if not directory:
        return []
    return list(json.loads((Path(directory) / CHECKPOINT_FILE).read_text())["epochs"])


def _save_epochs(directory: str | None, epochs: list[dict[str, Any]]) -> Path | None:
    """Write the checkpoint atomically (a kill mid-write leaves the previous one)."""
    if not directory:
        return None
    path = Path(directory) / CHECKPOINT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"epochs": epochs}))
    os.replace(tmp, path)
    return path.parent


def _check_memory(hp: Mapping[str, Any]) -> None:
    size = int(hp["batch_size"]) * int(hp["hidden"])
    if hp["oom_above"] and size > int(hp["oom_above"]):
        raise MemoryError(
            f"synthetic out of memory: batch_size x hidden = {size} > oom_above = {hp['oom_above']}"
        )


def run_trial(request: TrialRequest, reporter: Reporter) -> TrialOutcome:
    """Report ``score`` once per epoch; see the module docstring for faults and checkpoints."""
    hp = _check_keys(request.hparams)
    _check_memory(hp)
    epochs = load_epochs(request.resume_from)
    best: float | None = None
    best_epoch: int | None = None
    for saved in epochs:  # what the checkpoint covers, reported again
        value = float(saved["metrics"][METRIC])
        if best is None or value > best:
            best, best_epoch = value, int(saved["metrics"]["epoch"])
        reporter.report(saved["metrics"])
    for epoch in range(len(epochs) + 1, request.epochs + 1):
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
        metrics = {METRIC: value, "epoch": epoch, "train_loss": 10.0 - value, "lr": hp["lr"]}
        epochs.append({"metrics": metrics, "pid": os.getpid()})
        reporter.report(metrics, _save_epochs(request.checkpoint_dir, epochs))
    return TrialOutcome("completed", best, best_epoch, request.epochs)
