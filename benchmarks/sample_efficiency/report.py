"""Tables and the plot from the experiment's rows (one row per strategy x fraction x rep)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

REPORTED = (0.25, 0.5, 1.0)


def _cell(values: pd.Series) -> str:
    q1, med, q3 = np.percentile(values.astype(float), [25, 50, 75])
    return f"{med:.3f} [{q1:.3f}, {q3:.3f}]"


def quality_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Median [IQR] true quality per benchmark x strategy at 25/50/100% of B_flat."""
    out = []
    for (bench, strategy), group in rows.groupby(["benchmark", "strategy"], sort=False):
        line = {"benchmark": bench, "strategy": strategy, "reps": group["rep"].nunique()}
        for f in REPORTED:
            at = group[np.isclose(group["fraction"], f)]
            line[f"{f:.0%} budget"] = _cell(at["quality"]) if len(at) else "-"
            spent = at["compute_fraction"].median() if len(at) else math.nan
            line[f"spent at {f:.0%}"] = f"{spent:.2f}" if len(at) else "-"
        out.append(line)
    return pd.DataFrame(out)


def needed_budget(group: pd.DataFrame, target: float) -> str:
    """Smallest budget (x B_flat) at which the median quality reaches ``target``, linearly
    interpolated in spent compute between the measured fractions."""
    curve = (
        group.groupby("fraction")
        .agg(spent=("compute_fraction", "median"), quality=("quality", "median"))
        .sort_index()
    )
    previous = None
    for _, point in curve.iterrows():
        if point["quality"] >= target:
            if previous is None:
                return f"<= {point['spent']:.2f}"
            gain = (target - previous["quality"]) / (point["quality"] - previous["quality"])
            return f"{previous['spent'] + gain * (point['spent'] - previous['spent']):.2f}"
        previous = point
    return f"> {curve['spent'].max():.2f}"


def reach_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per strategy: the budget needed to reach the flat sweep's final median quality, and how
    often the validation picked the truly best of its k configs."""
    out = []
    for bench, brows in rows.groupby("benchmark", sort=False):
        final = brows[(brows["strategy"] == "flat") & np.isclose(brows["fraction"], 1.0)]
        target = float(final["quality"].median())
        for strategy, group in brows.groupby("strategy", sort=False):
            picked = group["picked_best"].dropna()
            out.append(
                {
                    "benchmark": bench,
                    "strategy": strategy,
                    "flat final (median)": f"{target:.3f}",
                    "budget to reach it (x B_flat)": needed_budget(group, target),
                    "validation picked truly best": f"{picked.astype(bool).mean():.0%} of {len(picked)}"
                    if len(picked)
                    else "n/a",
                }
            )
    return pd.DataFrame(out)


def to_markdown(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"


def plot(rows: pd.DataFrame, path: Path) -> None:
    """Median true quality vs spent compute (x B_flat), IQR bands; one panel per benchmark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    benches: Sequence[str] = list(dict.fromkeys(rows["benchmark"]))
    fig, axes = plt.subplots(1, len(benches), figsize=(6 * len(benches), 4.5), squeeze=False)
    for ax, bench in zip(axes[0], benches, strict=True):
        for strategy, group in rows[rows["benchmark"] == bench].groupby("strategy", sort=False):
            stats = group.groupby("fraction").agg(
                spent=("compute_fraction", "median"),
                q1=("quality", lambda x: np.percentile(x, 25)),
                med=("quality", "median"),
                q3=("quality", lambda x: np.percentile(x, 75)),
            )
            ax.plot(stats["spent"], stats["med"], marker="o", label=strategy)
            ax.fill_between(stats["spent"], stats["q1"], stats["q3"], alpha=0.15)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("compute spent (x flat sweep's budget, sample-epochs)")
        ax.set_ylabel("true quality of the recommended config")
        ax.set_title(bench)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
