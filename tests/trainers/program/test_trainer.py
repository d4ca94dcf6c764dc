"""``run_trial`` on tiny real programs: both metric channels, every outcome, and stopping."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.trainers.program.helpers import alive, program_request, read_pids, write_program
from trainers.api import ListReporter
from trainers.program.failures import ProgramFailed
from trainers.program.process import PID_FILE, STDOUT_LOG
from trainers.program.trainer import run_trial

WANDB_PROGRAM = """
    import json, sys
    import wandb

    run = wandb.init(config={"lr": 1.0, "extra": "kept"})
    seen = {
        "attribute": wandb.config.lr,
        "item": wandb.config["lr"],
        "run": run.config["lr"],
        "nested": wandb.config.optimizer["name"],
        "nested_run": run.config["optimizer"]["betas"],
        "dotted": wandb.config["model.depth"],
        "stage": [wandb.config.train_samples, wandb.config.epochs, wandb.config.seed],
        "extra": wandb.config.extra,
        "argv": sys.argv[1:],
    }
    with open("seen.json", "w") as file:
        json.dump(seen, file)
    for epoch in range(wandb.config.epochs):
        wandb.log({"train_loss": 1.0 / (epoch + 1)})
        run.log({"val": wandb.config.lr * (epoch + 1), "epoch": epoch, "sample": wandb.Html("x")})
    wandb.finish()
    print("stdout untouched")
"""

PARAMETERS = {"subset": "train_samples", "epochs": "epochs", "seed": "seed"}


def test_an_unmodified_wandb_program(tmp_path: Path) -> None:
    write_program(tmp_path, WANDB_PROGRAM)
    hparams = {"lr": 0.5, "optimizer": {"name": "adam", "betas": [0.9, 0.99]}, "model.depth": 3}
    request = program_request(tmp_path, hparams, program_parameters=PARAMETERS)
    reporter = ListReporter()
    outcome = run_trial(request, reporter)

    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen == {
        "attribute": 0.5,
        "item": 0.5,
        "run": 0.5,
        "nested": "adam",
        "nested_run": [0.9, 0.99],
        "dotted": 3,
        "stage": [2000, 3, 7],
        "extra": "kept",
        "argv": [
            "--epochs=3",
            "--lr=0.5",
            "--model.depth=3",
            "--optimizer={'name': 'adam', 'betas': [0.9, 0.99]}",
            "--seed=7",
            "--train_samples=2000",
        ],
    }
    assert [report["epoch"] for report in reporter.reports] == [0, 1, 1, 2, 2, 3]
    assert reporter.reports[1] == {"val": 0.5, "program_epoch": 0.0, "epoch": 1}
    assert (outcome.status, outcome.best_metric, outcome.best_epoch, outcome.epochs_run) == (
        "completed",
        1.5,
        3,
        3,
    )
    log = tmp_path / "trial-log"
    assert (log / STDOUT_LOG).read_text() == "stdout untouched\n"
    assert any(log.glob("wandb/offline-run-*"))


def test_a_wandb_program_in_disabled_mode_reports_too(tmp_path: Path) -> None:
    """``WANDB_MODE=disabled`` (no W&B files, no W&B service): config and reports still work."""
    write_program(
        tmp_path,
        """
        import wandb
        run = wandb.init()
        for epoch in range(wandb.config.epochs):
            wandb.log({"val": wandb.config.lr + epoch})
        """,
    )
    request = program_request(
        tmp_path,
        {"lr": 0.5},
        program_parameters={"epochs": "epochs"},
        extra_env={"WANDB_MODE": "disabled"},
    )
    reporter = ListReporter()
    outcome = run_trial(request, reporter)
    assert [report["val"] for report in reporter.reports] == [0.5, 1.5, 2.5]
    assert (outcome.status, outcome.best_metric) == ("completed", 2.5)
    assert not (tmp_path / "trial-log" / "wandb").exists()


STDOUT_PROGRAM = """
    import json, os, sys
    env = {name: os.environ.get(name) for name in (
        "RUNGS_SWEEP", "RUNGS_STAGE", "RUNGS_TRIAL", "RUNGS_SUBSET", "RUNGS_SEED", "RUNGS_EPOCHS",
        "CUDA_VISIBLE_DEVICES", "WANDB_MODE", "WANDB_SERVICE")}
    with open(sys.argv[-1]) as file:
        args = json.load(file)
    with open("seen.json", "w") as file:
        json.dump({"env": env, "cwd": os.getcwd(), "args": args, "argv": sys.argv[1:-1]}, file)
    for epoch in range(args["epochs"]):
        print("[rungs]", json.dumps({"val": -args["lr"] * epoch, "note": "text"}), flush=True)
