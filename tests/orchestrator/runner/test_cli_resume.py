"""kill -9 of ``rungs run`` in the middle of stage 2, then ``rungs resume``: nothing lost, nothing
duplicated, stage 1 untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.storage import open_storage

pytestmark = pytest.mark.slow

SWEEP = """
name: killme
metric: {name: score, goal: maximize}
model: {name: synthetic, fixed: {sleep_per_epoch: 0.15}}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
early_terminate: {type: hyperband, min_iter: 2, eta: 2}
epochs: 5
resources: {cpus_per_trial: 1, max_concurrent: 2}
stages:
  - {name: stage1, subset: 2000, trials: 4}
  - {name: stage2, subset: 4000, trials: 6}
selection: {k: 1, require_full_budget: false}
validation: {subset: 8000, seeds: [42]}
wandb: false
"""


def _rungs(*args: str, tmp: Path) -> subprocess.Popen:
    env = {**os.environ, "RUNGS_HOME": str(tmp), "WANDB_MODE": "disabled"}
    cmd = [
        sys.executable,
        "-m",
        "orchestrator",
        *args,
        "--db",
        f"sqlite:///{tmp / 'r.db'}",
        "--workdir",
        str(tmp / "w"),
        "--quiet",
    ]
    return subprocess.Popen(
        cmd,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_stage2_results(storage, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "rungs run exited"
        sweeps = storage.list_sweeps()
        if sweeps:
            stages = {s.name: s for s in storage.get_stages(sweeps[0].id)}
            s2 = stages.get("stage2")
            if s2 is not None and s2.state == "running":
                trials = storage.get_trials(sweeps[0].id, stage="stage2")
                if sum(len(storage.get_results(t.id)) for t in trials) >= 2:
                    return
        time.sleep(0.2)
    raise AssertionError("stage 2 never showed results")


def test_kill_9_mid_stage_then_resume(tmp_path: Path):
    yaml = tmp_path / "killme.yaml"
    yaml.write_text(SWEEP)
    storage = open_storage(f"sqlite:///{tmp_path / 'r.db'}")
    proc = _rungs("run", str(yaml), tmp=tmp_path)
    try:
        _wait_for_stage2_results(storage, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the orchestrator and everything in its group
        proc.wait(timeout=30)
    sweep_id = storage.list_sweeps()[0].id
    stage1_before = [
        (t.id, t.key, t.status, t.best_value, t.epochs)
        for t in storage.get_trials(sweep_id, stage="stage1")
    ]
    rows_before = {
        r.id: (r.trial_id, r.step)
        for t in storage.get_trials(sweep_id)
        for r in storage.get_results(t.id)
    }
    assert storage.get_sweep(sweep_id).state == "running"  # killed: nobody could say otherwise

    resumed = _rungs("resume", str(sweep_id), tmp=tmp_path)
    out, _ = resumed.communicate(timeout=150)
    assert resumed.returncode == 0, out

    assert storage.get_sweep(sweep_id).state == "completed"
    stage1_after = [
        (t.id, t.key, t.status, t.best_value, t.epochs)
        for t in storage.get_trials(sweep_id, stage="stage1")
    ]
    assert stage1_after == stage1_before
    stage2 = storage.get_trials(sweep_id, stage="stage2")
    assert len(stage2) == 6 and len({t.key for t in stage2}) == 6
    rows_after = {}
    for t in storage.get_trials(sweep_id):
        results = storage.get_results(t.id)
        steps = [r.step for r in results]
        assert steps == sorted(set(steps)), f"duplicate steps in {t.key}: {steps}"
        if t.status in ("completed", "early_stopped"):
            assert steps == list(range(1, t.epochs + 1)), (t.key, t.status, steps)
        rows_after.update({r.id: (r.trial_id, r.step) for r in results})
    assert rows_before.items() <= rows_after.items()  # nothing stored before the kill was lost
    assert "recommended: config1" in out
