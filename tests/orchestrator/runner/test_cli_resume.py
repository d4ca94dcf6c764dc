"""kill -9 of ``rungs run`` in the middle of stage 2, then ``rungs resume``: nothing lost, nothing
duplicated, stage 1 untouched, and the trials the kill interrupted continue from their last
checkpoint instead of starting again at epoch 1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.storage import open_storage
from trainers.api import has_checkpoint
from trainers.curves.synthetic import load_epochs

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
  - {name: stage2, subset: 4000, trials: 6, early_terminate: null}
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


def _wait_for_a_half_trained_trial(storage, proc: subprocess.Popen, tmp: Path) -> None:
    """Until a running stage-2 trial has checkpointed one or two of its five epochs (read from
    its checkpoint: the database may be up to a flush interval behind)."""
    deadline = time.monotonic() + 90.0
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "rungs run exited"
        for sweep in storage.list_sweeps():
            for t in storage.get_trials(sweep.id, stage="stage2", status="running"):
                if 1 <= _saved_epochs(_checkpoint(tmp, sweep.id, t.key)) <= 2:
                    return
        time.sleep(0.05)
    raise AssertionError("no stage-2 trial was ever seen half-way")


def _saved_epochs(folder: Path) -> int:
    return len(load_epochs(folder)) if has_checkpoint(folder) else 0  # none before epoch 1


def _trainer_pids(tmp: Path) -> set[int]:
    """The processes that trained an epoch of any trial so far (from every checkpoint)."""
    folders = (tmp / "w").glob("sweep-*/checkpoints/*/*")
    return {e["pid"] for f in folders if has_checkpoint(f) for e in load_epochs(f)}


def _checkpoint(tmp: Path, sweep_id: int, key: str) -> Path:
    """Where the synthetic trainer keeps a stage-2 trial's epochs (trainable.trial_checkpoint_dir)."""
    return tmp / "w" / f"sweep-{sweep_id:04d}-killme" / "checkpoints" / "stage2" / key


def test_kill_9_mid_stage_then_resume(tmp_path: Path):
    yaml = tmp_path / "killme.yaml"
    yaml.write_text(SWEEP)
    storage = open_storage(f"sqlite:///{tmp_path / 'r.db'}")
    proc = _rungs("run", str(yaml), tmp=tmp_path)
    try:
        _wait_for_a_half_trained_trial(storage, proc, tmp_path)
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
    cut = {  # the interrupted trials, with the epochs their last checkpoint holds
        t.key: _saved_epochs(_checkpoint(tmp_path, sweep_id, t.key))
        for t in storage.get_trials(sweep_id, stage="stage2", status="running")
    }
    assert cut, "no stage-2 trial was running in the database when the kill landed"
    assert any(0 < saved < 5 for saved in cut.values()), cut
    first_run = _trainer_pids(tmp_path)  # the processes of the killed run that trained epochs

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
    # the interrupted trials were run to the end: none left running, cancelled or re-keyed
    interrupted = {t.key: (t.status, t.epochs) for t in stage2 if t.key in cut}
    assert interrupted == {key: ("completed", 5) for key in cut}, interrupted
    rows_after = {}
    for t in storage.get_trials(sweep_id):
        results = storage.get_results(t.id)
        steps = [r.step for r in results]
        assert steps == sorted(set(steps)), f"duplicate steps in {t.key}: {steps}"
        if t.status in ("completed", "early_stopped"):
            assert steps == list(range(1, t.epochs + 1)), (t.key, t.status, steps)
        rows_after.update({r.id: (r.trial_id, r.step) for r in results})
    assert rows_before.items() <= rows_after.items()  # nothing stored before the kill was lost
    continued = []
    for key, saved in cut.items():
        epochs = load_epochs(_checkpoint(tmp_path, sweep_id, key))
        assert [e["metrics"]["epoch"] for e in epochs] == [1, 2, 3, 4, 5], key
        # the killed run trained a prefix (at least what its checkpoint held at the kill), the
        # resumed run the rest: every epoch once, none trained again from epoch 1
        pids = [e["pid"] for e in epochs]
        resumed_at = next((i for i, pid in enumerate(pids) if pid not in first_run), len(pids))
        assert resumed_at >= saved, (key, saved, epochs)
        assert not first_run & set(pids[resumed_at:]), (key, saved, epochs)
        continued.append(0 < resumed_at < 5)
    assert any(continued), cut  # at least one trial continued mid-way, from its checkpoint
    assert "recommended: config1" in out
