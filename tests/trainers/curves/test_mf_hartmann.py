"""mf-hartmann6: BoTorch's augmented Hartmann-6, fidelity = subset fraction."""

from __future__ import annotations

import numpy as np
import pytest

from trainers.api import DataRequest, ListReporter, TrialRequest
from trainers.curves import mf_hartmann as mfh
from trainers.registry import model_entry

X_STAR = dict(zip(mfh.NAMES, mfh.OPTIMIZER, strict=True))


def test_published_optimum_at_full_fidelity() -> None:
    assert mfh.hartmann(np.array(mfh.OPTIMIZER), 1.0) == pytest.approx(-3.32237, abs=1e-4)
    assert mfh.true_quality(X_STAR) == pytest.approx(mfh.OPTIMUM, abs=1e-4)


def test_no_random_point_beats_the_optimum() -> None:
    points = np.random.default_rng(0).uniform(size=(3000, 6))
    assert min(mfh.hartmann(x, 1.0) for x in points) > -3.32237


def test_lower_fidelity_only_weakens_the_first_term() -> None:
    """alpha_1 - 0.1 (1 - s): at s = 0 exactly 0.1 x exp(-inner_1) is lost."""
    x = np.array(mfh.OPTIMIZER)
    inner_1 = float(np.sum(mfh.A[0] * (x - mfh.P[0]) ** 2))
    gap = mfh.hartmann(x, 0.0) - mfh.hartmann(x, 1.0)
    assert gap == pytest.approx(0.1 * np.exp(-inner_1))
    assert mfh.hartmann(x, 0.125) > mfh.hartmann(x, 0.5) > mfh.hartmann(x, 1.0)


def test_fidelity_is_the_subset_fraction() -> None:
    assert mfh.fidelity(2000) == 0.125
    assert mfh.fidelity(16000) == 1.0
    assert mfh.fidelity(32000) == 1.0


def test_curve_saturates_at_minus_h() -> None:
    values = mfh.curve(X_STAR, 16000, 40, seed=0)
    assert values[0] < values[-1]
    assert abs(float(np.mean(values[-10:])) - mfh.OPTIMUM) < 0.2


def test_run_trial_contract_and_registry() -> None:
    request = TrialRequest(
        model="mf-hartmann6",
        preset="tiny",
        hparams=X_STAR,
        data=DataRequest(),
        subset_size=4000,
        epochs=5,
        seed=1,
    )
    reporter = ListReporter()
    outcome = mfh.run_trial(request, reporter)
    assert [r["epoch"] for r in reporter.reports] == [1, 2, 3, 4, 5]
    assert outcome.best_metric == max(r["neg_hartmann6"] for r in reporter.reports)
    entry = model_entry("mf-hartmann6")
    assert (entry.metric, entry.goal) == ("neg_hartmann6", "maximize")
    with pytest.raises(ValueError, match="x1"):
        mfh.curve({"x1": 0.5}, 2000, 3, 0)
