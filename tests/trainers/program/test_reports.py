"""Parsing reports from both channels, and how they count as iterations."""

from __future__ import annotations

import math
import os

import pytest

from trainers.program.reports import (
    PREFIX,
    SHIM_DIR,
    MetricTracker,
    ReportError,
    parse_shim_line,
    parse_stdout_line,
    shim_environment,
)


def test_stdout_lines_with_the_prefix_are_reports() -> None:
    line = PREFIX + '{"val": 3.5, "nested": {"a": 1}, "phase": "valid", "ok": true, "n": NaN}'
    report = parse_stdout_line(line)
    assert report is not None
    assert report["val"] == 3.5 and report["nested.a"] == 1.0 and math.isnan(report["n"])
    assert "phase" not in report and "ok" not in report
    assert parse_stdout_line("epoch 3: val 3.5") is None
    assert parse_stdout_line("[rungs]no space") is None


@pytest.mark.parametrize("bad", ["[rungs] {not json", "[rungs] [1, 2]", "[rungs] 3.5"])
def test_a_malformed_report_line_is_an_error(bad: str) -> None:
    with pytest.raises(ReportError, match="stdout line"):
        parse_stdout_line(bad)


def test_shim_lines() -> None:
    assert parse_shim_line('{"val": Infinity}\n') == {"val": math.inf}
    with pytest.raises(ReportError, match="shim"):
        parse_shim_line("garbage")


def test_one_value_of_the_metric_is_one_iteration() -> None:
    tracker = MetricTracker("val", "maximize")
    passed = [
        tracker.record({"train_loss": 0.9}),
        tracker.record({"val": 1.0, "epoch": 0.0}),
        tracker.record({"train_loss": 0.5}),
        tracker.record({"val": 3.0, "epoch": 1.0}),
        tracker.record({"val": 2.0}),
    ]
    assert [report["epoch"] for report in passed] == [0, 1, 1, 2, 3]
    assert passed[1] == {"val": 1.0, "program_epoch": 0.0, "epoch": 1}
    assert (tracker.iterations, tracker.reports) == (3, 5)
    assert (tracker.best, tracker.best_iteration) == (3.0, 2)


def test_best_follows_the_goal_and_nan_is_divergence() -> None:
    tracker = MetricTracker("loss", "minimize")
    for value in (0.5, 0.2, 0.3):
        assert tracker.divergence({"loss": value}) is None
        tracker.record({"loss": value})
    assert (tracker.best, tracker.best_iteration) == (0.2, 2)
    assert tracker.divergence({"other": math.nan}) is None
    assert tracker.divergence({"loss": math.nan}) == "loss was nan at iteration 4"
    assert tracker.divergence({"loss": -math.inf}) == "loss was -inf at iteration 4"


def test_shim_environment_puts_the_shim_first() -> None:
    read_fd, write_fd = os.pipe()
    try:
        env = shim_environment({"PYTHONPATH": f"/a{os.pathsep}/b", "X": "1"}, write_fd)
        assert env["PYTHONPATH"] == os.pathsep.join([SHIM_DIR, "/a", "/b"])
        assert env["RUNGS_REPORT_FD"] == str(write_fd) and env["X"] == "1"
        assert env["RUNGS_REPORT_PIPE"] == str(os.fstat(write_fd).st_ino)
        assert shim_environment({}, write_fd)["PYTHONPATH"] == SHIM_DIR
    finally:
        os.close(read_fd)
        os.close(write_fd)
