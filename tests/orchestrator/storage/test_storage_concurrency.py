"""Several writers at once: processes, threads, and a reader following the cursor."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from orchestrator.storage import ResultRow, SQLStorage
from tests.orchestrator.storage._writers import append_in_lockstep


def _trials(storage: SQLStorage, stage_id: int, n: int) -> list[int]:
    return [storage.create_trial(stage_id, variant="v", key=f"t{i}", config={}) for i in range(n)]


def _batches(pairs: list[tuple[int, int]], size: int) -> list[list[tuple[int, int]]]:
    return [pairs[i : i + size] for i in range(0, len(pairs), size)]


def test_two_processes_append_without_losing_rows(
    storage: SQLStorage, storage_url: str, sweep_id: int, stage_id: int
) -> None:
    """Two processes append in lockstep (a barrier releases each round's calls together): in
    the first ten rounds both insert the very same 20 rows, then each its own 50."""
    own_a, own_b, shared = _trials(storage, stage_id, 3)
    overlap = _batches([(shared, step) for step in range(200)], 20)
    work = [
        overlap + _batches([(own_a, s) for s in range(500)], 50),
        overlap + _batches([(own_b, s) for s in range(500)], 50),
    ]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(2) as pool:
        barrier = manager.Barrier(2)
        new_counts = pool.starmap(
            append_in_lockstep, [(storage_url, batches, barrier) for batches in work]
        )
    assert sum(new_counts) == 1200  # every distinct row counted once, by whoever wrote it first
    assert min(new_counts) >= 500
    for trial, steps in ((own_a, 500), (own_b, 500), (shared, 200)):
        assert [r.step for r in storage.get_results(trial)] == list(range(steps))
    assert len(storage.results_after(sweep_id)) == 1200


def test_cursor_sees_every_row_once_while_writers_append(
    storage: SQLStorage, storage_url: str, sweep_id: int, stage_id: int
) -> None:
    trials = _trials(storage, stage_id, 2)

    def write(trial: int) -> None:
        own = SQLStorage(storage_url, create_tables=False)
        for start in range(0, 300, 10):
            own.append_results(ResultRow(trial, s, {"s": s}) for s in range(start, start + 10))
        own.close()

    writers = [threading.Thread(target=write, args=(trial,)) for trial in trials]
    for writer in writers:
        writer.start()
    seen: list = []
    cursor, writing = 0, True
    while writing:
        writing = any(writer.is_alive() for writer in writers)  # one more pass after they end
        while page := storage.results_after(sweep_id, cursor, limit=37):
            seen.extend(page)
            cursor = page[-1].id
    assert len(seen) == 600 and len({r.id for r in seen}) == 600
    assert sorted((r.trial_id, r.step) for r in seen) == sorted(
        (trial, step) for trial in trials for step in range(300)
    )


def test_concurrent_create_trial_returns_one_id(
    storage: SQLStorage, storage_url: str, stage_id: int
) -> None:
    ids: list[int] = []

    def create() -> None:
        own = SQLStorage(storage_url, create_tables=False)
        ids.extend(
            own.create_trial(stage_id, variant="v", key=f"k{i}", config={"i": i}) for i in range(10)
        )
        own.close()

    threads = [threading.Thread(target=create) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == 30 and len(set(ids)) == 10
    assert storage.count_trials(storage.get_trial(ids[0]).sweep_id) == 10


def _wait_for(condition: Callable[[], bool], what: str, deadline_s: float = 60.0) -> None:
    """Poll ``condition`` (a deadline for a hang, not a timing assertion)."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def test_postgres_writers_of_one_sweep_take_turns(postgres_url: str) -> None:
    """A second writer of the same sweep waits for the first to commit before it draws ids,
    so a reader can never see a larger id while a smaller one is still uncommitted."""
    storage = SQLStorage(postgres_url)
    sweep = storage.create_sweep("s", {}, "")
    stage = storage.upsert_stage(sweep, "s1", position=0, kind="search", plan={})
    slow, fast = _trials(storage, stage, 2)
    monitor = create_engine(postgres_url, poolclass=NullPool)
    waiting = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    second = threading.Thread(target=storage.append_results, args=([ResultRow(fast, 0, {})],))
    with storage._session(write=True) as session:  # the first writer, paused before commit
        assert storage._insert_results(session, [ResultRow(slow, 0, {})]) == 1
        second.start()
        with monitor.connect() as conn:
            _wait_for(lambda: conn.execute(waiting).scalar_one() == 1, "the second writer to wait")
        assert storage.results_after(sweep) == []
    second.join()
    assert [r.trial_id for r in storage.results_after(sweep)] == [slow, fast]
    monitor.dispose()
    storage.close()
