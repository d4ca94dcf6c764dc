"""The benchmark measures what users run: its pipeline strategies are ``run_sweep`` on the
product's simulated executor, so ``rungs run FILE --simulate`` on the benchmark's own sweep YAML
writes the same database rows, and the compute it reports is what the database records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.sample_efficiency.objectives import hartmann_benchmark, sim_benchmark
from benchmarks.sample_efficiency.strategies import Run, flat, progressive
from orchestrator.cli import main
from orchestrator.storage import open_storage
from orchestrator.storage.base import BaseStorage

PATHS = ("workdir", "sweep_dir", "csv", "files")  # where a run wrote its files differs


def _without_paths(block: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if block is None else {k: v for k, v in block.items() if k not in PATHS}


def rows(storage: BaseStorage) -> dict[str, Any]:
    """Everything the run stored, but the timestamps and the folders it wrote to."""
    (sweep,) = storage.list_sweeps()
    stages = [
        (s.name, s.kind, s.state, _without_paths(s.plan), s.space, _without_paths(s.summary))
        for s in storage.get_stages(sweep.id)
    ]
    trials = [
        (t.stage_name, t.variant, t.key, t.name, t.config, t.seed, t.status)
        + (t.stop_reason, t.best_value, t.last_value, t.epochs)
        for t in storage.get_trials(sweep.id)
    ]
    results = [
        [(r.step, r.metrics) for r in storage.get_results(t.id)]
        for t in storage.get_trials(sweep.id)
    ]
    return {"state": sweep.state, "stages": stages, "trials": trials, "results": results}


def stored_compute(storage: BaseStorage) -> float:
    """Sample-epochs as the database records them: every trial's epochs x its stage's subset."""
    (sweep,) = storage.list_sweeps()
    subsets = {s.name: s.plan.get("subset") for s in storage.get_stages(sweep.id)}
    return float(sum(t.epochs * subsets[t.stage_name] for t in storage.get_trials(sweep.id)))


@pytest.mark.parametrize("bench", [sim_benchmark, hartmann_benchmark], ids=["sim", "hartmann"])
def test_the_benchmark_writes_what_rungs_run_simulate_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bench: Any
) -> None:
    run = Run(bench(), rep=3, budget=9e6, m=0.3, keep=tmp_path / "benchmark")
    outcome = progressive(run)
    measured = open_storage(f"sqlite:///{tmp_path / 'benchmark' / 'rungs.db'}")

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    yaml_file = tmp_path / "benchmark" / "sweep.yaml"
    argv = ["run", str(yaml_file), "--simulate", "--db", url, "--workdir", str(tmp_path / "cli")]
    assert main([*argv, "--quiet"]) == 0
    assert "recommended: config" in capsys.readouterr().out
    by_cli = open_storage(url)

    assert rows(measured) == rows(by_cli)
    stored = rows(measured)
    assert stored["state"] == "completed"
    assert [s[0] for s in stored["stages"]][-2:] == ["select", "validate"]
    assert len(stored["trials"]) == outcome.trials  # every trial the benchmark counted is stored
    assert outcome.compute == stored_compute(measured)


def test_flat_stops_starting_trials_at_its_search_budget(tmp_path: Path) -> None:
    run = Run(sim_benchmark(), rep=0, budget=9e6, keep=tmp_path)
    outcome = flat(run)
    storage = open_storage(f"sqlite:///{tmp_path / 'rungs.db'}")
    (sweep,) = storage.list_sweeps()
    searched = storage.get_trials(sweep.id, stage="flat")
    assert 0 < len(searched) < 100  # of the 10**6 the stage allows
    search = outcome.compute - outcome.detail["validation_compute"]
    epochs, workers = 40, 4  # trials running when the budget ran out finish
    assert search - 16000 * epochs * workers <= 9e6 - outcome.k * 3 * 16000 * 60 <= search
