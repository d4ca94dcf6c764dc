"""The sample-efficiency report's diagnostics, on hand-built rows."""

from __future__ import annotations

import math
import statistics

import pandas as pd
import pytest

from benchmarks.sample_efficiency import report

B_FLAT = 100.0


def row(strategy: str, fraction: float, rep: int, quality: float, **extra: float) -> dict:
    compute = extra.pop("compute", fraction * B_FLAT)
    return {
        "benchmark": "b",
        "strategy": strategy,
        "fraction": fraction,
        "rep": rep,
        "budget": fraction * B_FLAT,
        "compute": compute,
        "compute_fraction": compute / B_FLAT,
        "quality": quality,
        "rank1_quality": extra.get("rank1_quality", math.nan),
        "validation_compute": extra.get("validation_compute", math.nan),
        "picked_best": None,
    }


def test_search_only_rows_drop_validation_compute_and_score_the_rank1_pick() -> None:
    rows = pd.DataFrame(
        [
            row("progressive", 0.5, 0, 3.0, rank1_quality=2.5, validation_compute=20.0),
            row("dehb", 0.5, 0, 2.0),
        ]
    )
    free = report.search_only_rows(rows).set_index("strategy")
    assert free.loc["progressive", "compute_fraction"] == pytest.approx(0.3)
    assert free.loc["progressive", "quality"] == 2.5  # the search's pick, not the validated one
    assert free.loc["dehb", "compute_fraction"] == pytest.approx(0.5)  # unchanged
    assert free.loc["dehb", "quality"] == 2.0


def test_search_only_table_finds_where_the_search_alone_reaches_flats_final() -> None:
    rows = pd.DataFrame(
        [
            row("flat", 1.0, 0, 4.0, rank1_quality=4.0, validation_compute=20.0),
            row("flat", 0.5, 0, 3.5, rank1_quality=3.5, validation_compute=20.0),
            # search compute 0.1 -> rank-1 quality 3.0, 0.3 -> 5.0: 4.0 is reached at 0.2
            row("progressive", 0.25, 0, 3.9, rank1_quality=3.0, validation_compute=15.0),
            row("progressive", 0.5, 0, 4.1, rank1_quality=5.0, validation_compute=20.0),
        ]
    )
    table = report.search_only_table(rows).set_index("strategy")
    assert table.loc["progressive", "search compute to reach it (x B_flat)"] == "0.20"
    assert table.loc["progressive", "flat final (median)"] == "4.000"


def test_separation_says_beyond_noise_only_when_the_interval_excludes_zero() -> None:
    steady = [0.10, 0.11, 0.09, 0.10, 0.12]  # the default wins by about 0.1 in every world
    noisy = [0.30, -0.25, 0.20, -0.30, 0.10]  # same sign on average, far from settled
    rows = []
    for rep, (gap_a, gap_b) in enumerate(zip(steady, noisy, strict=True)):
        rows += [
            row("progressive", 0.25, rep, 1.0),
            row("steady", 0.25, rep, 1.0 - gap_a),
            row("noisy", 0.25, rep, 1.0 - gap_b),
        ]
    table = report.separation_table(pd.DataFrame(rows)).set_index("default minus")
    assert table.loc["steady", "beyond noise"] == "yes"
    assert table.loc["steady", "mean [95% CI]"].startswith("+0.104 [")
    assert table.loc["noisy", "beyond noise"] == "no"
    assert table.loc["noisy", "worlds"] == 5
    # 80% power at 5%: 7.85 x (sd / mean)^2 worlds, mean 0.01
    needed = math.ceil(7.85 * (statistics.stdev(noisy) / statistics.mean(noisy)) ** 2)
    assert table.loc["noisy", "worlds to separate it"] == needed
