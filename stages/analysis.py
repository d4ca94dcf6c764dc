"""Sweep analysis: per-stage tables, hyperparameter correlations and importances, findings.

Correlations use the goal-signed metric (:func:`stages.trials.signed`), so a positive rho always
means "larger values go with better results", for maximize and minimize goals alike. Optuna
(for importances) is imported inside the functions that use it: it is heavy, and every other
analysis needs only numpy, scipy and pandas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from stages.space import Categorical, Numeric, Space
from stages.spec import Goal
from stages.states import TrialState
from stages.trials import TrialSummary, signed

# status column -> the trial state it counts
_STATUS_COLUMNS = {
    "finished": TrialState.COMPLETED,
    "stopped": TrialState.EARLY_STOPPED,
    "diverged": TrialState.DIVERGED,
    "failed": TrialState.FAILED,
}


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _finite_values(trials: Sequence[TrialSummary]) -> list[float]:
    return [v for t in trials if (v := _finite(t.value)) is not None]


def _stage_row(label: str, trials: Sequence[TrialSummary], goal: Goal) -> dict[str, Any]:
    n = len(trials)
    row: dict[str, Any] = {"stage": label, "trials": n}
    for column, state in _STATUS_COLUMNS.items():
        count = sum(t.status == state for t in trials)
        row[column] = count
        row[f"{column}_pct"] = 100.0 * count / n if n else math.nan
    values = _finite_values(trials)
    pick = max if goal == "maximize" else min
    row["best"] = pick(values) if values else math.nan
    row["mean"] = float(np.mean(values)) if values else math.nan
    return row


def stage_summary(
    trials_by_stage: Mapping[str, Sequence[TrialSummary]],
    goal: Goal,
    compute_seconds: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """One row per key, in the mapping's order: trials; finished/stopped/diverged/failed counts
    and percentages; best and mean of the metric over every trial that reported one;
    compute_seconds (NaN when not given); improvement of ``best`` over the previous stage.

    A key ``"stage3/median"`` is the ``median`` variant of ``stage3``: improvement compares with
    the best of all rows of the previous *stage*, so both variants of stage 3 compare with stage
    2. Improvement is goal-aware: positive means better (a lower loss for ``minimize``).
    """
    rows = [_stage_row(label, trials, goal) for label, trials in trials_by_stage.items()]
    seconds = compute_seconds or {}
    best_of_stage: dict[str, float] = {}
    for row in rows:
        stage = row["stage"].split("/")[0]
        prev = best_of_stage.get(stage, math.nan)
        best_of_stage[stage] = row["best"] if math.isnan(prev) else _better(prev, row["best"], goal)
    stages = list(best_of_stage)
    for row in rows:
        row["compute_seconds"] = float(seconds.get(row["stage"], math.nan))
        index = stages.index(row["stage"].split("/")[0])
        previous = best_of_stage[stages[index - 1]] if index else math.nan
        row["improvement"] = signed(row["best"] - previous, goal)
    return pd.DataFrame(rows)


def _better(a: float, b: float, goal: Goal) -> float:
    if math.isnan(b):
        return a
    return a if signed(a, goal) >= signed(b, goal) else b


def _numeric_row(name: str, param: Numeric, pairs: list[tuple[Any, float]]) -> dict[str, Any]:
    numbers = [(x, y) for x, y in pairs if isinstance(x, (int, float)) and not isinstance(x, bool)]
    row = {"parameter": name, "kind": "numeric", "test": "spearman", "n": len(numbers)}
    xs = [param.to_unit(float(x)) for x, _ in numbers]  # own scale (log for log parameters)
    if len(numbers) < 3 or len(set(xs)) < 2:
        return {**row, "statistic": math.nan, "p_value": math.nan, "note": "too few distinct"}
    result = stats.spearmanr(xs, [y for _, y in numbers])
    return {**row, "statistic": float(result.statistic), "p_value": float(result.pvalue)}


def _categorical_row(name: str, pairs: list[tuple[Any, float]]) -> dict[str, Any]:
    groups: dict[str, list[float]] = {}
    for x, y in pairs:
        groups.setdefault(repr(x), []).append(y)
    row = {"parameter": name, "kind": "categorical", "test": "kruskal", "n": len(pairs)}
    samples = [g for g in groups.values() if g]
    if len(samples) < 2 or len({y for _, y in pairs}) < 2:
        return {**row, "statistic": math.nan, "p_value": math.nan, "note": "fewer than 2 groups"}
    result = stats.kruskal(*samples)
    note = "H statistic: no direction"
    return {
        **row,
        "statistic": float(result.statistic),
        "p_value": float(result.pvalue),
        "note": note,
    }


def correlations(trials: Sequence[TrialSummary], space: Space, goal: Goal) -> pd.DataFrame:
    """Per searchable hyperparameter, over trials with a finite value: Spearman rho (numeric, in
    the own scale) or Kruskal-Wallis H (categorical, no sign) against the goal-signed metric.
    Columns: parameter, kind, test, statistic, p_value, n, note. Constants are left out; a test
    that cannot run (under 3 trials, one distinct value) gives NaN with a note."""
    scored = [(t.config, signed(v, goal)) for t in trials if (v := _finite(t.value)) is not None]
    rows = []
    for name, param in space.items():
        pairs = [(c[name], y) for c, y in scored if c.get(name) is not None]
        if isinstance(param, Numeric):
            rows.append(_numeric_row(name, param, pairs))
        elif isinstance(param, Categorical):
            rows.append(_categorical_row(name, pairs))
    columns = ["parameter", "kind", "test", "statistic", "p_value", "n", "note"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["note"] = frame["note"].fillna("")
    return frame


def _distribution(param: Numeric | Categorical, values: list[Any]) -> Any:
    """stages.space -> an Optuna distribution wide enough for every observed value."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(param, Categorical):
        return CategoricalDistribution(tuple(dict.fromkeys([*param.values, *values])))
    numbers = [float(v) for v in values]
    low, high = min([param.low, *numbers]), max([param.high, *numbers])
    if param.integer and all(x.is_integer() for x in numbers):
        return IntDistribution(int(math.floor(low)), int(math.ceil(high)), log=param.log)
    return FloatDistribution(low, high, log=param.log)


