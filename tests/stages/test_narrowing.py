"""Narrowing a stage's space from an earlier stage's top trials (a researcher's progressive DPRNN
sweep on PolSESS narrowed stage 1 -> 2 by hand: LR [3e-4, 3e-3] -> [5e-4, 2e-3])."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import stages.narrowing
from stages.narrowing import narrow_space, rank_trials, top_configs, top_size
from stages.space import Categorical, Constant, Numeric, Space
from stages.spec import Narrowing
from stages.trials import TrialSummary

STAGE1: Space = {
    "lr": Numeric(3e-4, 3e-3, log=True, source="log_uniform_values"),
    "weight_decay": Numeric(1e-6, 1e-4, log=True, source="log_uniform_values"),
    "grad_clip": Numeric(0.5, 20.0),
    "lr_factor": Numeric(0.3, 0.95),
    "lr_patience": Numeric(1, 5, integer=True, source="int_uniform"),
    "epochs": Constant(20),
}


def seed004_trials() -> list[TrialSummary]:
    """30 stage-1 trials whose best cluster near lr ~ 1.2e-3 with very low weight decay."""
    rng = np.random.default_rng(4)
    trials = []
    for i in range(30):
        lr = float(np.exp(rng.uniform(np.log(3e-4), np.log(3e-3))))
        wd = float(np.exp(rng.uniform(np.log(1e-6), np.log(1e-4))))
        config = {
            "lr": lr,
            "weight_decay": wd,
            "grad_clip": float(rng.uniform(0.5, 20.0)),
            "lr_factor": float(rng.uniform(0.3, 0.95)),
            "lr_patience": int(rng.integers(1, 6)),
            "epochs": 20,
        }
        si_sdr = 1.75 - 1.5 * abs(math.log10(lr / 1.2e-3)) - 0.3 * math.log10(wd / 1e-6)
        status = "completed" if i % 5 else "stopped"  # 24 completed, 6 stopped by hyperband
        trials.append(TrialSummary(id=i, config=config, value=si_sdr, status=status))
    return trials


def test_doctests() -> None:
    result = doctest.testmod(stages.narrowing)
    assert result.attempted > 0 and result.failed == 0


def test_seed004_stage1_to_stage2() -> None:
    trials = seed004_trials()
    narrowed = narrow_space(
        STAGE1, trials, Narrowing(top=0.25, margin=0.1, min_width=0.05), "maximize"
    )
    completed = [t for t in trials if t.status == "completed"]
    top = sorted(completed, key=lambda t: -(t.value or 0.0))[:6]  # ceil(0.25 * 24)
    lr, wd = narrowed.space["lr"], narrowed.space["weight_decay"]
    assert isinstance(lr, Numeric) and isinstance(wd, Numeric)
    assert 3e-4 <= lr.low < lr.high <= 3e-3
    assert all(lr.low <= t.config["lr"] <= lr.high for t in top)
    original = STAGE1["lr"]
    assert isinstance(original, Numeric)
    assert original.to_unit(lr.high) - original.to_unit(lr.low) < 0.5  # in log units
    assert wd.high < 5e-5 and wd.low == 1e-6  # the max drops, the min stays at the bound
    assert lr.log and lr.prior == "uniform" and lr.source == "log_uniform_values"
    assert narrowed.space["epochs"] == Constant(20)
    assert narrowed.notes["lr"].endswith("from top 6 of 24 completed trials")
    assert narrowed.notes["lr"].startswith("[3.0e-4, 3.0e-3] -> [")
    assert narrowed.describe()[0].startswith("lr: ")


def test_log_scale_is_symmetric_in_log_space() -> None:
    space: Space = {"lr": Numeric(1e-5, 1e-1, log=True)}
    trials = [TrialSummary(i, {"lr": v}, 1.0) for i, v in enumerate([1e-4, 1e-2])]
    lr = narrow_space(space, trials, Narrowing(top=1.0, margin=0.1), "maximize").space["lr"]
    assert isinstance(lr, Numeric)
    assert math.log10(lr.low) == pytest.approx(-4.2)
    assert math.log10(lr.high) == pytest.approx(-1.8)


def test_clamped_and_shifted_at_the_bounds() -> None:
    space: Space = {"f": Numeric(0.3, 0.95)}
    trials = [TrialSummary(i, {"f": v}, 1.0) for i, v in enumerate([0.95, 0.94])]
    f = narrow_space(space, trials, Narrowing(top=1.0, min_width=0.2), "maximize").space["f"]
    assert isinstance(f, Numeric)
    assert f.high == 0.95
    assert f.low == pytest.approx(0.95 - 0.2 * 0.65)  # kept its minimal width by shifting down


@pytest.mark.parametrize("min_width", [0.05, 0.0])
def test_never_zero_width_when_top_trials_share_a_value(min_width: float) -> None:
    space: Space = {"clip": Numeric(0.5, 20.0)}
    trials = [TrialSummary(i, {"clip": 2.0}, float(i)) for i in range(5)]
    clip = narrow_space(space, trials, Narrowing(min_width=min_width), "maximize").space["clip"]
    assert isinstance(clip, Numeric)
    assert clip.low < 2.0 < clip.high
    if min_width:
        assert clip.high - clip.low == pytest.approx(0.05 * 19.5)


def test_integers_snap_outward_and_stay_integers() -> None:
    space: Space = {"p": Numeric(1, 5, integer=True)}
    trials = [TrialSummary(i, {"p": v}, 1.0) for i, v in enumerate([3, 3, 4])]
    p = narrow_space(space, trials, Narrowing(top=1.0), "maximize").space["p"]
    assert p == Numeric(2, 5, integer=True)  # [2.9, 4.1] snapped outward
    assert isinstance(p, Numeric) and isinstance(p.low, int) and isinstance(p.high, int)
    same = [TrialSummary(i, {"p": 3}, 1.0) for i in range(3)]
    point = Narrowing(top=1.0, margin=0.0, min_width=0.0)
    assert narrow_space(space, same, point, "maximize").space["p"] == Numeric(2, 4, integer=True)


def test_quantised_values_stay_inside() -> None:
    space: Space = {"d": Numeric(0.0, 1.0, q=0.1)}
    trials = [TrialSummary(i, {"d": 0.3}, 1.0) for i in range(3)]
    d = narrow_space(space, trials, Narrowing(margin=0.0, min_width=0.0), "maximize").space["d"]
    assert isinstance(d, Numeric) and d.low <= 0.3 < d.high and d.q == 0.1


def _optimizer_trials() -> list[TrialSummary]:
    used = ["adamw", "adamw", "sgd", "adamw", "sgd", "adamw", "adamw", "sgd"]
    return [TrialSummary(i, {"opt": o}, 10.0 - i) for i, o in enumerate(used)]


def test_categorical_drops_unused_values_but_keeps_min_categories() -> None:
    space: Space = {"opt": Categorical(("adam", "adamw", "sgd", "rmsprop"))}
    trials = _optimizer_trials()
    two = narrow_space(space, trials, Narrowing(top_count=2), "maximize")
    assert two.space["opt"] == Categorical(("adamw", "sgd"))  # sgd: the next best trial's
    assert (
        two.notes["opt"]
        == "{adam, adamw, sgd, rmsprop} -> {adamw, sgd} from top 2 of 8 completed trials"
    )
    three = narrow_space(space, trials, Narrowing(top_count=2, min_categories=3), "maximize")
    assert three.space["opt"] == Categorical(("adam", "adamw", "sgd"))  # then original order
    one = narrow_space(space, trials, Narrowing(top_count=3, min_categories=1), "maximize")
    assert one.space["opt"] == Categorical(("adamw", "sgd"))


def test_minimize_takes_the_lowest_values() -> None:
    space: Space = {"x": Numeric(0.0, 100.0)}
    trials = [TrialSummary(i, {"x": float(10 * i)}, loss) for i, loss in enumerate(range(10))]
    x = narrow_space(
        space, trials, Narrowing(top_count=2, margin=0.0, min_width=0.05), "minimize"
    ).space["x"]
    assert isinstance(x, Numeric) and x.low == 0.0 and x.high == pytest.approx(10.0)


def test_missing_parameters_and_constants_are_unchanged() -> None:
    space: Space = {"x": Numeric(0.0, 1.0), "dropout": Numeric(0.0, 0.5), "c": Constant("a")}
    trials = [TrialSummary(i, {"x": 0.5}, 1.0) for i in range(3)]
    narrowed = narrow_space(space, trials, Narrowing(), "maximize")
    assert narrowed.space["dropout"] is space["dropout"] and narrowed.space["c"] is space["c"]
    assert narrowed.notes["dropout"] == "unchanged: no top trial's config holds it"


def test_falls_back_to_all_trials_with_a_value_when_too_few_completed() -> None:
    space: Space = {"x": Numeric(0.0, 100.0)}
    trials = (
        [TrialSummary(0, {"x": 90.0}, 1.0, status="completed")]
        + [TrialSummary(i, {"x": float(i)}, 5.0 - i, status="stopped") for i in range(1, 5)]
        + [TrialSummary(9, {"x": 50.0}, None, status="failed")]
    )
    narrowed = narrow_space(
        space, trials, Narrowing(top=0.5, margin=0.0, min_width=0.0), "maximize"
    )
    assert narrowed.notes["x"].endswith("from top 3 of 5 trials with a value (1 completed)")
    x = narrowed.space["x"]
    assert isinstance(x, Numeric) and (x.low, x.high) == (1.0, pytest.approx(3.0))


def test_no_trial_with_a_value_is_a_described_error() -> None:
    with pytest.raises(ValueError, match="none of the 2 trials has a finite value"):
        narrow_space(
            STAGE1,
            [TrialSummary(0, {}, None), TrialSummary(1, {}, math.nan)],
            Narrowing(),
            "maximize",
        )


def test_top_size_rules() -> None:
    assert top_size(31, Narrowing(top=0.25)) == 8
    assert top_size(10, Narrowing(top=0.01)) == 2  # at least 2 when available
    assert top_size(1, Narrowing(top=0.01)) == 1
    assert top_size(10, Narrowing(top_count=4)) == 4
    assert top_size(3, Narrowing(top_count=9)) == 3


def test_top_configs_prefers_completed_then_best() -> None:
    trials = [
        TrialSummary(0, {"x": 0}, 9.0, status="stopped"),
        TrialSummary(1, {"x": 1}, 1.0),
        TrialSummary(2, {"x": 2}, 3.0),
        TrialSummary(3, {"x": 3}, None),
    ]
    assert top_configs(trials, "maximize", 2) == [{"x": 2}, {"x": 1}]
    assert top_configs(trials, "minimize", 5) == [{"x": 1}, {"x": 2}, {"x": 0}]
    assert [t.id for t in rank_trials(trials, "maximize")] == [0, 2, 1]


@st.composite
def numeric_case(draw):
    log, integer = draw(st.booleans()), draw(st.booleans())
    if integer:
        low = draw(st.integers(1, 50))
        high = draw(st.integers(low + 1, low + 60))
        param = Numeric(low, high, log=log, integer=True)
        values = st.integers(low, high)
    else:
        low = draw(st.floats(1e-6, 10.0)) if log else draw(st.floats(-100.0, 100.0))
        high = low * draw(st.floats(1.001, 1e4)) if log else low + draw(st.floats(1e-3, 200.0))
        param = Numeric(low, high, log=log)
        values = st.floats(low, high)
    return param, draw(st.lists(values, min_size=1, max_size=12))


@settings(max_examples=300, deadline=None)
@given(
    case=numeric_case(),
    scores=st.lists(st.floats(-10, 10), min_size=12, max_size=12),
    top=st.floats(0.01, 1.0),
    margin=st.floats(0.0, 1.0),
    min_width=st.floats(0.0, 1.5),
)
def test_narrowed_range_is_inside_and_holds_every_top_value(case, scores, top, margin, min_width):
    param, values = case
    assume(param.low < param.high)
    trials = [
        TrialSummary(i, {"p": v}, s) for i, (v, s) in enumerate(zip(values, scores, strict=False))
    ]
    narrowing = Narrowing(top=top, margin=margin, min_width=min_width)
    got = narrow_space({"p": param}, trials, narrowing, "maximize").space["p"]
    assert isinstance(got, Numeric)
    k = top_size(len(trials), narrowing)
    tops = [t.config["p"] for t in rank_trials(trials, "maximize")[:k]]
    assert param.low <= got.low < got.high <= param.high
    assert all(got.low <= v <= got.high for v in tops)


def test_narrowing_off_keeps_the_full_space_and_says_so() -> None:
    space = {"lr": Numeric(1e-4, 1e-2, log=True), "opt": Categorical(("adam", "sgd"))}
    trials = [
        TrialSummary(id=i, config={"lr": 1e-3 + i * 1e-5, "opt": "adam"}, value=float(i))
        for i in range(6)
    ]
    narrowed = narrow_space(space, trials, Narrowing(enabled=False), "maximize")
    assert narrowed.space == space
    assert set(narrowed.notes) == {"lr", "opt"}
    assert all("narrowing is off" in note for note in narrowed.notes.values())
    # the same trials with narrowing on do narrow, so the flag is what kept the space
    assert narrow_space(space, trials, Narrowing(), "maximize").space != space
