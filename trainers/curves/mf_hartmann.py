"""``mf-hartmann6``: the augmented Hartmann-6 multi-fidelity function as a trainer.

The function is BoTorch's ``AugmentedHartmann`` (Balandat et al. 2020; the multi-fidelity
Hartmann-6 of Kandasamy et al. 2017 used by mf-prior-bench), implemented from its formula::

    H(x, s) = -(alpha_1 - 0.1 (1 - s)) exp(-sum_j A_1j (x_j - P_1j)^2)
              - sum_{i=2..4} alpha_i exp(-sum_j A_ij (x_j - P_ij)^2),   x in [0, 1]^6, s in [0, 1]

with alpha = (1.0, 1.2, 3.0, 3.2), A and P below (P is 1e-4 x BoTorch's integer matrix). Its
minimum is H = -3.32237 at x* = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573), s = 1.

Here the fidelity ``s`` is the subset fraction ``subset_size / FULL_SUBSET`` and the metric is
``neg_hartmann6 = -H`` (goal: **maximize**; optimum 3.32237), so that it reads like a score.
Per epoch ``e`` the trainer reports ``-H(x, s) * (1 - exp(-e / TAU)) + run offset + epoch noise``
(seeded by config, subset and seed), a saturating curve so that early stopping has something to
cut. :func:`true_quality` is the noise-free ``-H(x, 1)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from trainers.api import Reporter, TrialOutcome, TrialRequest

METRIC = "neg_hartmann6"
FULL_SUBSET = 16000
OPTIMUM = 3.32237
OPTIMIZER = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
NAMES = tuple(f"x{i}" for i in range(1, 7))
HPARAMS = frozenset(NAMES)  # the names a sweep may set (trainers.hparams)
TAU = 3.0  # epochs to 63% of the final value
RUN_SD, EPOCH_SD = 0.05, 0.02

ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
A = np.array(
    [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ]
)
P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def hartmann(x: np.ndarray, s: float) -> float:
    """H(x, s) of the module docstring (to be minimised)."""
    inner = np.sum(A * (np.asarray(x, dtype=float)[None, :] - P) ** 2, axis=1)
    alpha = ALPHA.copy()
    alpha[0] -= 0.1 * (1.0 - s)
    return float(-np.sum(alpha * np.exp(-inner)))


def point(hparams: Mapping[str, Any]) -> np.ndarray:
    """x from ``x1..x6``; a missing or unknown key is an error naming the valid ones."""
    if set(hparams) != set(NAMES):
        raise ValueError(f"mf-hartmann6 needs exactly {list(NAMES)}, but got {sorted(hparams)}")
    return np.array([float(hparams[n]) for n in NAMES])


def fidelity(subset: int) -> float:
    return min(1.0, max(0.0, subset / FULL_SUBSET))


def _rng(x: np.ndarray, subset: int, seed: int) -> np.random.Generator:
    digest = hashlib.blake2b(np.round(x, 12).tobytes(), digest_size=8).digest()
    return np.random.default_rng([int.from_bytes(digest, "little"), int(subset), int(seed) % 2**32])


def curve(hparams: Mapping[str, Any], subset: int, epochs: int, seed: int) -> np.ndarray:
    """The reported ``neg_hartmann6`` after epochs 1..epochs."""
    x = point(hparams)
    rng = _rng(x, subset, seed)
    e = np.arange(1, epochs + 1, dtype=float)
    final = -hartmann(x, fidelity(subset))
    return (
        final * (1.0 - np.exp(-e / TAU))
        + RUN_SD * rng.normal()
        + EPOCH_SD * rng.normal(size=epochs)
    )


def true_quality(hparams: Mapping[str, Any]) -> float:
    """Noise-free ``-H(x, 1)``: the value a recommended config is judged by (higher is better)."""
    return -hartmann(point(hparams), 1.0)


def run_trial(request: TrialRequest, reporter: Reporter) -> TrialOutcome:
    """Report ``neg_hartmann6`` and ``epoch`` once per epoch. No checkpoint: a re-run reports
    the same curve again (see :mod:`trainers.curves`)."""
    values = curve(request.hparams, request.subset_size, request.epochs, request.seed)
    for epoch, value in enumerate(values, start=1):
        reporter.report({METRIC: float(value), "epoch": epoch})
    if not len(values):
        return TrialOutcome("completed", None, None, 0)
    best = int(np.argmax(values))
    return TrialOutcome("completed", float(values[best]), best + 1, request.epochs)
