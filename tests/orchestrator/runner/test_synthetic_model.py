"""The synthetic model: deterministic, shaped like a learning curve, with injectable faults."""

from __future__ import annotations

import pytest

from trainers import ListReporter, TrialRequest, run_trial
from trainers.api import DataRequest
from trainers.curves.synthetic import asymptote, score


def _request(epochs: int = 5, seed: int = 0, **hp: object) -> TrialRequest:
    return TrialRequest(
        "synthetic", "tiny", dict(hp), DataRequest(), subset_size=2000, epochs=epochs, seed=seed
    )


def test_curve_is_deterministic_rises_and_peaks_near_lr_1e_3():
    hp = {"lr": 1e-3}
    assert score(hp, 2000, 3, seed=1) == score(hp, 2000, 3, seed=1)
    assert score(hp, 2000, 3, seed=1) != score(hp, 2000, 3, seed=2)
    assert score({**hp, "noise": 0.0}, 2000, 10, 0) > score({**hp, "noise": 0.0}, 2000, 2, 0)
    best = asymptote({**_defaults(), "lr": 1e-3}, 2000)
    assert best > asymptote({**_defaults(), "lr": 1e-2}, 2000)
    assert best > asymptote({**_defaults(), "lr": 1e-4}, 2000)
    assert asymptote(_defaults(), 16000) > asymptote(_defaults(), 2000)  # more data helps


def _defaults() -> dict:
    from trainers.curves.synthetic import _DEFAULTS

    return dict(_DEFAULTS)


def test_run_trial_reports_every_epoch_and_completes():
    reporter = ListReporter()
    outcome = run_trial(_request(epochs=4, lr=2e-3), reporter)
    assert [r["epoch"] for r in reporter.reports] == [1, 2, 3, 4]
    assert outcome.status == "completed" and outcome.epochs_run == 4
    assert outcome.best_metric == max(r["score"] for r in reporter.reports)


def test_faults_crash_and_diverge():
    with pytest.raises(RuntimeError, match="synthetic crash at epoch 2"):
        run_trial(_request(crash_at_epoch=2), ListReporter())
    reporter = ListReporter()
    outcome = run_trial(_request(nan_at_epoch=3), reporter)
    assert outcome.status == "diverged" and "NaN at epoch 3" in (outcome.reason or "")
    assert len(reporter.reports) == 2


def test_unknown_hyperparameter_lists_valid_names():
    with pytest.raises(ValueError, match="unknown hyperparameters \\['hiden'\\]; valid: .*hidden"):
        run_trial(_request(hiden=3), ListReporter())
