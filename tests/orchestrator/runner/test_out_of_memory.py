"""Out of memory is its own outcome: classified, recorded with its own reason, reported instead
of raised (so Ray never retries it), the cached memory freed, and told to TPE as infeasible
(also after a resume)."""

from __future__ import annotations

from typing import Any

import pytest
from optuna.trial import TrialState

from orchestrator.runner import jobs, tags, trainable
from orchestrator.runner.out_of_memory import is_oom, oom_reason
from orchestrator.runner.pipeline import resume_sweep, run_sweep
from orchestrator.runner.proposers import TPEProposer
from orchestrator.runner.searchers import StageSearcher, VariantBudget
from stages.space import Numeric
from trainers.api import DataRequest, ListReporter, TrialRequest

SWEEP = """
name: oom
method: bayes
metric: {name: score, goal: maximize}
model: {name: synthetic, fixed: {oom_above: 4096}}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
  batch_size: {values: [16, 64, 128]}
  hidden: {values: [32, 128]}
epochs: 3
stages:
  - {name: stage1, subset: 2000, trials: 12}
selection: {k: 1, require_full_budget: false}
validation: {enabled: false}
wandb: false
"""


def test_out_of_memory_errors_are_told_apart_from_other_errors():
    import torch

    cuda = RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
    for exc in (MemoryError("x"), cuda, torch.OutOfMemoryError("CUDA out of memory")):
        reason = oom_reason(exc)
        assert reason is not None and reason.startswith("out of memory: ") and is_oom(reason)
    assert oom_reason(ValueError("bad shape")) is None
    assert not is_oom("RuntimeError: boom") and not is_oom(None)


def _request(**hparams: Any) -> TrialRequest:
    return TrialRequest("synthetic", "", hparams, DataRequest(), subset_size=2000, epochs=2)


def test_an_oom_is_returned_as_its_reason_after_freeing_memory(monkeypatch):
    freed: list[bool] = []
    monkeypatch.setattr(trainable, "release_cached_memory", lambda: freed.append(True))
    too_big = _request(batch_size=64, hidden=128, oom_above=4096)
    reason = trainable.train_or_oom(too_big, ListReporter())
    assert isinstance(reason, str) and reason.startswith("out of memory: MemoryError: synthetic")
    assert freed == [True]
    report = trainable.outcome_report(reason, {}, "score")  # an outcome: Ray retries errors only
    assert (report[tags.STATUS], report[tags.REASON]) == ("failed", reason)
    with pytest.raises(RuntimeError, match="synthetic crash"):  # any other error: Ray's to handle
        trainable.train_or_oom(_request(crash_at_epoch=1), ListReporter())
    assert freed == [True]


def test_the_searcher_tells_tpe_an_oom_trial_as_infeasible_and_a_crash_as_failed():
    space = {"lr": Numeric(1e-4, 1e-2, log=True)}
    proposer = TPEProposer(space, "maximize", seed=0)
    searcher = StageSearcher(
        [VariantBudget("main", remaining=2, proposer=proposer)],
        metric="score",
        mode="max",
        fixed={},
        decisions={},
    )
    oom = {tags.FINAL: 1, tags.STATUS: "failed", tags.REASON: "out of memory: MemoryError: x"}
    crash = {tags.FINAL: 1, tags.STATUS: "failed", tags.REASON: "RuntimeError: boom"}
    for trial_id, result in (("a", oom), ("b", crash)):
        searcher.suggest(trial_id)
        searcher.on_trial_complete(trial_id, result)
    told_oom, told_crash = proposer.study.get_trials(deepcopy=False)
    assert (told_oom.state, told_oom.constraints) == (TrialState.PRUNED, {"out_of_memory": 1.0})
    assert (told_crash.state, told_crash.constraints) == (TrialState.FAIL, {})


class Spy(TPEProposer):
    """TPE that remembers every outcome it is told."""

    told: list[str] = []

    def tell(self, config, value, outcome):  # type: ignore[no-untyped-def]
        Spy.told.append(outcome)
        super().tell(config, value, outcome)


@pytest.fixture
def spy(monkeypatch):
    Spy.told = []
    monkeypatch.setattr(
        jobs, "make_proposer", lambda method, space, goal, seed: Spy(space, goal, seed)
    )
    return Spy


def test_a_sweep_records_oom_trials_once_and_steers_tpe_also_after_resume(
    storage, make_sweep, tmp_path, sim_executor_cls, spy
):
    sweep_id = make_sweep(SWEEP)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(
            storage,
            sweep_id,
            workdir=tmp_path / "w",
            executor=sim_executor_cls(tmp_path, interrupt_stage="stage1", interrupt_after=10),
            progress=False,
        )
    before = [t.key for t in storage.get_trials(sweep_id, status="failed")]
    stored = [t for t in storage.get_trials(sweep_id) if t.status != "running"]
    spy.told = []
    resume_sweep(
        storage,
        sweep_id,
        workdir=tmp_path / "w",
        executor=sim_executor_cls(tmp_path),
        progress=False,
    )
    trials = storage.get_trials(sweep_id, stage="stage1")
    assert len(trials) == 12 and len({t.key for t in trials}) == 12  # none run twice
    too_big = [t for t in trials if t.config["batch_size"] * t.config["hidden"] > 4096]
    assert too_big, "TPE's random start-up proposes some of the 2 too-big shapes out of 6"
    for t in trials:
        if t in too_big:
            assert (t.status, t.stop_reason["rule"]) == ("failed", "out_of_memory")
            assert t.stop_reason["message"].startswith("out of memory: MemoryError: synthetic")
            assert storage.get_results(t.id) == []
        else:
            assert t.status == "completed"
    # the resumed stage told TPE its stored out-of-memory trials as such, then the new ones
    assert before and spy.told.count("out_of_memory") == len(too_big)
    assert spy.told[: len(stored)].count("out_of_memory") == len(before)
