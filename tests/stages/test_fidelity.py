"""Fidelity agreement between two stages, and narrowing that depends on it (hand-built trials)."""

from __future__ import annotations

import numpy as np
import pytest

from stages.fidelity import MIN_TRIALS, rank_agreement, shared_trials, trial_share
from stages.narrowing import narrow_for_stage, narrow_space
from stages.space import Categorical, Numeric
from stages.spec import Narrowing
from stages.trials import TrialSummary

SPACE = {"lr": Numeric(1e-4, 1e-2, log=True), "opt": Categorical(("adam", "sgd"))}


def _stage(n: int, seed: int, value) -> list[TrialSummary]:
    """n trials at random configs, valued by ``value(unit lr, opt)``."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        u = float(rng.uniform())
        opt = "adam" if i % 3 else "sgd"
        config = {"lr": 10 ** (-4 + 2 * u), "opt": opt}
        out.append(TrialSummary(id=f"{seed}-{i}", config=config, value=value(u, opt)))
    return out


def peak_low(u: float, opt: str) -> float:  # best at lr 3e-4, adam a little better
    return -((u - 0.25) ** 2) + (0.05 if opt == "adam" else 0.0)


def peak_high(u: float, opt: str) -> float:  # best at lr 3e-3: another landscape
    return -((u - 0.75) ** 2) + (0.05 if opt == "adam" else 0.0)


def test_subsets_with_the_same_landscape_agree() -> None:
    agreement = rank_agreement(SPACE, _stage(40, 1, peak_low), _stage(30, 2, peak_low))
    assert agreement is not None
    assert agreement.rho > 0.8 and (agreement.n, agreement.n_lower) == (30, 40)


def test_subsets_with_moved_optima_disagree() -> None:
    agreement = rank_agreement(SPACE, _stage(40, 1, peak_low), _stage(30, 2, peak_high))
    assert agreement is not None and agreement.rho < 0.0


def test_too_few_trials_or_no_values_measure_nothing() -> None:
    lower = _stage(40, 1, peak_low)
    assert rank_agreement(SPACE, lower, _stage(MIN_TRIALS - 1, 2, peak_low)) is None
    assert rank_agreement(SPACE, lower[: MIN_TRIALS - 1], _stage(30, 2, peak_low)) is None
    unvalued = [TrialSummary(id=i, config=t.config, value=None) for i, t in enumerate(lower)]
    assert rank_agreement(SPACE, lower, unvalued) is None
    constant = [TrialSummary(id=i, config=t.config, value=1.0) for i, t in enumerate(lower)]
    assert rank_agreement(SPACE, lower, constant) is None


def test_disagreeing_stages_keep_the_full_space_and_say_why() -> None:
    earlier, source = _stage(40, 1, peak_low), _stage(30, 2, peak_high)
    out = narrow_for_stage(SPACE, source, earlier, Narrowing(), "maximize", ("s2", "s1"))
    assert out.space == SPACE
    assert out.agreement is not None and out.agreement.rho < 0.5
    assert "s2 ranks configs unlike s1" in out.notes["lr"]
    assert "below min_agreement 0.5" in out.notes["lr"]
    assert out.summary == (
        f"full space, warm-started: s2 ranks configs unlike s1 ({out.agreement.describe()}, "
        "below min_agreement 0.5)"
    )


def test_agreeing_stages_narrow_as_configured() -> None:
    earlier, source = _stage(40, 1, peak_low), _stage(30, 2, peak_low)
    out = narrow_for_stage(SPACE, source, earlier, Narrowing(), "maximize")
    assert out.agreement is not None and out.agreement.rho >= 0.5
    assert out.space == narrow_space(SPACE, source, Narrowing(), "maximize").space
    assert out.space["lr"] != SPACE["lr"]
    assert out.summary.startswith("narrowed from the source stage (lr")


@pytest.mark.parametrize(
    ("narrowing", "earlier"),
    [(Narrowing(top=0.2, margin=0.0, min_agreement=None), True), (Narrowing(top=0.2), False)],
    ids=["check off", "no earlier stage"],
)
def test_without_a_check_the_source_is_narrowed(narrowing: Narrowing, earlier: bool) -> None:
    source = _stage(30, 2, peak_high)
    before = _stage(40, 1, peak_low) if earlier else []
    out = narrow_for_stage(SPACE, source, before, narrowing, "maximize")
    assert out.agreement is None
    assert out.space == narrow_space(SPACE, source, narrowing, "maximize").space != SPACE


def test_too_few_trials_narrow_as_configured_and_say_so() -> None:
    earlier, source = _stage(40, 1, peak_low), _stage(MIN_TRIALS - 1, 2, peak_high)
    out = narrow_for_stage(SPACE, source, earlier, Narrowing(top=0.2), "maximize", ("s2", "s1"))
    assert out.agreement is None
    assert out.space == narrow_space(SPACE, source, Narrowing(top=0.2), "maximize").space
    assert out.notes["lr"].endswith(
        f"; agreement with s1 not measured (fewer than {MIN_TRIALS} trials with a value on a side, or no spread)"
    )


def test_narrowing_off_keeps_the_full_space_and_its_summary_says_so() -> None:
    source, earlier = _stage(30, 2, peak_low), _stage(40, 1, peak_low)
    out = narrow_for_stage(SPACE, source, earlier, Narrowing(enabled=False), "maximize", ("b", "a"))
    assert out.space == SPACE and out.agreement is None
    assert out.summary == "full space, warm-started from b (narrowing off)"


@pytest.mark.parametrize(
    ("rho", "share"),
    [(-0.3, 1.0), (0.27, 1.0), (0.5, 1.0), (0.6, 0.8), (0.75, 0.5), (0.9, 0.25), (1.0, 0.25)],
)
def test_trial_share_cuts_a_stage_only_where_the_subsets_agree(rho: float, share: float) -> None:
    assert trial_share(rho) == pytest.approx(share)


def test_shared_trials_rounds_and_keeps_one_trial_per_variant() -> None:
    assert shared_trials({"hyperband": 30, "median": 30}, 0.5) == {"hyperband": 15, "median": 15}
    assert shared_trials({"main": 7, "tiny": 1}, 0.25) == {"main": 2, "tiny": 1}
