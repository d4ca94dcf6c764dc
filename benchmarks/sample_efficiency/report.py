"""Tables and the plot from the experiment's rows (one row per strategy x fraction x rep)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

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


def paired_reach(group: pd.DataFrame, flat_final: pd.Series) -> str:
    """Median over repetitions of the budget (x B_flat, compute actually spent) at which this
    repetition's quality first reaches the flat sweep's final quality *in the same world*;
    a repetition that never does counts as more than the largest budget."""
    needed = []
    for rep, runs in group.groupby("rep"):
        if rep not in flat_final.index:
            continue
        reached = runs.sort_values("fraction")
        reached = reached[reached["quality"] >= flat_final[rep] - 1e-12]
        needed.append(float(reached["compute_fraction"].iloc[0]) if len(reached) else math.inf)
    if not needed:
        return "-"
    median = float(np.median(needed))
    return f"{median:.2f}" if math.isfinite(median) else "> 1"


def paired_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Each strategy minus the flat sweep at the same budget in the same world (repetition):
    median [IQR] of the difference, and how often it was at least as good. Worlds differ by
    more than strategies do, so the paired difference is the sharper comparison."""
    out = []
    for bench, brows in rows.groupby("benchmark", sort=False):
        flat = brows[brows["strategy"] == "flat"].set_index(["fraction", "rep"])["quality"]
        for strategy, group in brows.groupby("strategy", sort=False):
            if strategy == "flat":
                continue
            line = {"benchmark": bench, "strategy": strategy}
            for f in REPORTED:
                at = group[np.isclose(group["fraction"], f)]
                keys = [(fr, r) for fr, r in zip(at["fraction"], at["rep"], strict=True)]
                known = [k in flat.index for k in keys]
                diff = (
                    at["quality"].to_numpy()[known]
                    - flat.loc[[k for k in keys if k in flat.index]].to_numpy()
                )
                if len(diff):
                    q1, med, q3 = np.percentile(diff, [25, 50, 75])
                    line[f"{f:.0%}: minus flat"] = f"{med:+.3f} [{q1:+.3f}, {q3:+.3f}]"
                    line[f"{f:.0%}: >= flat"] = f"{np.mean(diff >= 0):.0%}"
                else:
                    line[f"{f:.0%}: minus flat"] = line[f"{f:.0%}: >= flat"] = "-"
            out.append(line)
    return pd.DataFrame(out)


def default_differences(
    rows: pd.DataFrame, default: str = "progressive"
) -> Iterator[tuple[str, str, float, np.ndarray]]:
    """(benchmark, strategy, budget fraction, differences): the default's quality minus each
    other strategy's at the same budget in the same world, for every reported budget."""
    for bench, brows in rows.groupby("benchmark", sort=False):
        ref = brows[brows["strategy"] == default].set_index(["fraction", "rep"])["quality"]
        for strategy, group in brows.groupby("strategy", sort=False):
            if strategy == default:
                continue
            for f in REPORTED:
                at = group[np.isclose(group["fraction"], f)].set_index(["fraction", "rep"])
                common = at.index.intersection(ref.index)
                diff = ref.loc[common].to_numpy() - at.loc[common, "quality"].to_numpy()
                yield str(bench), str(strategy), f, diff


def versus_table(rows: pd.DataFrame, default: str = "progressive") -> pd.DataFrame:
    """The default minus every other strategy at the same budget in the same world: the median
    of the difference and in how many worlds the default was at least as good."""
    lines: dict[tuple[str, str], dict[str, Any]] = {}
    for bench, strategy, f, diff in default_differences(rows, default):
        line = lines.setdefault((bench, strategy), {"benchmark": bench, "default minus": strategy})
        line[f"{f:.0%}"] = (
            f"{np.median(diff):+.3f} ({int(np.sum(diff >= 0))}/{len(diff)})" if len(diff) else "-"
        )
    return pd.DataFrame(list(lines.values()))


# (z_0.975 + z_0.8)^2: worlds needed for a paired difference of one standard deviation to be
# found at 5% (two-sided) with 80% power; n = this x (sd / mean)^2
POWER_FACTOR = 7.85


def separation_table(rows: pd.DataFrame, default: str = "progressive") -> pd.DataFrame:
    """Is the default's difference to each strategy beyond noise? Per budget: the mean paired
    difference (default minus strategy, same world) with its 95% t-interval, whether the
    interval excludes 0, and how many worlds would separate a difference of this size (80%
    power) given the spread measured here."""
    from scipy import stats

    out = []
    for bench, strategy, f, diff in default_differences(rows, default):
        if len(diff) < 2:
            continue
        mean, sd = float(np.mean(diff)), float(np.std(diff, ddof=1))
        half = float(stats.t.ppf(0.975, len(diff) - 1)) * sd / math.sqrt(len(diff))
        needed = math.ceil(POWER_FACTOR * (sd / mean) ** 2) if mean else math.inf
        out.append(
            {
                "benchmark": bench,
                "default minus": strategy,
                "budget": f"{f:.0%}",
                "worlds": len(diff),
                "mean [95% CI]": f"{mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}]",
                "beyond noise": "yes" if abs(mean) > half else "no",
                "worlds to separate it": needed if math.isfinite(needed) else "-",
            }
        )
    return pd.DataFrame(out)