def _usable(param: Numeric | Categorical, value: Any) -> bool:
    if isinstance(param, Categorical):
        return value is None or isinstance(value, (bool, int, float, str))
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    return numeric and math.isfinite(value) and (not param.log or value > 0)


def _importance_inputs(
    trials: Sequence[TrialSummary], space: Space
) -> tuple[dict[str, Any], list[TrialSummary]]:
    params = {n: p for n, p in space.items() if isinstance(p, (Numeric, Categorical))}
    # an in-memory study needs valid values: keep trials that have every parameter, usable
    scored = [
        t
        for t in trials
        if t.value is not None
        and math.isfinite(t.value)
        and all(n in t.config and _usable(p, t.config[n]) for n, p in params.items())
    ]
    dists = {n: _distribution(p, [t.config[n] for t in scored]) for n, p in params.items()}
    return dists, scored


def hyperparameter_importance(
    trials: Sequence[TrialSummary], space: Space, goal: Goal
) -> dict[str, float]:
    """Optuna's default importances (PED-ANOVA: deterministic, no scikit-learn, which fANOVA
    needs), summing to 1, most important first, over trials that have a finite value and every
    searchable parameter. Empty with fewer than 2 such trials, no searchable parameter, or a
    metric that never varies. PED-ANOVA asks what sets the goal's best trials apart, so the
    goal matters."""
    import optuna

    dists, scored = _importance_inputs(trials, space)
    if len(scored) < 2 or not dists or len({t.value for t in scored}) < 2:
        return {}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # "A new study created" is noise here
    try:
        study = optuna.create_study(direction=goal)
        for t in scored:
            params = {n: t.config[n] for n in dists}
            study.add_trial(
                optuna.trial.create_trial(params=params, distributions=dists, value=t.value)
            )
        result = optuna.importance.get_param_importances(study)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return {name: float(v) for name, v in result.items() if math.isfinite(v)}


def _performance(metric: str, goal: Goal) -> str:
    return metric if goal == "maximize" else f"performance (lower {metric})"


def _correlation_findings(corr: pd.DataFrame, metric: str, goal: Goal) -> list[str]:
    numeric = corr[(corr["test"] == "spearman") & corr["statistic"].notna()]
    out = []
    for sign, label in ((-1, "negative"), (1, "positive")):
        side = numeric[numeric["statistic"] * sign > 0]
        if len(side):
            row = side.loc[(side["statistic"] * sign).idxmax()]
            out.append(
                f"{row['parameter']} has the strongest {label} correlation with "
                f"{_performance(metric, goal)} (Spearman rho = {row['statistic']:+.2f}, "
                f"p = {row['p_value']:.2g}, n = {row['n']}"
                + ("; not significant at 0.05)." if row["p_value"] >= 0.05 else ").")
            )
    return out


def _stage_findings(table: pd.DataFrame, metric: str) -> list[str]:
    out = []
    for row in table.itertuples(index=False):
        if not math.isnan(row.improvement):
            out.append(
                f"{row.stage} reached a best {metric} of {row.best:.4g} "
                f"({row.improvement:+.3g} over the previous stage; "
                f"{row.finished} of {row.trials} trials finished)."
            )
    return out


def findings(
    table: pd.DataFrame,
    corr: pd.DataFrame,
    importance: Mapping[str, float],
    metric: str,
    goal: Goal,
) -> list[str]:
    """Plain sentences from a :func:`stage_summary` table, a :func:`correlations` frame and
    importances (name -> share, most important first)."""
    out = _stage_findings(table, metric) + _correlation_findings(corr, metric, goal)
    if importance:
        name, share = next(iter(importance.items()))
        out.append(f"{name} is the most important hyperparameter (importance {share:.2f}).")
    return out
