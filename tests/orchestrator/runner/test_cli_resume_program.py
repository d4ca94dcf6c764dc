"""kill -9 of ``rungs run`` in the middle of a program sweep, then ``rungs resume``: no result
lost or duplicated, and no program (nor anything a program started) keeps running.

Every program here starts a child that would sleep for ten minutes, as a data loader's worker
would: the kernel kills a program whose launcher dies, but not its children; the resume finds
them through the pid file in the trial's log folder and kills the whole process group.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.storage import open_storage
from tests.orchestrator.runner.program_processes import processes_of_sweep

pytestmark = pytest.mark.slow

PROGRAMS = Path(__file__).parent / "programs"
NAME = "killme-program"
SWEEP = f"""
name: {NAME}
program: json_train.py
metric: {{name: val_score, goal: maximize}}
parameters:
  lr: {{distribution: log_uniform_values, min: 1.0e-4, max: 1.0}}
  width: {{values: [16, 32, 64]}}
early_terminate: {{type: hyperband, min_iter: 2, eta: 2}}
program_parameters: {{subset: train_samples, epochs: epochs, seed: seed}}
epochs: 5
resources: {{cpus_per_trial: 1, max_concurrent: 2}}
stages:
  - {{name: stage1, subset: 2000, trials: 3}}
  - {{name: stage2, subset: 4000, trials: 4}}
selection: {{k: 1, require_full_budget: false}}
validation: {{subset: 8000, seeds: [42]}}
"""


def _rungs(*args: str, tmp: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "RUNGS_HOME": str(tmp),
        "RUNGS_TEST_CHILD": "1",
        "RUNGS_TEST_EPOCH_SECONDS": "0.4",
    }
    cmd = [sys.executable, "-m", "orchestrator", *args, "--db", f"sqlite:///{tmp / 'r.db'}"]
    cmd += ["--workdir", str(tmp / "w"), "--quiet"]
    return subprocess.Popen(
        cmd, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _wait_for_stage2_results(storage, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "rungs run exited"
        sweeps = storage.list_sweeps()
        trials = storage.get_trials(sweeps[0].id, stage="stage2") if sweeps else []
        if sum(len(storage.get_results(t.id)) for t in trials) >= 2:
            return
        time.sleep(0.2)
    raise AssertionError("stage 2 never showed results")


def _rows(storage, sweep_id: int) -> dict[int, tuple[int, int]]:
    return {
        r.id: (r.trial_id, r.step)
        for t in storage.get_trials(sweep_id)
        for r in storage.get_results(t.id)
    }


def test_kill_9_mid_program_sweep_then_resume(tmp_path: Path) -> None:
    for source in ("json_train.py", "toy.py"):
        shutil.copy(PROGRAMS / source, tmp_path / source)
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    storage = open_storage(f"sqlite:///{tmp_path / 'r.db'}")
    proc = _rungs("run", str(tmp_path / "sweep.yaml"), tmp=tmp_path)
    try:
        _wait_for_stage2_results(storage, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the orchestrator and everything in its group
        proc.wait(timeout=30)
    sweep_id = storage.list_sweeps()[0].id
    rows_before = _rows(storage, sweep_id)
    assert processes_of_sweep(NAME)  # the running programs' children outlived the kill
    assert storage.get_sweep(sweep_id).state == "running"  # killed: nobody could say otherwise

    resumed = _rungs("resume", str(sweep_id), tmp=tmp_path)
    out, _ = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, out.decode(errors="replace")

    assert storage.get_sweep(sweep_id).state == "completed"
    assert processes_of_sweep(NAME) == []  # the killed run's leftovers included
    assert b"killed a program left running in" in out
    stage2 = storage.get_trials(sweep_id, stage="stage2")
    assert len(stage2) == 4 and len({t.key for t in stage2}) == 4
    for trial in storage.get_trials(sweep_id):
        steps = [r.step for r in storage.get_results(trial.id)]
        assert steps == list(range(1, trial.epochs + 1)), (trial.key, trial.status, steps)
    assert rows_before.items() <= _rows(storage, sweep_id).items()  # nothing stored was lost
    assert b"recommended: config1" in out
