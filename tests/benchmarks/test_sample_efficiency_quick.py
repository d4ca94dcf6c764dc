"""The sample-efficiency benchmark: its sources on the product's clock, and a --quick run.

The quick run checks that the report has every strategy with finite numbers; whether progressive
scaling wins is the benchmark's finding (benchmarks/results/RESULTS_sample_efficiency.md), not a
test.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.sample_efficiency.catalog import DIAGNOSTICS, STRATEGIES
from benchmarks.sample_efficiency.objectives import sim_benchmark
from benchmarks.sample_efficiency.sources import FixedRun, FixedSource
from benchmarks.sample_efficiency.strategies import Run, validation_cost, validation_k
from orchestrator.runner.simclock import Ledger, run_clock

ROOT = Path(__file__).resolve().parents[2]


def test_fixed_runs_charge_subset_times_epochs_and_run_in_parallel() -> None:
    runs = [FixedRun(f"r{i}", {}, 0) for i in range(5)]

    def train(config: dict, subset: int, epochs: int, seed: int) -> np.ndarray:
        return np.arange(1.0, epochs + 1)

    source = FixedSource(runs, train, subset=100, epochs=3, goal="maximize")
    ledger = Ledger()
    end = run_clock(source, workers=2, ledger=ledger)
    assert ledger.sample_epochs == 5 * 100 * 3
    assert ledger.trials == 5
    assert source.results == {f"r{i}": 3.0 for i in range(5)}
    assert end == 3 * 3 * 100  # 5 trials on 2 slots: three rounds of 3 epochs


def test_template_spec_keeps_the_pipeline_and_scales_validation() -> None:
    spec = Run(sim_benchmark(), 0, math.inf).spec
    assert [s.subset for s in spec.stages] == [2000, 4000, 8000]
    assert spec.stages[1].narrow_from == "wide"
    assert validation_k(spec, 1e12) == 5
    assert validation_k(spec, 4 * 16000 * 60 * 3) == 2  # validation takes at most half


def test_flat_strategy_respects_its_budget() -> None:
    budget = 12e6
    out = STRATEGIES["flat"](Run(sim_benchmark(), 0, budget))
    # Search stops launching at the budget; running trials finish (4 workers x 16K x 40 epochs).
    assert budget * 0.8 < out.compute < budget + 4 * 16000 * 40
    assert out.k == 2  # floor(12e6 / 2 / (3 seeds x 16K x 60 epochs))


def test_quick_run_reports_every_strategy(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "se_entry", ROOT / "benchmarks/sample_efficiency.py"
    )
    assert spec is not None and spec.loader is not None
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    out, plot = tmp_path / "results.md", tmp_path / "plot.png"
    assert entry.main(["--quick", "--jobs", "1", "--out", str(out), "--plot", str(plot)]) == 0
    rows = pd.read_csv(out.with_suffix(".csv"))
    assert set(rows["strategy"]) == set(STRATEGIES)
    assert all(math.isfinite(x) for x in rows["quality"]) and all(rows["compute"] > 0)
    text = out.read_text()
    for strategy in STRATEGIES:
        assert f"| sim | {strategy} |" in text
    assert "nan" not in text.lower()
    assert "## Beyond noise?" in text and "## The search alone" in text
    assert plot.stat().st_size > 0
    # --report rebuilds the same tables from the rows, running nothing
    again = tmp_path / "again.md"
    csv = out.with_suffix(".csv")
    assert entry.main(["--report", str(csv), "--out", str(again), "--plot", str(plot)]) == 0
    assert again.read_text() == text


def test_the_pipeline_is_resized_to_spend_its_budget() -> None:
    from benchmarks.sample_efficiency import experiment

    b_flat = 7.29e7  # the simulator's B_flat (pilot); a wrong cost model makes m twice too big
    true_cost = experiment.search_cost("sim", 1, None)
    wrong = experiment.Plan("sim", b_flat, true_cost / 2, 160)
    row = experiment.run_task(experiment.Task(wrong, "progressive", 0.25, rep=0))
    assert abs(row["compute_fraction"] - 0.25) <= 0.25 * experiment.RESIZE_TOLERANCE + 1e-9
    # without resizing, that m overspends far beyond the tolerance
    bench = sim_benchmark()
    budget = 0.25 * b_flat
    spec = Run(bench, 0, budget).spec
    fixed = validation_k(spec, budget) * validation_cost(spec)
    m = (budget - fixed) / (true_cost / 2)
    unsized = STRATEGIES["progressive"](Run(bench, 0, budget, m=m))
    assert unsized.compute / b_flat > 0.25 * (1 + 2 * experiment.RESIZE_TOLERANCE)


def test_subset_hb_minus_validation_searches_with_what_the_default_has_left() -> None:
    bench = sim_benchmark()
    budget = 0.25 * 7.29e7
    spec = Run(bench, 0, budget).spec
    fixed = validation_k(spec, budget) * validation_cost(spec)
    plain = STRATEGIES["subset-hb"](Run(bench, 0, budget))
    diag = DIAGNOSTICS["subset-hb-minus-validation"](Run(bench, 0, budget))
    assert "subset-hb-minus-validation" not in STRATEGIES  # not part of the default comparison
    assert plain.compute >= budget and budget - fixed <= diag.compute < plain.compute - fixed / 2


def test_a_peer_run_counts_only_if_it_evaluated_on_several_subsets() -> None:
    from benchmarks.sample_efficiency.report import peer_problems

    def row(strategy: str, detail: object, compute: float = 1e6) -> dict:
        where = {"benchmark": "sim", "strategy": strategy, "fraction": 0.25, "rep": 0}
        return {**where, "compute": compute, "peer_detail": detail}

    rows = pd.DataFrame(
        [
            row("smac", {"evaluations": 71, "budgets": {2000: 17, 4000: 20, 16000: 16}}),
            row("dehb", {"evaluations": 0, "budgets": {}}, compute=0.0),
            row("syne-tune", {"evaluations": 40, "budgets": {2000: 40}}),
            row("flat", None),  # not a peer: nothing to check
        ]
    )
    problems = peer_problems(rows)
    assert len(problems) == 2
    assert problems[0].startswith("sim dehb x0.25 rep 0: no evaluation ran")
    assert "syne-tune" in problems[1] and "[2000] only" in problems[1]


def test_a_peer_that_is_not_installed_is_an_error_not_a_skip(monkeypatch) -> None:
    import importlib

    from benchmarks.sample_efficiency import catalog

    real = importlib.import_module

    def missing(name: str, *args: object) -> object:
        if name == "dehb":
            raise ImportError("No module named 'dehb'")
        return real(name, *args)

    monkeypatch.setattr(catalog.importlib, "import_module", missing)
    with pytest.raises(catalog.PeerMissing, match="setup_bench_env.sh"):
        catalog.peer("dehb")
