"""Sweeps: create/get/list, states, and the atomic claim."""

from __future__ import annotations

import threading
from datetime import UTC

import pytest

from orchestrator.storage import SQLStorage
from stages.states import SweepState


def test_create_and_get_round_trip(storage: SQLStorage) -> None:
    spec = {"metric": {"name": "si_sdr", "goal": "maximize"}, "stages": [{"subset": 2000}]}
    sweep_id = storage.create_sweep("demo", spec, "name: demo\n", source_path="/tmp/demo.yaml")
    sweep = storage.get_sweep(sweep_id)
    assert (sweep.id, sweep.name, sweep.state) == (sweep_id, "demo", "queued")
    assert (sweep.spec, sweep.yaml_text, sweep.source_path) == (
        spec,
        "name: demo\n",
        "/tmp/demo.yaml",
    )
    assert (sweep.error, sweep.worker) == (None, None)
    assert sweep.created_at.tzinfo == UTC and sweep.updated_at >= sweep.created_at


def test_json_keeps_key_order_and_drops_non_finite_numbers(storage: SQLStorage) -> None:
    spec = {"zeta": 1, "alpha": {"lr": float("nan"), "max": float("inf")}, "mid": [1.5, 2]}
    sweep = storage.get_sweep(storage.create_sweep("s", spec, ""))
    assert list(sweep.spec) == ["zeta", "alpha", "mid"]
    assert sweep.spec["alpha"] == {"lr": None, "max": None} and sweep.spec["mid"] == [1.5, 2]


def test_list_sweeps_oldest_first(storage: SQLStorage) -> None:
    ids = [storage.create_sweep(f"s{i}", {}, "") for i in range(3)]
    assert [sweep.id for sweep in storage.list_sweeps()] == ids


def test_set_sweep_state_sets_and_clears_error(storage: SQLStorage, sweep_id: int) -> None:
    storage.set_sweep_state(sweep_id, "failed", error="CUDA out of memory")
    assert (storage.get_sweep(sweep_id).state, storage.get_sweep(sweep_id).error) == (
        "failed",
        "CUDA out of memory",
    )
    storage.set_sweep_state(sweep_id, "queued")
    assert (storage.get_sweep(sweep_id).state, storage.get_sweep(sweep_id).error) == (
        "queued",
        None,
    )


def test_a_state_enum_is_stored_as_its_plain_string(storage: SQLStorage, sweep_id: int) -> None:
    storage.set_sweep_state(sweep_id, SweepState.INTERRUPTED)
    state = storage.get_sweep(sweep_id).state
    assert state == "interrupted" and type(state) is str
    assert [s.id for s in storage.list_sweeps() if s.state == "interrupted"] == [sweep_id]


def test_unknown_state_is_refused(storage: SQLStorage, sweep_id: int) -> None:
    with pytest.raises(ValueError, match="state='done'"):
        storage.set_sweep_state(sweep_id, "done")
    with pytest.raises(ValueError, match="state='new'"):
        storage.create_sweep("s", {}, "", state="new")


def test_missing_sweep_raises_key_error_naming_the_id(storage: SQLStorage) -> None:
    for call in (
        lambda: storage.get_sweep(4242),
        lambda: storage.set_sweep_state(4242, "running"),
        lambda: storage.get_stages(4242),
        lambda: storage.results_after(4242),
        lambda: storage.upsert_stage(4242, "s", position=0, kind="search", plan={}),
    ):
        with pytest.raises(KeyError, match="no sweep with id 4242"):
            call()


def test_claim_takes_oldest_queued_and_marks_owner(storage: SQLStorage) -> None:
    first = storage.create_sweep("first", {}, "")
    storage.create_sweep("running", {}, "", state="running")
    second = storage.create_sweep("second", {}, "")
    claimed = storage.claim_next_sweep("worker-a", 30)
    assert claimed is not None
    assert (claimed.id, claimed.state, claimed.worker) == (first, "running", "worker-a")
    assert storage.get_sweep(first).worker == "worker-a"
    assert storage.claim_next_sweep("worker-b", 30) == storage.get_sweep(second)
    assert storage.claim_next_sweep("worker-c", 30) is None


def test_concurrent_workers_never_claim_the_same_sweep(storage_url: str) -> None:
    setup = SQLStorage(storage_url)
    queued = {setup.create_sweep(f"s{i}", {}, "") for i in range(24)}
    claims: dict[str, list[int]] = {}

    def work(worker: str) -> None:
        own = SQLStorage(storage_url, create_tables=False)
        mine = claims.setdefault(worker, [])
        while (sweep := own.claim_next_sweep(worker, 30)) is not None:
            mine.append(sweep.id)
        own.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    all_claims = [sweep for mine in claims.values() for sweep in mine]
    assert sorted(all_claims) == sorted(queued)  # each exactly once
    for worker, mine in claims.items():
        assert all(setup.get_sweep(sweep).worker == worker for sweep in mine)
    setup.close()
