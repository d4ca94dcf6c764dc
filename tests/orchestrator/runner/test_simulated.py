"""The simulated executor on its own: which trainers it runs, its concurrency, its ledger, and a
lost lease in the middle of a stage."""

from __future__ import annotations

import pytest

from orchestrator.runner.jobs import search_job
from orchestrator.runner.pipeline import make_env
from orchestrator.runner.simulated import SimulatedExecutor
from stages.states import StageState


def _stage1_job(storage, sweep_id, tmp_path, should_stop=lambda: False):
    env = make_env(storage, sweep_id, tmp_path / "w", False, should_stop=should_stop)
    stage = env.spec.stages[0]
    stage_id = storage.upsert_stage(
        sweep_id,
        stage.name,
        position=0,
        kind="search",
        plan={"subset": stage.subset},
        state=StageState.RUNNING,
    )
    return search_job(env, 0, stage, stage_id, dict(env.spec.parameters), [])


def test_it_runs_only_the_learning_curve_trainers(storage, make_sweep, quick_yaml, tmp_path):
    text = quick_yaml.replace("name: synthetic, fixed: {noise: 0.05}", "name: dprnn")
    text = text.replace("metric: {name: score,", "metric: {name: si_sdr,")
    sweep_id = make_sweep(text)
    job = _stage1_job(storage, sweep_id, tmp_path)
    with pytest.raises(ValueError, match="learning-curve trainers .* model 'dprnn'"):
        SimulatedExecutor().execute(job)
    assert storage.count_trials(sweep_id) == 0


def test_parallel_trials_and_a_ledger_that_matches_the_database(
    storage, make_sweep, quick_yaml, tmp_path
):
    sweep_id = make_sweep(quick_yaml)
    job = _stage1_job(storage, sweep_id, tmp_path)
    executor = SimulatedExecutor(workers=3)
    executor.execute(job)
    trials = storage.get_trials(sweep_id, stage="stage1")
    assert len(trials) == 10 and executor.ledger.trials == 10
    assert executor.ledger.epochs == sum(t.epochs for t in trials)
    assert executor.ledger.sample_epochs == 2000 * executor.ledger.epochs
    # 3 at once: the clock ends well before 10 trials one after another would
    assert executor.clock < 2000 * executor.ledger.epochs / 2
    assert executor.concurrency(job) == 3
    assert SimulatedExecutor().concurrency(job) >= 1  # no max_concurrent: as Ray would


def test_a_lost_lease_stops_the_stage_and_cancels_what_runs(
    storage, make_sweep, quick_yaml, tmp_path
):
    sweep_id = make_sweep(quick_yaml)
    steps = iter(range(10**6))
    job = _stage1_job(storage, sweep_id, tmp_path, should_stop=lambda: next(steps) > 12)
    SimulatedExecutor(workers=2).execute(job)
    trials = storage.get_trials(sweep_id, stage="stage1")
    assert 0 < len(trials) < 10
    assert "cancelled" in {t.status for t in trials}
    assert all(t.status != "running" for t in trials)
