import math

import pytest
from scipy import stats

from stages.analysis import correlations, hyperparameter_importance, stage_summary
from stages.space import Categorical, Constant, Numeric
from stages.trials import TrialSummary


def t(value, status="completed", **config):
    return TrialSummary(id=0, config=config, value=value, status=status)


def test_stage_summary_counts_percentages_best_and_improvement():
    by_stage = {
        "stage1": [t(1.0), t(1.75), t(0.5, "early_stopped"), t(None, "failed")],
        "stage2": [t(3.06), t(2.0, "diverged")],
        "stage3/hyperband": [t(4.08), t(3.0, "early_stopped")],
        "stage3/median": [t(3.74)],
    }
    seconds = {"stage1": 3600.0, "stage2": 7200.0}
    frame = stage_summary(by_stage, "maximize", seconds).set_index("stage")
    s1 = frame.loc["stage1"]
    assert (s1.trials, s1.finished, s1.stopped, s1.failed) == (4, 2, 1, 1)
    assert s1.finished_pct == 50.0 and s1.best == 1.75
    assert s1["mean"] == pytest.approx((1.0 + 1.75 + 0.5) / 3)
    assert math.isnan(s1.improvement) and s1.compute_seconds == 3600.0
    assert frame.loc["stage2", "improvement"] == pytest.approx(1.31)
    # both stage-3 variants compare with stage 2, not with each other
    assert frame.loc["stage3/hyperband", "improvement"] == pytest.approx(1.02)
    assert frame.loc["stage3/median", "improvement"] == pytest.approx(0.68)
    assert math.isnan(frame.loc["stage3/median", "compute_seconds"])


def test_stage_summary_minimize_improvement_is_positive_when_lower():
    frame = stage_summary({"a": [t(0.5), t(0.9)], "b": [t(0.3)]}, "minimize")
    assert frame["best"].tolist() == [0.5, 0.3]
    assert frame["improvement"].iloc[1] == pytest.approx(0.2)


SPACE = {
    "lr": Numeric(1e-4, 1e-2, log=True),
    "wd": Numeric(0.0, 1.0),
    "opt": Categorical(("adam", "sgd")),
    "flat": Numeric(0.0, 1.0),
    "batch": Constant(8),
}


def trials():
    lrs = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 2e-3]
    wds = [0.9, 0.1, 0.5, 0.3, 0.2, 0.7]
    values = [1.0, 2.0, 3.0, 3.5, 4.0, 2.5]
    opts = ["adam", "sgd", "adam", "sgd", "adam", "sgd"]
    rows = zip(lrs, wds, values, opts, strict=True)
    out = [t(v, lr=lr, wd=wd, opt=o, flat=0.5) for lr, wd, v, o in rows]
    return [*out, t(None, "failed", lr=1e-3, wd=0.1, opt="adam")]


def test_correlations_match_scipy_and_follow_the_goal():
    frame = correlations(trials(), SPACE, "maximize").set_index("parameter")
    data = trials()[:-1]
    expected = stats.spearmanr([x.config["wd"] for x in data], [x.value for x in data])
    assert frame.loc["wd", "statistic"] == pytest.approx(expected.statistic)
    assert frame.loc["wd", "p_value"] == pytest.approx(expected.pvalue)
    assert frame.loc["lr", "statistic"] == pytest.approx(1.0 - 6 * 2 / (6 * 35))  # one swap
    assert frame.loc["lr", "n"] == 6
    flipped = [TrialSummary(0, x.config, -x.value) for x in data]
    minimised = correlations(flipped, SPACE, "minimize").set_index("parameter")
    assert minimised.loc["wd", "statistic"] == pytest.approx(expected.statistic)


def test_categorical_uses_kruskal_and_degenerate_columns_get_notes():
    frame = correlations(trials(), SPACE, "maximize").set_index("parameter")
    data = trials()[:-1]
    groups = [[x.value for x in data if x.config["opt"] == o] for o in ("adam", "sgd")]
    assert frame.loc["opt", "statistic"] == pytest.approx(stats.kruskal(*groups).statistic)
    assert frame.loc["opt", "test"] == "kruskal"
    assert math.isnan(frame.loc["flat", "statistic"]) and frame.loc["flat", "note"]
    assert "batch" not in frame.index


def test_findings_name_the_strongest_correlations_goal_aware():
    from stages.analysis import findings

    table = stage_summary({"s1": [t(1.0)], "s2": [t(2.0), t(None, "failed")]}, "minimize")
    corr = correlations(trials(), SPACE, "minimize")
    lines = findings(table, corr, {"lr": 0.8, "wd": 0.2}, "loss", "minimize")
    assert lines[0].startswith("s2 reached a best loss of 2 (-1 over the previous stage")
    assert any(
        x.startswith("wd has the strongest positive correlation with performance (lower loss)")
        for x in lines
    )
    assert any("strongest negative" in x and "not significant" not in x for x in lines)
    assert lines[-1] == "lr is the most important hyperparameter (importance 0.80)."


IMPORTANCE_SPACE = {
    "lr": Numeric(1e-4, 1e-2, log=True),
    "opt": Categorical(("adam", "sgd")),
    "batch": Constant(4),
}


def test_importance_sums_to_one_and_handles_few_trials():
    ranked = [
        TrialSummary(i, {"lr": 10 ** (-4 + i / 5), "opt": "adam" if i % 2 else "sgd"}, float(i))
        for i in range(12)
    ]
    importance = hyperparameter_importance(ranked, IMPORTANCE_SPACE, "maximize")
    assert set(importance) == {"lr", "opt"}
    assert sum(importance.values()) == pytest.approx(1.0)
    assert next(iter(importance)) == "lr"  # the metric follows lr exactly
    assert hyperparameter_importance(ranked[:1], IMPORTANCE_SPACE, "maximize") == {}
    assert (
        hyperparameter_importance(ranked, IMPORTANCE_SPACE, "maximize") == importance
    )  # deterministic
    same = [TrialSummary(t.id, t.config, 1.0) for t in ranked]
    assert hyperparameter_importance(same, IMPORTANCE_SPACE, "maximize") == {}
