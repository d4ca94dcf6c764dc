"""Trials: idempotent creation, partial updates, immutable config, filtered/ordered listing."""

from __future__ import annotations

import pytest

from orchestrator.storage import SQLStorage


def test_create_trial_defaults(storage: SQLStorage, sweep_id: int, stage_id: int) -> None:
    trial_id = storage.create_trial(stage_id, variant="hyperband", key="k0", config={"lr": 1e-3})
    trial = storage.get_trial(trial_id)
    assert (trial.sweep_id, trial.stage_id, trial.stage_name) == (sweep_id, stage_id, "stage1")
    assert (trial.variant, trial.key, trial.config, trial.seed) == (
        "hyperband",
        "k0",
        {"lr": 1e-3},
        0,
    )
    assert (trial.status, trial.epochs, trial.compute_seconds) == ("running", 0, 0.0)
    assert (trial.best_value, trial.last_value, trial.stop_reason) == (None, None, None)
    assert trial.started_at is not None and trial.finished_at is None


def test_default_names_count_per_variant(storage: SQLStorage, stage_id: int) -> None:
    names = [
        storage.get_trial(storage.create_trial(stage_id, variant=v, key=k, config={})).name
        for v, k in (("hb", "a"), ("hb", "b"), ("median", "c"))
    ]
    assert names == ["stage1-hb-1", "stage1-hb-2", "stage1-median-1"]
    named = storage.create_trial(stage_id, variant="hb", key="d", config={}, name="best-guess")
    assert storage.get_trial(named).name == "best-guess"


def test_create_trial_is_idempotent_on_stage_and_key(storage: SQLStorage, stage_id: int) -> None:
    first = storage.create_trial(stage_id, variant="hb", key="k", config={"lr": 1})
    again = storage.create_trial(stage_id, variant="hb", key="k", config={"lr": 2}, seed=7)
    assert again == first
    assert storage.get_trial(first).config == {"lr": 1} and storage.get_trial(first).seed == 0
    other_stage = storage.upsert_stage(
        storage.get_trial(first).sweep_id, "stage2", position=1, kind="search", plan={}
    )
    assert storage.create_trial(other_stage, variant="hb", key="k", config={}) != first


def test_pending_trial_starts_when_it_runs(storage: SQLStorage, stage_id: int) -> None:
    trial_id = storage.create_trial(stage_id, variant="v", key="k", config={}, status="pending")
    assert storage.get_trial(trial_id).started_at is None
    storage.update_trial(trial_id, status="running")
    assert storage.get_trial(trial_id).started_at is not None


def test_update_changes_only_given_fields(storage: SQLStorage, stage_id: int) -> None:
    trial_id = storage.create_trial(stage_id, variant="v", key="k", config={"lr": 0.1}, seed=42)
    storage.update_trial(trial_id, best_value=10.5, last_value=9.0, epochs=3, compute_seconds=4.5)
    storage.update_trial(trial_id, last_value=8.0, epochs=4)
    trial = storage.get_trial(trial_id)
    assert (trial.best_value, trial.last_value, trial.epochs, trial.compute_seconds) == (
        10.5,
        8.0,
        4,
        4.5,
    )
    assert (trial.status, trial.finished_at) == ("running", None)


def test_final_trial_keeps_config_and_status_may_be_corrected(
    storage: SQLStorage, stage_id: int
) -> None:
    trial_id = storage.create_trial(stage_id, variant="v", key="k", config={"lr": 0.1, "layers": 4})
    reason = {"rule": "hyperband", "band": 3, "threshold": 7.5}
    storage.update_trial(trial_id, status="early_stopped", stop_reason=reason, finished=True)
    storage.update_trial(trial_id, status="completed", stop_reason={"rule": "none"})
    trial = storage.get_trial(trial_id)
    assert trial.config == {"lr": 0.1, "layers": 4}
    assert (trial.status, trial.stop_reason) == ("completed", {"rule": "none"})
    assert trial.finished_at is not None


def test_non_finite_values_are_stored_as_null(storage: SQLStorage, stage_id: int) -> None:
    trial_id = storage.create_trial(stage_id, variant="v", key="k", config={})
    storage.update_trial(
        trial_id, status="diverged", best_value=float("nan"), last_value=float("-inf")
    )
    trial = storage.get_trial(trial_id)
    assert (trial.status, trial.best_value, trial.last_value) == ("diverged", None, None)


def test_trial_errors(storage: SQLStorage, stage_id: int) -> None:
    with pytest.raises(KeyError, match="no stage with id 777"):
        storage.create_trial(777, variant="v", key="k", config={})
    for call in (
        lambda: storage.get_trial(888),
        lambda: storage.update_trial(888, epochs=1),
        lambda: storage.get_results(888),
    ):
        with pytest.raises(KeyError, match="no trial with id 888"):
            call()
    with pytest.raises(ValueError, match="state='paused'"):
        storage.create_trial(stage_id, variant="v", key="k", config={}, status="paused")
