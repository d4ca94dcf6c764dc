"""The W&B shim (``shim/sitecustomize.py``) in real processes, with a stand-in ``wandb`` package
so that these tests stay fast (the real package is exercised in test_trainer.py)."""

from __future__ import annotations

import math
from pathlib import Path

from tests.trainers.program.helpers import PYTHON, write_program
from trainers.program.process import STDOUT_LOG, launch

# The part of wandb the shim relies on: ``Run.log``, and the disabled mode's ``NoopRun.log``.
FAKE_RUN = """
class Run:
    def log(self, data, step=None, commit=None):
        if "reject" in data:
            raise ValueError("W&B refused this call")
"""
FAKE_NOOP_RUN = """
from wandb.sdk.wandb_run import Run

class NoopRun(Run):
    def log(self, data, *args, **kwargs):
        super().log(data, *args, **kwargs)
"""
FAKE_INIT = """
from wandb.sdk import wandb_run

def init(mode=None):
    if mode == "disabled":
        from wandb.sdk.lib import noop_run
        return noop_run.NoopRun()
    return wandb_run.Run()
"""


def _fake_wandb(folder: Path) -> Path:
    root = folder / "fake-site"
    (root / "wandb" / "sdk" / "lib").mkdir(parents=True)
    (root / "wandb" / "__init__.py").write_text(FAKE_INIT)
    (root / "wandb" / "sdk" / "__init__.py").write_text("")
    (root / "wandb" / "sdk" / "wandb_run.py").write_text(FAKE_RUN)
    (root / "wandb" / "sdk" / "lib" / "__init__.py").write_text("")
    (root / "wandb" / "sdk" / "lib" / "noop_run.py").write_text(FAKE_NOOP_RUN)
    return root


def _run(folder: Path, pythonpath: str) -> tuple[list[dict[str, float]], int, Path]:
    env = {"PYTHONPATH": pythonpath, "PATH": "/usr/bin:/bin"}
    with launch([PYTHON, "train.py"], cwd=folder, env=env, log_dir=folder / "log") as program:
        reports = list(program.reports())
    return reports, program.wait(), folder / "log"


def test_every_accepted_log_call_is_one_report_and_stdout_is_untouched(tmp_path: Path) -> None:
    write_program(
        tmp_path,
        """
        import subprocess, sys
        import wandb
        run = wandb.init()
        run.log({"val": 1, "nested": {"a": 2}, "image": object(), "flag": True, "name": "x"})
        run.log(data={"val": float("nan")}, step=3)
        try:
            run.log({"reject": 1})
        except ValueError:
            pass
        run.log({"only": "text"})
        wandb.init(mode="disabled").log({"disabled": 1})  # a subclass calling super(): once
        # a child that did not inherit the pipe reports nothing, and does not fail
        code = "import wandb; wandb.init().log({'child': 1}); print('child ok')"
        subprocess.run([sys.executable, "-c", code], check=True)
        print("done")
        """,
    )
    reports, returncode, log = _run(tmp_path, str(_fake_wandb(tmp_path)))
    assert returncode == 0
    assert reports[0] == {"val": 1.0, "nested.a": 2.0}
    assert math.isnan(reports[1]["val"])
    assert reports[2:] == [{"disabled": 1.0}]
    assert (log / STDOUT_LOG).read_text() == "child ok\ndone\n"


def test_the_shadowed_sitecustomize_still_runs(tmp_path: Path) -> None:
    other = tmp_path / "other-site"
    other.mkdir()
    (other / "sitecustomize.py").write_text("import os\nos.environ['OTHER_SITE'] = 'ran'\n")
    write_program(
        tmp_path,
        """
        import os, sys, sitecustomize
        import wandb
        wandb.init().log({"val": 1})
        print(os.environ.get("OTHER_SITE"), sitecustomize.__file__)
        print(any(entry.endswith("shim") for entry in sys.path))
        """,
    )
    reports, returncode, log = _run(tmp_path, f"{other}:{_fake_wandb(tmp_path)}")
    assert returncode == 0 and reports == [{"val": 1.0}]
    stdout = (log / STDOUT_LOG).read_text().splitlines()
    assert stdout == [f"ran {other / 'sitecustomize.py'}", "False"]


def test_a_program_without_wandb_is_not_affected(tmp_path: Path) -> None:
    write_program(tmp_path, "import sys\nprint('wandb' in sys.modules)\n")
    reports, returncode, log = _run(tmp_path, "")
    assert (reports, returncode) == ([], 0)
    assert (log / STDOUT_LOG).read_text() == "False\n"
