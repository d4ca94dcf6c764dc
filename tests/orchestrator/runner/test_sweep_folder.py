"""A sweep's folder is ``sweep-<id>-<slug>`` inside the workdir, whatever its name; the executor
only ever deletes inside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.paths import UnsafePath
from orchestrator.runner.executor import clear_partial_run
from orchestrator.runner.pipeline import sweep_folder


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("quickstart", "sweep-0007-quickstart"),
        ("../../../../../../../../tmp/x", "sweep-0007-tmp-x"),
        ("a/b\\c d", "sweep-0007-a-b-c-d"),
        ("..", "sweep-0007-sweep"),
    ],
)
def test_the_folder_is_a_slug_inside_the_workdir(tmp_path: Path, name: str, folder: str) -> None:
    assert sweep_folder(tmp_path, 7, name) == tmp_path.resolve() / folder


def test_clearing_a_partial_run_deletes_only_inside_the_sweep(tmp_path: Path) -> None:
    """A stage name that is a path (the parser refuses it; a hand-built job need not) is refused
    before anything is deleted; the stage's own folder is deleted."""
    victim = tmp_path / "victim" / "ray" / "stage1"
    victim.mkdir(parents=True)
    sweep_dir = tmp_path / "work" / "sweep-0001-x"
    (sweep_dir / "ray" / "stage1" / "trial").mkdir(parents=True)
    with pytest.raises(UnsafePath):
        clear_partial_run(sweep_dir, "../../../victim/ray/stage1")
    assert victim.is_dir()
    clear_partial_run(sweep_dir, "stage1")
    assert not (sweep_dir / "ray" / "stage1").exists() and (sweep_dir / "ray").is_dir()
