"""The progress line of ``rungs run``: counts, best value, elapsed time and ETA per stage, on a
clock the test moves by hand."""

from __future__ import annotations

import io
from types import SimpleNamespace

from orchestrator.runner.progress import ProgressCallback, ProgressLine, duration_text


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_eta_is_unknown_until_a_trial_ends_then_mean_times_left_over_concurrency():
    clock = Clock()
    line = ProgressLine("stage1", total=10, metric="score", goal="maximize", clock=clock)
    line.concurrency = 2
    line.started("a")
    line.started("b")
    clock.now += 30
    assert line.line().endswith("| elapsed 30s, ETA ?")
    line.ended("finished", "a")  # 30 s
    clock.now += 30
    line.ended("stopped", "b")  # 60 s: mean 45 s, 8 trials left, 2 at a time -> 180 s
    assert line.eta_seconds() == 180
    assert line.line() == (
        "[stage1] 2/10 done (1 finished, 1 stopped), 0 running | best score - "
        "| elapsed 1m00s, ETA 3m00s"
    )


def test_a_restarted_trial_counts_once_and_a_finished_stage_has_no_time_left():
    clock = Clock()
    line = ProgressLine("validate", total=1, metric="loss", goal="minimize", clock=clock)
    line.started("t")
    line.started("t")  # Ray restarted it after a failure
    assert line.running == 1
    clock.now += 5
    line.result(0.5)
    line.ended("finished", "t")
    assert line.line().endswith("best loss 0.5 | elapsed 5s, ETA 0s")


def test_durations_read_short():
    assert [duration_text(s) for s in (0, 59.6, 61, 3600 * 2 + 5 * 60)] == [
        "0s",
        "1m00s",
        "1m01s",
        "2h05m",
    ]


def test_callback_prints_on_change_and_on_a_heartbeat_only():
    clock = Clock()
    line = ProgressLine("stage1", total=3, metric="score", goal="maximize", clock=clock)
    out = io.StringIO()
    callback = ProgressCallback(
        line, {}, every_seconds=5, heartbeat_seconds=60, stream=out, clock=clock
    )
    trial = SimpleNamespace(trial_id="t1", config={})
    callback.on_trial_start(0, [], trial)
    callback.on_step_end(0, [])
    clock.now += 10
    callback.on_step_end(0, [])  # nothing changed, no heartbeat due
    clock.now += 60
    callback.on_step_end(0, [])  # heartbeat: the times moved on
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("elapsed 0s, ETA ?") and lines[1].endswith("elapsed 1m10s, ETA ?")
