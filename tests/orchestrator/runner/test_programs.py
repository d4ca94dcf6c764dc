"""What the runner adds to a program trial, without Ray running: its request, its reports, its
failures told to the proposer, ``metric.target`` and quantised log parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
from ray.tune.search import Searcher

from orchestrator.paths import UnsafePath
from orchestrator.runner import tags
from orchestrator.runner.programs import (
    MetricReports,
    ProgramTrials,
    program_hparams,
    resource_environment,
    trial_log_dir,
    wandb_environment,
)
from orchestrator.runner.proposers import RandomProposer, TPEProposer
from orchestrator.runner.recorder import Recorder
from orchestrator.runner.searchers import StageSearcher, VariantBudget, trial_outcome
from orchestrator.runner.trainable import failed_report
from stages.space import Numeric
from stages.spec import Program
from trainers.api import DataRequest, ListReporter, TrialRequest

PROGRAM = Program(
    path="train.py",
    workdir="/src",
    parameters={"subset": "train_samples"},
    nested={"opt.lr": ("opt", "lr")},
    grace_seconds=1.5,
)


def test_nested_parameters_become_dicts_and_dotted_names_stay() -> None:
    flat = {"opt.lr": 0.1, "model.depth": 3, "batch": 8}
    assert program_hparams(PROGRAM, flat) == {"opt": {"lr": 0.1}, "model.depth": 3, "batch": 8}


def test_a_trial_request_carries_the_program_its_logs_and_resources(tmp_path: Path) -> None:
    trials = ProgramTrials(
        PROGRAM,
        str(tmp_path),
        "val",
        "maximize",
        "sw",
        "stage1",
        wandb_environment({"mode": "offline", "project": "p"}),
        cpus=2,
        gpus=0.5,
    )
    base = TrialRequest("program", "", {"opt.lr": 0.1}, DataRequest(), 2000, 4, seed=42)
    request = trials.request(base, "main-003", gpu_ids=["1"])
    spec = request.program
    assert spec is not None and request.hparams == {"opt": {"lr": 0.1}}
    assert spec.log_dir == str(tmp_path / "logs" / "stage1" / "main-003")
    assert (spec.program, spec.workdir, spec.grace_seconds) == ("train.py", "/src", 1.5)
    assert (spec.sweep, spec.stage, spec.trial, spec.metric) == ("sw", "stage1", "main-003", "val")
    assert spec.extra_env == {
        "WANDB_MODE": "offline",
        "WANDB_PROJECT": "p",
        "RUNGS_CPUS": "2",
        "CUDA_VISIBLE_DEVICES": "1",
    }
    assert (request.subset_size, request.seed, request.checkpoint_dir) == (2000, 42, None)


def test_a_cpu_trial_sees_no_gpu_and_wandb_false_disables_wandb() -> None:
    assert resource_environment(1, 0, [])["CUDA_VISIBLE_DEVICES"] == ""
    assert resource_environment(1, 0.25, [0])["CUDA_VISIBLE_DEVICES"] == "0"
    assert wandb_environment(None) == {"WANDB_MODE": "disabled"}


def test_log_folders_stay_inside_the_sweep_folder(tmp_path: Path) -> None:
    assert trial_log_dir(tmp_path, "../../etc", "..") == tmp_path / "logs" / "etc" / "trial"
    (tmp_path / "logs").symlink_to("/")
    with pytest.raises(UnsafePath):
        trial_log_dir(tmp_path, "s", "k")


def test_only_reports_with_the_metric_reach_ray_with_what_came_before() -> None:
    inner = ListReporter()
    reports = MetricReports(inner, "val")
    for report in ({"loss": 3.0}, {"loss": 2.0, "lr": 0.1}, {"val": 1.0, "epoch": 1}, {"x": 1}):
        reports.report(report)
    reports.report({"val": 2.0, "epoch": 2})
    assert inner.reports == [
        {"loss": 2.0, "lr": 0.1, "val": 1.0, "epoch": 1},
        {"x": 1, "val": 2.0, "epoch": 2},
    ]


def test_a_failed_program_is_recorded_failed_and_told_as_failed(storage, make_sweep) -> None:
    report = failed_report("exit code 1; last lines of stderr:\nboom", {"val": 0.5}, "val")
    assert trial_outcome("main-000", report, False, {}) == "failed"
    sweep_id = make_sweep()
    stage_id = storage.upsert_stage(sweep_id, "s1", position=0, kind="search", plan={})
    recorder = Recorder(storage, stage_id, metric="val", goal="maximize", decisions={})

    class Trial:
        trial_id = "r1"
        config = {"lr": 0.1, tags.KEY: "main-000", tags.VARIANT: "main", tags.SEED: 0}

    recorder.on_trial_start(0, [], Trial())
    recorder.on_trial_result(0, [], Trial(), {"val": 0.5, "epoch": 1})
    recorder.on_trial_result(0, [], Trial(), report)
    recorder.on_trial_complete(0, [], Trial())
    (trial,) = storage.get_trials(sweep_id)
    assert trial.status == "failed" and trial.stop_reason["message"].endswith("boom")


def _searcher(target: float | None, reached: bool = False) -> StageSearcher:
    space = {"lr": Numeric(1e-4, 1e-2, log=True)}
    budget = VariantBudget("main", 5, RandomProposer(space, 0))
    return StageSearcher(
        [budget],
        metric="val",
        mode="max",
        fixed={},
        decisions={},
        target=target,
        target_reached=reached,
    )


def test_metric_target_stops_new_trials_as_w_and_b_does() -> None:
    searcher = _searcher(target=0.9)
    assert isinstance(searcher.suggest("t1"), dict) and isinstance(searcher.suggest("t2"), dict)
    searcher.on_trial_result("t1", {"val": 0.5})
    assert isinstance(searcher.suggest("t3"), dict)
    searcher.on_trial_result("t2", {"val": 0.95})
    assert searcher.suggest("t4") == Searcher.FINISHED
    assert _searcher(target=0.9, reached=True).suggest("t1") == Searcher.FINISHED
    assert isinstance(_searcher(target=None).suggest("t1"), dict)


def test_tpe_respects_q_on_a_quantised_log_parameter() -> None:
    width = Numeric(8, 64, log=True, integer=True, q=8.0, source="q_log_uniform_values")
    proposer = TPEProposer({"width": width}, "maximize", seed=0)
    seen = []
    for _ in range(14):  # past TPE's random start-up trials
        config = proposer.ask()
        assert config is not None
        seen.append(config["width"])
        proposer.tell(config, -abs(config["width"] - 24), "complete")
    assert all(isinstance(w, int) and w % 8 == 0 and 8 <= w <= 64 for w in seen), seen
