"""Workers claim queued sweeps atomically: two workers at once run each sweep exactly once."""

from __future__ import annotations

import threading
from collections import Counter

from orchestrator.storage import SQLStorage
from orchestrator.storage.base import BaseStorage
from orchestrator.worker import work


class FakeRunner:
    """Records who ran what. The first sweep of each worker waits until both workers hold one,
    so the test proves the claims really overlapped (a synchronisation, not a timing bet)."""

    def __init__(self, workers: int) -> None:
        self.runs: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._all_busy = threading.Event()
        self._workers = workers

    def __call__(self, storage: BaseStorage, sweep_id: int, owner: str) -> None:
        with self._lock:
            self.runs.append((threading.current_thread().name, sweep_id))
            if len({name for name, _ in self.runs}) == self._workers:
                self._all_busy.set()
        self._all_busy.wait(timeout=30)
        if storage.get_sweep(sweep_id).name == "broken":
            raise ValueError("the trainer exploded")
        storage.set_sweep_state(sweep_id, "completed")


def _run_workers(url: str, runner: FakeRunner, count: int) -> list[int]:
    ran = [0] * count

    def one(i: int) -> None:
        ran[i] = work(
            url, name=f"w{i}", poll_seconds=0.05, idle_exit_seconds=0.5, max_sweeps=10,
            runner=runner,
        )  # fmt: skip

    threads = [threading.Thread(target=one, args=(i,), name=f"w{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker did not exit"
    return ran


def test_two_workers_run_each_of_four_sweeps_exactly_once(db_url: str, storage: SQLStorage) -> None:
    ids = [storage.create_sweep(f"s{i}", {}, "name: s\n") for i in range(4)]
    runner = FakeRunner(workers=2)
    ran = _run_workers(db_url, runner, 2)
    assert Counter(sweep for _, sweep in runner.runs) == Counter(ids)  # each once, none twice
    assert sum(ran) == 4 and min(ran) >= 1  # both took part
    assert {storage.get_sweep(i).state for i in ids} == {"completed"}
    owners = {storage.get_sweep(i).worker for i in ids}
    assert owners == {"w0", "w1"}


def test_a_failing_sweep_is_marked_failed_and_the_worker_goes_on(
    db_url: str, storage: SQLStorage
) -> None:
    broken = storage.create_sweep("broken", {}, "name: broken\n")
    fine = storage.create_sweep("fine", {}, "name: fine\n")
    runner = FakeRunner(workers=1)
    assert _run_workers(db_url, runner, 1) == [2]
    failed = storage.get_sweep(broken)
    assert failed.state == "failed" and failed.error == "ValueError: the trainer exploded"
    assert storage.get_sweep(fine).state == "completed"


def test_cancelled_sweeps_are_not_claimed(db_url: str, storage: SQLStorage) -> None:
    cancelled = storage.create_sweep("c", {}, "name: c\n")
    storage.set_sweep_state(cancelled, "cancelled")
    runner = FakeRunner(workers=1)
    assert _run_workers(db_url, runner, 1) == [0] and runner.runs == []
