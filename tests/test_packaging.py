"""Rungs' top-level import names and a user's own ``trainers/`` and ``stages/`` folders coexist.

Rungs installs ``orchestrator``, ``trainers``, ``stages`` and ``dashboards`` as top-level names.
A researcher's repository often has a ``trainers/`` or ``stages/`` package too, and Rungs runs
from that repository: ``rungs`` and ``python -m orchestrator`` with it as the current directory
(which ``python -m`` puts first on sys.path), Ray workers started from it (Ray puts the driver's
directory first on theirs), and the user's own program run there. Each test builds such a
repository; its packages leave a mark when imported, and hold none of Rungs' modules.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
SWEEP = """\
name: user-repo
method: random
metric: {name: score, goal: maximize}
model: {name: synthetic, fixed: {noise: 0.05}}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
epochs: 2
resources: {cpus_per_trial: 1, max_concurrent: 1}
run_cap: 2
selection: {k: 1}
validation: {subset: 2000, seeds: [42]}
wandb: false
"""
USER_PACKAGE = """\
import pathlib

pathlib.Path(__file__).with_name("imported").touch()
OWNER = "user"
"""
USER_PROGRAM = """\
import stages
import trainers
from trainers.model import build

print(trainers.OWNER, stages.OWNER, build())
"""


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    """A user's repository: its own ``trainers`` and ``stages`` packages, a program, a sweep."""
    repo = tmp_path / "research"
    for package in ("trainers", "stages"):
        (repo / package).mkdir(parents=True)
        (repo / package / "__init__.py").write_text(USER_PACKAGE)
    (repo / "trainers" / "model.py").write_text('def build():\n    return "user model"\n')
    (repo / "train.py").write_text(USER_PROGRAM)
    (repo / "sweep.yaml").write_text(SWEEP)
    return repo


def _imported_user_packages(repo: Path) -> list[str]:
    return sorted(p.parent.name for p in repo.glob("*/imported"))


def _run(argv: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        "RUNGS_HOME": str(cwd / ".rungs"),
        "WANDB_MODE": "disabled",
        "RAY_USAGE_STATS_ENABLED": "0",
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    "launcher", [[str(BIN / "rungs")], [sys.executable, "-m", "orchestrator"]], ids=["rungs", "-m"]
)
def test_rungs_imports_its_own_packages_from_a_user_repo(
    user_repo: Path, launcher: list[str]
) -> None:
    assert _run([*launcher, "--help"], user_repo).returncode == 0
    done = _run([*launcher, "validate", "sweep.yaml"], user_repo)
    assert done.returncode == 0, done.stderr
    assert "stage1" in done.stdout
    assert _imported_user_packages(user_repo) == []


def test_a_user_program_imports_the_users_own_packages(user_repo: Path) -> None:
    done = _run([sys.executable, "train.py"], user_repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["user", "user", "user", "model"]
    assert _imported_user_packages(user_repo) == ["stages", "trainers"]


@pytest.mark.slow
def test_ray_trials_started_from_a_user_repo_use_rungs_packages(user_repo: Path) -> None:
    """Without the pin, every trial fails: ``cannot import name 'run_trial' from 'trainers'``."""
    done = _run([str(BIN / "rungs"), "run", "sweep.yaml"], user_repo, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "sweep 1 (user-repo): completed" in done.stdout
    assert _imported_user_packages(user_repo) == []
