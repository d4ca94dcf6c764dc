"""A user's own training script through the whole progressive pipeline on a real Ray.

Twice: an unmodified W&B script (the real ``wandb`` package, offline) and a script that prints
``[rungs] {json}`` lines. Each shows that the stage subsets 2K/4K/8K, the validation subset and
the seeds reach the program; that hyperband stops kill the program; that a crash, an
out-of-memory message and a NaN are recorded with their reasons while the sweep goes on; that
no program outlives the sweep; and that the top-k CSV and the ranking come out.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from orchestrator.runner.pipeline import run_sweep
from orchestrator.sweepfile import load_spec, spec_to_dict
from tests.orchestrator.runner.program_processes import processes_of_sweep

pytestmark = pytest.mark.slow

PROGRAMS = Path(__file__).parent / "programs"

SWEEP = """
name: {name}
program: {program}
method: bayes
metric: {{name: val_score, goal: maximize}}
parameters:
  lr: {{distribution: log_uniform_values, min: 1.0e-4, max: 1.0}}
  width: {{distribution: q_log_uniform_values, min: 8, max: 128, q: 8}}
early_terminate: {{type: hyperband, min_iter: 1, eta: 2}}
program_parameters: {{subset: train_samples, epochs: epochs, seed: seed}}
epochs: 4
resources: {{cpus_per_trial: 1, max_concurrent: 2}}
stages:
  - {{name: stage1, subset: 2000, trials: 6}}
  - {{name: stage2, subset: 4000, trials: 3}}
  - name: stage3
    subset: 8000
    variants:
      - {{name: hyperband, trials: 2}}
      - {{name: median, trials: 2, early_terminate: {{type: median, grace: 1, min_samples: 2}}}}
selection: {{k: 2}}
validation: {{subset: 16000, seeds: [42, 123]}}
"""
# Trials 1-3 of stage 1 fail in three ways; trial 5 starts after four trials have ended (two
# at a time), so hyperband has enough values at its first rungs to stop it there.
FAULTS = {
    "stage1/main-001": "crash",
    "stage1/main-002": "oom",
    "stage1/main-003": "nan",
    "stage1/main-005": "bad",
}


@pytest.fixture
def ray_session():
    import ray

    yield
    ray.shutdown()


@pytest.mark.parametrize("program", ["wandb_train.py", "json_train.py"])
def test_a_program_sweep_runs_the_whole_pipeline(
    program: str, storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ray_session
) -> None:
    for source in (program, "toy.py"):
        shutil.copy(PROGRAMS / source, tmp_path / source)
    name = f"own-{program.removesuffix('.py').replace('_', '-')}"
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(SWEEP.format(name=name, program=program))
    spec = load_spec(sweep_file).spec
    sweep_id = storage.create_sweep(spec.name, spec_to_dict(spec), "", state="running")
    monkeypatch.setenv("RUNGS_TEST_FAULTS", json.dumps(FAULTS))

    run_sweep(storage, sweep_id, workdir=tmp_path / "w", progress=False, num_cpus=2)

    assert storage.get_sweep(sweep_id).state == "completed"
    assert processes_of_sweep(name) == []  # no program outlived its trial
    sweep_dir = Path(storage.get_stages(sweep_id)[0].plan["sweep_dir"])
    trials = {(t.stage_name, t.key): t for t in storage.get_trials(sweep_id)}
    logs = sweep_dir / "logs"

    # each stage's subset, the validation subset and the seeds reached the program
    for (stage, key), trial in trials.items():
        args = json.loads((logs / stage / key / "args.json").read_text())
        subset = {"stage1": 2000, "stage2": 4000, "stage3": 8000, "validate": 16000}[stage]
        assert (args["train_samples"], args["epochs"]) == (subset, 4), (stage, key)
        assert args["seed"] == trial.seed
    assert {t.seed for (stage, _), t in trials.items() if stage == "validate"} == {42, 123}

    # the faults are recorded with their reasons, and the sweep went on
    crash = trials["stage1", "main-001"]
    assert (
        crash.status == "failed"
        and "boom: the data loader fell over" in crash.stop_reason["message"]
    )
    oom = trials["stage1", "main-002"]
    assert oom.status == "failed" and oom.stop_reason["message"].startswith("out of memory:")
    nan = trials["stage1", "main-003"]
    assert nan.status == "diverged" and "val_score was nan" in nan.stop_reason["message"]

    # hyperband stopped the bad trial at a rung, and its program was killed there
    bad = trials["stage1", "main-005"]
    assert bad.status == "early_stopped" and bad.stop_reason["rule"] == "hyperband"
    assert bad.stop_reason["rung"] == bad.epochs < 4
    for (stage, key), trial in trials.items():
        ran_to_the_end = (logs / stage / key / "finished").exists()
        assert ran_to_the_end == (trial.status == "completed"), (stage, key, trial.status)

    # one stored step per logged value of the metric, W&B's hyperband iterations
    for trial in trials.values():
        steps = [r.step for r in storage.get_results(trial.id)]
        assert steps == list(range(1, trial.epochs + 1))
        if trial.status == "completed":
            assert steps == [1, 2, 3, 4]

    # the top-k CSV and the ranking
    assert (sweep_dir / "top2_configs_for_validation.csv").exists()
    assert (sweep_dir / "validation_ranking.csv").exists()
    validate = {s.name: s for s in storage.get_stages(sweep_id)}["validate"]
    assert validate.state == "completed" and validate.summary["ranking"]