def validation_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per pipeline strategy and budget: how often validation picked the truly best of its k,
    and what validation cost (median share of the run's compute; runs a race saved)."""
    out = []
    pipelines = rows[rows["picked_best"].notna()]
    for (bench, strategy), group in pipelines.groupby(["benchmark", "strategy"], sort=False):
        for f in REPORTED:
            at = group[np.isclose(group["fraction"], f)]
            if not len(at):
                continue
            saved = pd.to_numeric(at.get("validation_runs_saved"), errors="coerce").dropna()
            share = at["validation_compute"].astype(float) / at["compute"].astype(float)
            out.append(
                {
                    "benchmark": bench,
                    "strategy": strategy,
                    "budget": f"{f:.0%}",
                    "k (median)": f"{at['k'].median():g}",
                    "picked truly best": f"{at['picked_best'].astype(bool).mean():.0%} of {len(at)}",
                    "validation share of compute": f"{share.median():.2f}",
                    "runs saved by the race (median, total)": (
                        f"{saved.median():g}, {saved.sum():g}" if len(saved) else "-"
                    ),
                }
            )
    return pd.DataFrame(out)


def flat_final(rows: pd.DataFrame) -> pd.Series:
    """The flat sweep's quality at its largest budget (100%, but in --quick), per world."""
    flat = rows[rows["strategy"] == "flat"]
    return flat[np.isclose(flat["fraction"], flat["fraction"].max())].set_index("rep")["quality"]


def reach_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per strategy: the budget needed to reach the flat sweep's final median quality, and how
    often the validation picked the truly best of its k configs."""
    out = []
    for bench, brows in rows.groupby("benchmark", sort=False):
        per_world = flat_final(brows)
        target = float(per_world.median())
        for strategy, group in brows.groupby("strategy", sort=False):
            picked = group["picked_best"].dropna()
            out.append(
                {
                    "benchmark": bench,
                    "strategy": strategy,
                    "flat final (median)": f"{target:.3f}",
                    "budget to reach it (x B_flat)": needed_budget(group, target),
                    "same, per world (median)": paired_reach(group, per_world),
                    "validation picked truly best": f"{picked.astype(bool).mean():.0%} of {len(picked)}"
                    if len(picked)
                    else "n/a",
                }
            )
    return pd.DataFrame(out)


def search_only_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows as if validation were free: a pipeline's search compute alone (its validation
    left out) and the true quality of its search's rank-1 pick; the other strategies, which
    validate nothing, as they are. Pipelines whose truth is too dear to score the rank-1 pick
    (real training) are left out."""
    pipelines = rows["validation_compute"].notna() & rows["rank1_quality"].notna()
    out = rows[pipelines | rows["validation_compute"].isna()].copy()
    piped = pipelines[out.index]
    flat_budget = out["budget"] / out["fraction"]
    search = out["compute"] - out["validation_compute"].fillna(0.0)
    out["compute_fraction"] = search / flat_budget
    out.loc[piped, "quality"] = out.loc[piped, "rank1_quality"]
    return out


def search_only_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Budget to reach the flat sweep's final quality (as reported, with its validation) when
    validation is free: how far the search alone is from the target (``search_only_rows``)."""
    free = search_only_rows(rows)
    out = []
    for bench, brows in rows.groupby("benchmark", sort=False):
        target = float(flat_final(brows).median())
        for strategy, group in free[free["benchmark"] == bench].groupby("strategy", sort=False):
            out.append(
                {
                    "benchmark": bench,
                    "strategy": strategy,
                    "flat final (median)": f"{target:.3f}",
                    "search compute to reach it (x B_flat)": needed_budget(group, target),
                }
            )
    return pd.DataFrame(out)


def peer_problems(rows: pd.DataFrame) -> list[str]:
    """Why an external peer's run does not count as really run: it must record evaluations on
    at least two data-subset budgets (what its package asked for), and spend compute."""
    out = []
    for row in rows.itertuples(index=False):
        ran = getattr(row, "peer_detail", None)
        if not isinstance(ran, dict):
            continue
        where = f"{row.benchmark} {row.strategy} x{row.fraction} rep {row.rep}"
        budgets = {b: n for b, n in ran.get("budgets", {}).items() if n > 0}
        if ran.get("evaluations", 0) <= 0 or row.compute <= 0:
            out.append(f"{where}: no evaluation ran")
        elif len(budgets) < 2:
            out.append(f"{where}: evaluations on {sorted(budgets)} only, not several subsets")
    return out


def to_markdown(frame: pd.DataFrame) -> str:
    if frame.empty:  # e.g. no validation table for strategies that validate nothing
        return "(nothing to show for these rows)\n"
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
