"""Sweep leases on SQLite and PostgreSQL: claim, take over, acquire, renew, release, re-queue.

A lease of -1 s is one that expired a second ago: expiry without waiting for a clock."""

from __future__ import annotations

import threading

from orchestrator.storage import SQLStorage

LIVE, EXPIRED = 30.0, -1.0


def _running(storage: SQLStorage, owner: str, seconds: float) -> int:
    sweep_id = storage.create_sweep("s", {}, "")
    assert storage.acquire_lease(sweep_id, owner, seconds)
    return sweep_id


def test_a_claim_holds_a_live_lease_no_other_worker_can_claim(storage: SQLStorage) -> None:
    sweep_id = storage.create_sweep("s", {}, "")
    claimed = storage.claim_next_sweep("a", LIVE)
    assert claimed is not None and claimed.id == sweep_id
    assert (claimed.state, claimed.worker) == ("running", "a")
    assert claimed.lease_expires_at is not None and claimed.lease_expires_at > claimed.created_at
    assert storage.claim_next_sweep("b", LIVE) is None
    assert storage.renew_lease(sweep_id, "a", LIVE)


def test_a_sweep_whose_lease_expired_is_taken_over_and_its_old_owner_is_shut_out(
    storage: SQLStorage,
) -> None:
    sweep_id = _running(storage, "dead", EXPIRED)
    taken = storage.claim_next_sweep("alive", LIVE)
    assert taken is not None and (taken.id, taken.worker, taken.state) == (
        sweep_id,
        "alive",
        "running",
    )
    # the old owner wakes up: it can neither renew nor end the sweep it lost
    assert not storage.renew_lease(sweep_id, "dead", LIVE)
    assert not storage.release_lease(sweep_id, "dead", "completed")
    after = storage.get_sweep(sweep_id)
    assert (after.state, after.worker, after.lease_expires_at) == (
        "running",
        "alive",
        taken.lease_expires_at,
    )


def test_a_running_sweep_without_a_lease_is_left_to_a_resume(storage: SQLStorage) -> None:
    sweep_id = storage.create_sweep("s", {}, "", state="running")  # rows from before leases
    assert storage.claim_next_sweep("w", LIVE) is None
    assert not storage.requeue_sweep(sweep_id)  # who runs it is unknown
    assert storage.acquire_lease(sweep_id, "cli", LIVE)  # `rungs resume` may take it


def test_acquire_refuses_a_live_lease_unless_it_is_ours_or_its_holder_is_dead(
    storage: SQLStorage,
) -> None:
    sweep_id = _running(storage, "a", LIVE)
    assert not storage.acquire_lease(sweep_id, "b", LIVE)
    assert storage.get_sweep(sweep_id).worker == "a"
    assert storage.acquire_lease(sweep_id, "a", LIVE)  # our own lease: taken again
    assert not storage.acquire_lease(sweep_id, "b", LIVE, replacing="c")
    assert storage.acquire_lease(sweep_id, "b", LIVE, replacing="a")
    assert storage.get_sweep(sweep_id).worker == "b"


def test_a_completed_sweep_cannot_be_acquired(storage: SQLStorage) -> None:
    sweep_id = _running(storage, "a", LIVE)
    assert storage.release_lease(sweep_id, "a", "completed")
    assert not storage.acquire_lease(sweep_id, "a", LIVE)
    assert storage.get_sweep(sweep_id).state == "completed"


def test_cancel_then_resume_waits_for_the_old_runner_to_give_the_lease_back(
    storage: SQLStorage,
) -> None:
    sweep_id = _running(storage, "old", LIVE)
    storage.set_sweep_state(sweep_id, "cancelled")
    assert not storage.renew_lease(sweep_id, "old", LIVE)  # the old run learns it must stop
    assert storage.requeue_sweep(sweep_id)
    assert storage.get_sweep(sweep_id).state == "queued"
    assert storage.claim_next_sweep("new", LIVE) is None  # the old run may still be stopping
    assert not storage.release_lease(sweep_id, "old", "cancelled")  # not running: no state
    assert storage.get_sweep(sweep_id).state == "queued"
    claimed = storage.claim_next_sweep("new", LIVE)
    assert claimed is not None and claimed.worker == "new"


def test_the_api_requeues_a_running_sweep_only_once_its_lease_expired(
    storage: SQLStorage,
) -> None:
    live = _running(storage, "a", LIVE)
    stale = _running(storage, "b", EXPIRED)
    assert not storage.requeue_sweep(live)
    assert storage.requeue_sweep(stale)
    assert [storage.get_sweep(i).state for i in (live, stale)] == ["running", "queued"]


def test_release_ends_the_sweep_in_its_state_with_the_error(storage: SQLStorage) -> None:
    sweep_id = _running(storage, "a", LIVE)
    assert storage.release_lease(sweep_id, "a", "failed", error="DatabaseOutage: gone")
    sweep = storage.get_sweep(sweep_id)
    assert (sweep.state, sweep.error, sweep.lease_expires_at) == (
        "failed",
        "DatabaseOutage: gone",
        None,
    )
    assert storage.acquire_lease(sweep_id, "b", LIVE)  # failed sweeps resume
    assert storage.get_sweep(sweep_id).error is None


def test_concurrent_workers_take_over_each_orphaned_sweep_exactly_once(storage_url: str) -> None:
    setup = SQLStorage(storage_url)
    orphans = {_running(setup, "dead", EXPIRED) for _ in range(12)}
    claims: dict[str, list[int]] = {}

    def work(worker: str) -> None:
        own = SQLStorage(storage_url, create_tables=False)
        mine = claims.setdefault(worker, [])
        while (sweep := own.claim_next_sweep(worker, LIVE)) is not None:
            mine.append(sweep.id)
        own.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = [sweep for mine in claims.values() for sweep in mine]
    assert sorted(taken) == sorted(orphans)
    for worker, mine in claims.items():
        assert all(setup.get_sweep(sweep).worker == worker for sweep in mine)
    setup.close()
