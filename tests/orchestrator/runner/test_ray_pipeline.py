"""The progressive pipeline end to end on a real (embedded) Ray with the synthetic model."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.runner.pipeline import run_sweep
from stages.space import Numeric, space_from_dict

pytestmark = pytest.mark.slow

SWEEP = """
name: ray-e2e
metric: {name: score, goal: maximize}
model: {name: synthetic, fixed: {noise: 0.05, sleep_per_epoch: 0.25}}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
  weight_decay: {distribution: log_uniform_values, min: 1.0e-6, max: 1.0e-3}
  crash_at_epoch: {values: [0, 0, 0, 2]}
  nan_at_epoch: {values: [0, 0, 0, 2]}
early_terminate: {type: hyperband, min_iter: 2, eta: 2}
epochs: 6
resources: {cpus_per_trial: 1, max_concurrent: 2}
stages:
  - {name: stage1, subset: 2000, trials: 10}
  - {name: stage2, subset: 4000, trials: 5}
  - name: stage3
    subset: 8000
    variants:
      - {name: hyperband, trials: 4}
      - {name: conservative, trials: 4, early_terminate: {type: median, grace: 2, min_samples: 2}}
selection: {k: 2}
validation: {subset: 16000, seeds: [42, 123]}
wandb: false
"""


@pytest.fixture
def ray_session():
    import ray

    yield
    ray.shutdown()


def test_pipeline_on_ray_end_to_end(storage, make_sweep, tmp_path: Path, ray_session):
    sweep_id = make_sweep(SWEEP)
    run_sweep(storage, sweep_id, workdir=tmp_path / "w", progress=False, num_cpus=2)

    assert storage.get_sweep(sweep_id).state == "completed"
    stages = {s.name: s for s in storage.get_stages(sweep_id)}
    assert all(s.state == "completed" for s in stages.values())
    s1, s2 = space_from_dict(stages["stage1"].space), space_from_dict(stages["stage2"].space)
    lr1, lr2 = s1["lr"], s2["lr"]
    assert isinstance(lr1, Numeric) and isinstance(lr2, Numeric)
    assert lr1.low <= lr2.low < lr2.high <= lr1.high and (lr2.low, lr2.high) != (lr1.low, lr1.high)

    # hyperband really stopped trials at its rungs, and said why
    stopped = [
        t
        for t in storage.get_trials(sweep_id, status="early_stopped")
        if t.stop_reason["rule"] == "hyperband"
    ]
    assert stopped and all(
        t.stop_reason["rung"] in (2, 4) and t.epochs == t.stop_reason["rung"] for t in stopped
    )
    # Faults are recorded while the sweep goes on. Every trial reaches epoch 2 (no rule stops
    # one before its first rung, 2), so a config that crashes or goes NaN there always does.
    # Stage 1's ten configs are TPE's seeded start-up draws (sweep seed 0), fixed for this file:
    # trials 1 and 4 crash, trials 2, 5 and 9 go NaN.
    trials = storage.get_trials(sweep_id)
    assert {"completed", "early_stopped"} <= {t.status for t in trials}
    crashes = {t.id for t in trials if t.config["crash_at_epoch"] == 2}
    nans = {t.id for t in trials if t.config["nan_at_epoch"] == 2} - crashes
    assert crashes and nans
    assert {t.id for t in trials if t.status == "failed"} == crashes
    assert {t.id for t in trials if t.status == "diverged"} == nans
    for t in trials:
        if t.id in crashes:
            assert "synthetic crash at epoch 2" in t.stop_reason["message"], t.stop_reason
        if t.id in nans:
            assert "NaN at epoch 2" in t.stop_reason["message"], t.stop_reason

    # stage 3's variants ran in the same fit, at the same time (epochs sleep 0.25 s so that a
    # trial lasts longer than Ray takes to start the next one on a busy machine: with 0.02 s a
    # trial could end before its neighbour started, and this check failed under load)
    s3 = storage.get_trials(sweep_id, stage="stage3")
    hb = [t for t in s3 if t.variant == "hyperband"]
    med = [t for t in s3 if t.variant == "conservative"]
    assert len(hb) == len(med) == 4
    assert any(
        h.started_at < m.finished_at and m.started_at < h.finished_at for h in hb for m in med
    )

    # every result stored once per epoch
    for t in storage.get_trials(sweep_id):
        assert [r.step for r in storage.get_results(t.id)] == list(range(1, t.epochs + 1))

    assert Path(stages["select"].summary["csv"]).is_file()
    ranking = stages["validate"].summary["ranking"]
    assert len(ranking["configs"]) == 2 and ranking["recommended"] in ("config1", "config2")
    assert Path(stages["validate"].summary["files"]["csv"]).is_file()
