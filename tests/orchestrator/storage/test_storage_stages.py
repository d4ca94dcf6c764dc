"""Stages: upsert on (sweep_id, name), states and their timestamps, order by position."""

from __future__ import annotations

import pytest

from orchestrator.storage import SQLStorage


def test_upsert_creates_then_updates_the_same_stage(storage: SQLStorage, sweep_id: int) -> None:
    first = storage.upsert_stage(sweep_id, "s1", position=0, kind="search", plan={"n": 8})
    again = storage.upsert_stage(
        sweep_id,
        "s1",
        position=0,
        kind="search",
        plan={"n": 16},
        space={"lr": [1, 2]},
        state="running",
    )
    assert again == first
    (stage,) = storage.get_stages(sweep_id)
    assert (stage.id, stage.sweep_id, stage.name, stage.kind) == (first, sweep_id, "s1", "search")
    assert (stage.plan, stage.space, stage.state, stage.summary) == (
        {"n": 16},
        {"lr": [1, 2]},
        "running",
        None,
    )


def test_same_stage_name_in_two_sweeps_is_two_stages(storage: SQLStorage, sweep_id: int) -> None:
    other = storage.create_sweep("other", {}, "")
    a = storage.upsert_stage(sweep_id, "s1", position=0, kind="search", plan={})
    b = storage.upsert_stage(other, "s1", position=0, kind="search", plan={})
    assert a != b


def test_get_stages_is_ordered_by_position(storage: SQLStorage, sweep_id: int) -> None:
    for name, position in (("validate", 4), ("s1", 0), ("select", 3), ("s2", 1)):
        storage.upsert_stage(sweep_id, name, position=position, kind="search", plan={})
    assert [stage.name for stage in storage.get_stages(sweep_id)] == [
        "s1",
        "s2",
        "select",
        "validate",
    ]


def test_empty_sweep_has_no_stages(storage: SQLStorage, sweep_id: int) -> None:
    assert storage.get_stages(sweep_id) == []


def test_stage_state_stamps_times_and_keeps_summary(
    storage: SQLStorage, sweep_id: int, stage_id: int
) -> None:
    storage.set_stage_state(stage_id, "running")
    (running,) = storage.get_stages(sweep_id)
    assert running.started_at is not None and running.finished_at is None
    storage.set_stage_state(stage_id, "running")  # a resume keeps the first start
    assert storage.get_stages(sweep_id)[0].started_at == running.started_at
    storage.set_stage_state(stage_id, "completed", summary={"best": 12.5, "top": [3, 1]})
    (done,) = storage.get_stages(sweep_id)
    assert done.state == "completed" and done.summary == {"best": 12.5, "top": [3, 1]}
    assert done.finished_at is not None and done.finished_at >= running.started_at


def test_stage_errors(storage: SQLStorage, stage_id: int) -> None:
    with pytest.raises(KeyError, match="no stage with id 999"):
        storage.set_stage_state(999, "running")
    with pytest.raises(ValueError, match="state='done'"):
        storage.set_stage_state(stage_id, "done")
