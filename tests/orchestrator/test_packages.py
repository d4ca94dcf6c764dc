"""Which directories would shadow Rungs' packages, and pinning Rungs' own before they can."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.packages import INSTALL_DIR, shadowing_dirs
from orchestrator.runner.ray_setup import WORKER_SETUP_HOOK, _worker_runtime_env


def test_a_folder_or_module_named_like_a_rungs_package_shadows(tmp_path: Path) -> None:
    package_dir, module_dir, clean = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    (package_dir / "trainers").mkdir(parents=True)
    module_dir.mkdir()
    (module_dir / "stages.py").write_text("")
    (clean / "data").mkdir(parents=True)
    assert shadowing_dirs([package_dir, module_dir, clean]) == [package_dir, module_dir]


def test_rungs_own_install_dir_does_not_shadow_itself() -> None:
    assert shadowing_dirs([INSTALL_DIR]) == []


def test_ray_workers_get_the_pinning_hook_only_when_the_driver_dir_shadows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", [str(INSTALL_DIR / "rungs")])
    monkeypatch.chdir(INSTALL_DIR)
    assert _worker_runtime_env() is None
    (tmp_path / "stages").mkdir()
    monkeypatch.chdir(tmp_path)
    assert _worker_runtime_env() == {"worker_process_setup_hook": WORKER_SETUP_HOOK}


def test_pinning_after_a_foreign_package_was_imported_names_the_folder(tmp_path: Path) -> None:
    (tmp_path / "trainers").mkdir()
    (tmp_path / "trainers" / "__init__.py").write_text("")
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import trainers; "
        "from orchestrator.packages import pin_rungs_packages; pin_rungs_packages()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert f"`trainers` from {tmp_path / 'trainers' / '__init__.py'} was imported" in done.stderr