"""


def test_a_program_printing_json_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_SERVICE", "the-worker's-own")
    write_program(tmp_path, STDOUT_PROGRAM)
    request = program_request(
        tmp_path,
        {"lr": 0.1},
        goal="minimize",
        program_parameters={"epochs": "epochs"},
        command=("${interpreter}", "${program}", "${args_no_hyphens}", "${args_json_file}"),
        extra_env={"CUDA_VISIBLE_DEVICES": "1"},
        sweep="s1",
        stage="subset-2000",
        trial="t3",
    )
    reporter = ListReporter()
    outcome = run_trial(request, reporter)
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["env"] == {
        "RUNGS_SWEEP": "s1",
        "RUNGS_STAGE": "subset-2000",
        "RUNGS_TRIAL": "t3",
        "RUNGS_SUBSET": "2000",
        "RUNGS_SEED": "7",
        "RUNGS_EPOCHS": "3",
        "CUDA_VISIBLE_DEVICES": "1",
        "WANDB_MODE": "offline",
        "WANDB_SERVICE": None,
    }
    assert seen["cwd"] == str(tmp_path)
    assert seen["args"] == {"epochs": 3, "lr": 0.1}
    assert seen["argv"] == ["epochs=3", "lr=0.1"]
    assert [report["val"] for report in reporter.reports] == [0.0, -0.1, -0.2]
    assert (outcome.status, outcome.best_metric, outcome.best_epoch) == ("completed", -0.2, 3)


def _failure(tmp_path: Path, source: str) -> str:
    write_program(tmp_path, source)
    with pytest.raises(ProgramFailed) as error:
        run_trial(program_request(tmp_path), ListReporter())
    return str(error.value)


def test_a_crash_fails_with_the_end_of_stderr(tmp_path: Path) -> None:
    reason = _failure(tmp_path, "print('[rungs] {\"val\": 1}')\nraise ValueError('boom')\n")
    assert reason.startswith("exit code 1; last lines of stderr:\nTraceback")
    assert reason.endswith("ValueError: boom")


def test_out_of_memory_is_named(tmp_path: Path) -> None:
    reason = _failure(
        tmp_path, "raise RuntimeError('CUDA out of memory. Tried to allocate 2 GiB')\n"
    )
    assert reason.startswith("out of memory: exit code 1")
    killed = _failure(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    assert killed.startswith("out of memory: killed by SIGKILL")


def test_exit_0_without_the_metric_fails(tmp_path: Path) -> None:
    reason = _failure(tmp_path, "print('[rungs] {\"loss\": 1}')\n")
    assert reason.startswith("reported no val: the program exited 0 after 1 report(s)")


def test_a_malformed_report_fails(tmp_path: Path) -> None:
    assert _failure(tmp_path, "print('[rungs] {val: 1}')\n").startswith("bad report: stdout line")


def test_a_nan_metric_diverges_and_the_program_is_killed(tmp_path: Path) -> None:
    write_program(
        tmp_path,
        """
        import os, time
        open("pids", "w").write(str(os.getpid()))
        print('[rungs] {"val": 1.0}', flush=True)
        print('[rungs] {"val": NaN}', flush=True)
        time.sleep(60)
        """,
    )
    reporter = ListReporter()
    outcome = run_trial(program_request(tmp_path, grace_seconds=0.2), reporter)
    assert (outcome.status, outcome.reason) == ("diverged", "val was nan at iteration 2")
    assert (outcome.best_metric, outcome.epochs_run, len(reporter.reports)) == (1.0, 1, 1)
    assert not alive(read_pids(tmp_path / "pids")[0])


class StoppingReporter(ListReporter):
    """Stops the trial at its second report the way Ray's session does (SystemExit)."""

    def report(self, metrics: Mapping[str, float], checkpoint_dir: Path | None = None) -> None:
        super().report(metrics, checkpoint_dir)
        if len(self.reports) == 2:
            raise SystemExit(0)


def test_a_stopped_trial_leaves_no_process(tmp_path: Path) -> None:
    write_program(
        tmp_path,
        """
        import os, signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
        child = subprocess.Popen([sys.executable, "-c", code])
        open("pids", "w").write(f"{os.getpid()} {child.pid}")
        for step in range(1000):
            print('[rungs] {"val": %d}' % step, flush=True)
            time.sleep(0.01)
        """,
    )
    request = program_request(tmp_path, grace_seconds=0.3)
    with pytest.raises(SystemExit):
        run_trial(request, StoppingReporter())
    pids = read_pids(tmp_path / "pids")
    assert not any(alive(pid) for pid in pids)  # the program and its grandchild: gone on return
    assert not (tmp_path / "trial-log" / PID_FILE).exists()


def test_program_parameters_must_not_collide_with_searched_ones(tmp_path: Path) -> None:
    request = program_request(tmp_path, {"epochs": 4}, program_parameters={"epochs": "epochs"})
    with pytest.raises(ValueError, match="program_parameters.epochs is 'epochs', which is also"):
        run_trial(request, ListReporter())
    request = program_request(tmp_path, program_parameters={"batch": "bs"})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['batch'\]"):
        run_trial(request, ListReporter())


def test_numbers_are_kept_as_reported(tmp_path: Path) -> None:
    write_program(tmp_path, 'print(\'[rungs] {"val": 1e308, "tiny": -0.0}\')\n')
    reporter = ListReporter()
    run_trial(program_request(tmp_path), reporter)
    assert reporter.reports == [{"val": 1e308, "tiny": -0.0, "epoch": 1}]
    assert math.copysign(1.0, reporter.reports[0]["tiny"]) == -1.0
