"""Every run holds its sweep's lease: it stops when the lease is lost (cancelled, taken over) and
then writes no state; a resume refuses a sweep that another live process runs, and takes over
one whose owner died on this machine. Runs on the simulated executor (no Ray)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.runner.heartbeat import LeaseHeld, LeaseKeeper, held_lease, lease_seconds
from orchestrator.runner.pipeline import resume_sweep, run_sweep
from orchestrator.storage.base import BaseStorage
from tests.orchestrator.simulated_worker import InProcessExecutor, trace_events

# 6 trials x 5 epochs x 0.1 s: long enough to be stopped half-way.
SLOW = """
name: slow
metric: {name: score, goal: maximize}
model: {name: synthetic, fixed: {sleep_per_epoch: SLEEP}}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
epochs: 5
stages:
  - {name: only, subset: 2000, trials: 6, early_terminate: null}
selection: {k: 1}
validation: {enabled: false}
wandb: false
""".replace("SLEEP", "0.1")
QUICK = SLOW.replace("sleep_per_epoch: 0.1", "sleep_per_epoch: 0.0")


def _wait_for(what: str, condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _results(storage: BaseStorage, sweep_id: int) -> int:
    return sum(len(storage.get_results(t.id)) for t in storage.get_trials(sweep_id))


class Background:
    """``run_sweep`` in a thread, as owner ``a``."""

    def __init__(self, storage: BaseStorage, sweep_id: int, tmp: Path) -> None:
        self.trace = tmp / "trace"
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(storage, sweep_id, tmp))
        self.thread.start()

    def _run(self, storage: BaseStorage, sweep_id: int, tmp: Path) -> None:
        executor = InProcessExecutor(self.trace)
        try:
            run_sweep(storage, sweep_id, progress=False, workdir=tmp, executor=executor, owner="a")
        except BaseException as exc:  # the test reports it
            self.error = exc

    def join(self) -> None:
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the run did not stop"
        assert self.error is None, self.error


def test_a_run_holds_the_lease_while_it_runs_and_gives_it_back(
    storage: BaseStorage, make_sweep: Callable[[str], int], tmp_path: Path
) -> None:
    sweep_id = make_sweep(SLOW)
    run = Background(storage, sweep_id, tmp_path)
    _wait_for("results", lambda: _results(storage, sweep_id) > 0)
    live = storage.get_sweep(sweep_id)
    assert (live.worker, live.state) == ("a", "running") and live.lease_expires_at is not None
    assert not storage.acquire_lease(sweep_id, "b", 30)  # nobody else may run it meanwhile
    run.join()
    done = storage.get_sweep(sweep_id)
    assert (done.state, done.worker, done.lease_expires_at) == ("completed", "a", None)


def test_a_run_whose_lease_was_taken_over_stops_and_leaves_the_sweep_to_its_new_owner(
    storage: BaseStorage, make_sweep: Callable[[str], int], tmp_path: Path
) -> None:
    sweep_id = make_sweep(SLOW)
    run = Background(storage, sweep_id, tmp_path)
    _wait_for("results", lambda: _results(storage, sweep_id) > 0)
    assert storage.acquire_lease(sweep_id, "b", 30, replacing="a")  # as if "a" had died
    run.join()
    sweep = storage.get_sweep(sweep_id)
    assert (sweep.state, sweep.worker) == ("running", "b")  # "a" wrote no final state
    assert storage.get_stages(sweep_id)[0].state != "completed"
    assert len(storage.get_trials(sweep_id)) < 6  # it stopped half-way
    events = trace_events(run.trace)
    assert [e for e, *_ in events].count("open") == [e for e, *_ in events].count("close")


def test_a_cancel_stops_the_run_at_its_next_epoch(
    storage: BaseStorage, make_sweep: Callable[[str], int], tmp_path: Path
) -> None:
    sweep_id = make_sweep(SLOW)
    run = Background(storage, sweep_id, tmp_path)
    _wait_for("results", lambda: _results(storage, sweep_id) > 0)
    storage.set_sweep_state(sweep_id, "cancelled")
    run.join()
    sweep = storage.get_sweep(sweep_id)
    assert (sweep.state, sweep.lease_expires_at) == ("cancelled", None)  # lease given back
    statuses = [t.status for t in storage.get_trials(sweep_id)]
    assert "cancelled" in statuses and "running" not in statuses and len(statuses) < 6
    assert storage.get_stages(sweep_id)[0].state == "cancelled"


def test_resume_refuses_a_sweep_another_live_process_runs(
    storage: BaseStorage, make_sweep: Callable[[str], int], tmp_path: Path
) -> None:
    sweep_id = make_sweep(QUICK)
    assert storage.acquire_lease(sweep_id, "elsewhere:1", 30)
    with pytest.raises(LeaseHeld, match=r"held by elsewhere:1 \(lease until .*cancel it first"):
        resume_sweep(storage, sweep_id, progress=False, workdir=tmp_path)
    sweep = storage.get_sweep(sweep_id)
    assert (sweep.state, sweep.worker) == ("running", "elsewhere:1")
    assert storage.get_trials(sweep_id) == []


def test_resume_takes_over_from_a_dead_process_of_this_machine_at_once(
    storage: BaseStorage, make_sweep: Callable[[str], int], tmp_path: Path
) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its pid names no process
    sweep_id = make_sweep(QUICK)
    assert storage.acquire_lease(sweep_id, f"{socket.gethostname()}:{gone.pid}", 30)
    executor = InProcessExecutor()
    resume_sweep(storage, sweep_id, progress=False, workdir=tmp_path, executor=executor)
    assert storage.get_sweep(sweep_id).state == "completed"


def test_the_heartbeat_renews_the_lease_and_stops_at_a_cancel(
    storage: BaseStorage, make_sweep: Callable[[str], int]
) -> None:
    sweep_id = make_sweep(QUICK)
    with held_lease(storage, sweep_id, "a", seconds=1.5) as lease:
        taken = storage.get_sweep(sweep_id).lease_expires_at
        assert taken is not None
        _wait_for("a renewal", lambda: storage.get_sweep(sweep_id).lease_expires_at != taken)
        assert not lease.should_stop()
        storage.set_sweep_state(sweep_id, "cancelled")
        _wait_for("the heartbeat to see the cancel", lease.should_stop)
        assert lease.lost_because == "the sweep is now cancelled"
    assert storage.get_sweep(sweep_id).lease_expires_at is None  # given back


def test_a_check_that_reads_the_runs_own_finish_is_not_a_lost_lease(
    storage: BaseStorage, make_sweep: Callable[[str], int], caplog: pytest.LogCaptureFixture
) -> None:
    """The heartbeat's check can be in flight while the run writes its final state: it then
    reads a sweep that is no longer running. That is the run ending, not a lost lease."""
    sweep_id = make_sweep(QUICK)
    keeper = LeaseKeeper(storage, sweep_id, "a", seconds=0.03)  # checks every 0.01 s
    keeper.acquire()
    checked = keeper._check

    def check_while_finishing(renew: bool) -> bool | None:
        keeper.finish("completed")  # the run's finish() lands between the check and its reply
        return checked(renew)

    keeper._check = check_while_finishing  # type: ignore[method-assign]
    keeper._beat()  # one beat, in this thread
    assert storage.get_sweep(sweep_id).state == "completed"
    assert not keeper.should_stop()
    assert "lease lost" not in caplog.text


def test_the_lease_length_comes_from_the_environment() -> None:
    assert lease_seconds({}) == 30
    assert lease_seconds({"RUNGS_LEASE_SECONDS": "2.5"}) == 2.5
    for bad in ("0", "-3", "later"):
        with pytest.raises(ValueError, match="RUNGS_LEASE_SECONDS must be a positive number"):
            lease_seconds({"RUNGS_LEASE_SECONDS": bad})
