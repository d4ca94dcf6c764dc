"""The state machine: stored strings, final and terminal states, allowed moves."""

from __future__ import annotations

import json

import pytest

from stages.states import StageState, SweepState, TrialState


def test_values_are_the_stored_strings():
    assert [s.value for s in SweepState] == [
        "queued", "running", "completed", "failed", "cancelled", "interrupted",
    ]  # fmt: skip
    assert [s.value for s in StageState] == [
        "pending", "running", "completed", "failed", "cancelled",
    ]  # fmt: skip
    assert [s.value for s in TrialState] == [
        "pending", "running", "completed", "early_stopped", "diverged", "failed", "cancelled",
    ]  # fmt: skip
    # a member is its string wherever it goes: comparisons, f-strings, JSON, dict keys
    assert TrialState.EARLY_STOPPED == "early_stopped" and f"{SweepState.QUEUED}" == "queued"
    assert json.dumps([StageState.RUNNING]) == '["running"]'
    assert {TrialState.FAILED: 1}["failed"] == 1


def test_final_states():
    assert set(SweepState.finals()) == {"completed", "failed", "cancelled", "interrupted"}
    assert set(StageState.finals()) == {"completed", "failed", "cancelled"}
    assert set(TrialState.finals()) == {
        "completed", "early_stopped", "diverged", "failed", "cancelled",
    }  # fmt: skip
    assert not SweepState.QUEUED.is_final and not TrialState.RUNNING.is_final


def test_a_resume_keeps_terminal_trials_and_reruns_cancelled_ones():
    terminal = {s for s in TrialState if s.is_terminal}
    assert terminal == {"completed", "early_stopped", "diverged", "failed"}
    assert TrialState.CANCELLED.is_final and TrialState.CANCELLED.can_become(TrialState.RUNNING)


@pytest.mark.parametrize("machine", [SweepState, StageState, TrialState])
def test_running_may_end_in_every_final_state(machine):
    assert all(machine("running").can_become(s) for s in machine.finals())


def test_nothing_goes_back_to_pending():
    assert StageState.leading_to(StageState.PENDING) == ()
    assert TrialState.leading_to(TrialState.PENDING) == ()


def test_sweep_moves_the_api_and_the_cli_rely_on():
    cancellable = SweepState.leading_to(SweepState.CANCELLED)
    assert set(cancellable) == {"queued", "running"}
    # the API re-queues a running sweep only once its lease expired (storage.leases checks that)
    requeueable = SweepState.leading_to(SweepState.QUEUED)
    assert set(requeueable) == {"running", "interrupted", "failed", "cancelled"}
    # `rungs resume` also takes a sweep a killed process left running
    resumable = SweepState.leading_to(SweepState.RUNNING)
    assert set(resumable) == {"queued", "running", "interrupted", "failed", "cancelled"}
    assert SweepState.COMPLETED.is_terminal


def test_check_names_the_valid_states():
    assert SweepState.check("running") is SweepState.RUNNING
    with pytest.raises(ValueError, match=r"SweepState must be one of \['queued'.*state='done'"):
        SweepState.check("done")
