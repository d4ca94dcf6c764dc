"""sim-seed004: calibration to a researcher's thesis log of DPRNN sweeps on PolSESS (stage
bests 1.75, 3.06, 4.08 dB; Spearman weight decay -0.27, lr factor +0.23, lr +0.12, grad clip
-0.01) and the trainer contract."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from trainers.api import DataRequest, ListReporter, TrialRequest
from trainers.curves import sim_seed004 as sim
from trainers.registry import model_entry

# The thesis log's stage spaces: (lr, weight decay, grad clip, lr factor, lr patience) bounds.
STAGE1 = sim.BOUNDS
STAGE2 = {
    **sim.BOUNDS,
    "lr": (5e-4, 2e-3, True),
    "weight_decay": (1e-6, 5e-5, True),
    "lr_factor": (0.38, 0.95, False),
}
STAGE3 = {**STAGE2, "lr": (7e-4, 2e-3, True), "lr_patience": (2.0, 5.0, False)}


def draw(rng: np.random.Generator, bounds: dict, n: int, world: int) -> list[dict]:
    configs = []
    for _ in range(n):
        c: dict = {"world": world}
        for name, (low, high, log) in bounds.items():
            u = rng.uniform()
            c[name] = (
                math.exp(math.log(low) + u * math.log(high / low))
                if log
                else low + u * (high - low)
            )
        c["lr_patience"] = int(round(c["lr_patience"]))
        configs.append(c)
    return configs


@pytest.mark.parametrize(
    ("bounds", "subset", "runs", "target"),
    [(STAGE1, 2000, 91, 1.75), (STAGE2, 4000, 131, 3.06), (STAGE3, 8000, 110, 4.08)],
)
def test_stage_bests_match_the_thesis_log(
    bounds: dict, subset: int, runs: int, target: float
) -> None:
    """Best of the stage's run count (random configs, fully trained 40 epochs), median over worlds."""
    rng = np.random.default_rng(1)
    bests = [
        max(sim.curve(c, subset, 40, 0).max() for c in draw(rng, bounds, runs, world))
        for world in range(8)
    ]
    assert abs(float(np.median(bests)) - target) < 0.25


def test_validation_of_the_stage3_winner_is_about_4_db() -> None:
    rng = np.random.default_rng(2)
    means = []
    for world in range(8):
        configs = draw(rng, STAGE3, 110, world)
        winner = max(configs, key=lambda c: sim.curve(c, 8000, 40, 0).max())
        means.append(np.mean([sim.curve(winner, 16000, 60, s).max() for s in (42, 123, 456)]))
    assert 3.7 <= float(np.median(means)) <= 4.4


def test_effect_signs_and_sizes_match_the_thesis_log() -> None:
    """Spearman over stage-1 trials: weight decay ~ -0.27, factor ~ +0.23, lr > 0, clip ~ 0."""
    configs = [c for w in range(4) for c in draw(np.random.default_rng(w), STAGE1, 400, w)]
    values = [sim.curve(c, 2000, 40, 0).max() for c in configs]

    def rho(name: str) -> float:
        return float(spearmanr([c[name] for c in configs], values)[0])

    assert -0.40 < rho("weight_decay") < -0.15
    assert 0.12 < rho("lr_factor") < 0.35
    assert 0.0 < rho("lr") < 0.3
    assert abs(rho("grad_clip")) < 0.12
    assert abs(rho("lr_patience")) < 0.1
    assert rho("weight_decay") < -abs(rho("grad_clip"))  # weight decay is the stronger effect


def test_small_subsets_rank_configs_imperfectly() -> None:
    """Noise-free 2K plateau vs true 16K quality: agree in part, clearly not fully."""
    configs = draw(np.random.default_rng(3), STAGE1, 600, world=5)
    small = [sim.mean_curve(sim.check_hparams(c), 2000, 40)[-1] for c in configs]
    full = [sim.true_quality(c) for c in configs]
    mid = [sim.mean_curve(sim.check_hparams(c), 8000, 40)[-1] for c in configs]
    r_small, r_mid = spearmanr(small, full)[0], spearmanr(mid, full)[0]
    assert 0.2 < r_small < 0.8
    assert r_small < r_mid  # the perturbation shrinks as the subset grows


def test_curves_rise_and_saturate() -> None:
    hp = sim.check_hparams({"lr": 1e-3, "weight_decay": 1e-5})
    mean = sim.mean_curve(hp, 2000, 40)
    assert np.all(np.diff(mean) > 0)
    assert mean[9] - mean[0] > 10 * (mean[39] - mean[29])  # most of the gain comes early


def test_seed_spread_is_a_few_tenths_of_a_db() -> None:
    hp = {"lr": 1.2e-3, "weight_decay": 2e-5, "lr_factor": 0.8}
    finals = [sim.curve(hp, 16000, 60, seed).max() for seed in range(40)]
    assert 0.1 <= float(np.std(finals)) <= 0.3


def test_true_quality_is_the_noise_free_full_subset_value() -> None:
    hp = {"lr": 1.2e-3, "weight_decay": 2e-5, "world": 3}
    expected = sim.mean_curve(sim.check_hparams(hp), 16000, 60)[-1]
    assert sim.true_quality(hp) == pytest.approx(expected)
    noisy = [sim.curve(hp, 16000, 60, s)[-1] for s in range(200)]
    assert abs(float(np.mean(noisy)) - sim.true_quality(hp)) < 0.05


def test_worlds_differ_only_in_the_perturbation() -> None:
    hp = {"lr": 1e-3, "weight_decay": 1e-5}
    a, b = sim.true_quality({**hp, "world": 0}), sim.true_quality({**hp, "world": 1})
    assert a != b
    assert abs(a - b) < 1.0


def test_run_trial_reports_every_epoch_deterministically() -> None:
    request = TrialRequest(
        model="sim-seed004",
        preset="tiny",
        hparams={"lr": 1e-3},
        data=DataRequest(),
        subset_size=4000,
        epochs=6,
        seed=5,
    )
    first, second = ListReporter(), ListReporter()
    outcome = sim.run_trial(request, first)
    sim.run_trial(request, second)
    assert [r["epoch"] for r in first.reports] == [1, 2, 3, 4, 5, 6]
    assert first.reports == second.reports
    assert outcome.status == "completed" and outcome.epochs_run == 6
    assert outcome.best_metric == max(r["si_sdr"] for r in first.reports)


def test_registry_entry_and_unknown_keys() -> None:
    entry = model_entry("sim-seed004")
    assert (entry.metric, entry.goal, entry.task) == ("si_sdr", "maximize", "simulation")
    with pytest.raises(ValueError, match="valid"):
        sim.curve({"learning_rate": 1e-3}, 2000, 3, 0)
