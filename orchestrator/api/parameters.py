"""Per-stage hyperparameter effects for the dashboard's "correlation and importance" chart.

The report's own correlations and importances cover only the selection's stages (values from
different subset sizes are not comparable). The dashboard shows the stage the user picked, so
this module computes the same two numbers per search stage, each within its own stage.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from stages.analysis import correlations, hyperparameter_importance
from stages.space import Space
from stages.spec import Goal
from stages.trials import TrialSummary


def parameter_rows(corr: pd.DataFrame, importance: Mapping[str, float]) -> list[dict[str, Any]]:
    """``[{"name", "rho", "importance", "test", "p_value", "n"}]``, one per row of ``corr``.

    ``rho`` is the goal-signed Spearman rho (positive: larger values perform better) and None
    for categorical parameters, whose Kruskal-Wallis H has no direction; ``importance`` is
    None when Optuna could not score the stage (fewer than two finished trials)."""
    rows = []
    for rec in corr.to_dict("records"):
        rho = rec["statistic"] if rec["test"] == "spearman" else math.nan
        rows.append(
            {
                "name": str(rec["parameter"]),
                "rho": _finite(rho),
                "importance": _finite(importance.get(str(rec["parameter"]), math.nan)),
                "test": str(rec["test"]),
                "p_value": _finite(rec["p_value"]),
                "n": int(rec["n"]),
            }
        )
    return rows


def stage_parameters(
    by_stage: Mapping[str, Sequence[TrialSummary]], space: Space, goal: Goal
) -> dict[str, list[dict[str, Any]]]:
    """Stage name -> :func:`parameter_rows` within that stage, for every search stage with
    trials (validation repeats a few configs over seeds: nothing to correlate there)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, trials in by_stage.items():
        if not trials or trials[0].extra.get("kind", "search") != "search":
            continue
        corr = correlations(trials, space, goal)
        out[name] = parameter_rows(corr, hyperparameter_importance(trials, space, goal))
    return out


def _finite(value: Any) -> float | None:
    """JSON has no NaN: missing statistics become None."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
