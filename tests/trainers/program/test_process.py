"""Launching, reading, stopping and cleaning up after real programs (Linux)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.trainers.program.helpers import PYTHON, REPO, alive, read_pids, wait_for, write_program
from trainers.program.failures import ProgramFailed
from trainers.program.process import PID_FILE, STDERR_LOG, STDOUT_LOG, kill_leftover, launch
from trainers.program.reports import ReportError

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}

# Starts a grandchild that ignores SIGTERM, records both pids, reports once, then waits.
SPAWNS_A_STUBBORN_CHILD = """
    import json, os, signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code])
    with open("pids.tmp", "w") as file:
        file.write(f"{os.getpid()} {child.pid}")
    os.replace("pids.tmp", "pids")
    print("[rungs]", json.dumps({"val": 1.0}), flush=True)
    time.sleep(60)
"""


def _kill(pids: list[int]) -> None:
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_output_is_kept_while_reports_are_read(tmp_path: Path) -> None:
    write_program(
        tmp_path,
        """
        import json, os, sys
        print("starting in", os.getcwd(), os.environ["TRIAL_VALUE"])
        print("[rungs]", json.dumps({"val": 1.5, "loss": 0.3}), flush=True)
        sys.stderr.write("progress 10%\\rprogress 100%\\n")
        print("[rungs] " + json.dumps({"val": 2.5}) + "\\r")
        sys.stderr.write("last line\\n")
        """,
    )
    env = {**ENV, "TRIAL_VALUE": "42"}
    with launch([PYTHON, "train.py"], cwd=tmp_path, env=env, log_dir=tmp_path / "log") as program:
        assert (tmp_path / "log" / PID_FILE).exists()
        reports = list(program.reports())
    assert reports == [{"val": 1.5, "loss": 0.3}, {"val": 2.5}]
    assert program.wait() == 0
    stdout = (tmp_path / "log" / STDOUT_LOG).read_text()
    assert stdout.startswith(f"starting in {tmp_path} 42\n[rungs] ")
    stderr = (tmp_path / "log" / STDERR_LOG).read_bytes()
    assert stderr == b"progress 10%\rprogress 100%\nlast line\n"
    assert program.stderr_tail.text() == "progress 100%\nlast line"
    assert not (tmp_path / "log" / PID_FILE).exists()


def test_stop_kills_the_whole_group_even_what_ignores_sigterm(tmp_path: Path) -> None:
    write_program(tmp_path, SPAWNS_A_STUBBORN_CHILD)
    log = tmp_path / "log"
    with launch(
        [PYTHON, "train.py"], cwd=tmp_path, env=ENV, log_dir=log, grace_seconds=0.2
    ) as program:
        assert next(program.reports()) == {"val": 1.0}
        pids = read_pids(tmp_path / "pids")
        try:
            assert all(alive(pid) for pid in pids)
            program.stop()
            assert not any(alive(pid) for pid in pids)  # gone when stop() returns
        finally:
            _kill(pids)
    assert not (log / PID_FILE).exists()


def test_leftovers_that_hold_the_output_are_killed_when_the_program_exits(tmp_path: Path) -> None:
    write_program(
        tmp_path,
        """
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open("pids", "w").write(str(child.pid))
        print('[rungs] {"val": 1}')
        """,
    )
    with launch([PYTHON, "train.py"], cwd=tmp_path, env=ENV, log_dir=tmp_path / "log") as program:
        assert list(program.reports()) == [{"val": 1.0}]
        (child,) = read_pids(tmp_path / "pids")
        try:
            assert not alive(child)
        finally:
            _kill([child])
    assert program.wait() == 0


WORKER = """
import sys, time
from trainers.program.process import launch
launch([sys.executable, "train.py"], cwd=sys.argv[1], env={"PATH": "/usr/bin:/bin"}, log_dir=sys.argv[2])
time.sleep(60)
"""


def test_a_dead_worker_takes_its_program_along_and_resume_kills_the_rest(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG kills the program with its worker; its own child survives that, and
    kill_leftover (what a resume calls) kills it from the pid file."""
    write_program(tmp_path, SPAWNS_A_STUBBORN_CHILD)
    log = tmp_path / "log"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    worker = subprocess.Popen([PYTHON, "-c", WORKER, str(tmp_path), str(log)], env=env)
    pids: list[int] = []
    try:
        assert wait_for(lambda: (tmp_path / "pids").exists())
        pids = read_pids(tmp_path / "pids")
        program, grandchild = pids
        worker.kill()
        worker.wait()
        assert wait_for(lambda: not alive(program))
        assert alive(grandchild)
        assert json.loads((log / PID_FILE).read_text())["pgid"] == program
        assert kill_leftover(log, grace_seconds=0.1) is True
        assert not alive(grandchild)
        assert not (log / PID_FILE).exists()
        assert kill_leftover(log) is False
    finally:
        worker.kill()
        _kill(pids)


def test_kill_leftover_kills_only_what_it_recorded(tmp_path: Path) -> None:
    """Another start time (a reused pid), another boot or another machine: not ours."""
    sleeper = subprocess.Popen(
        [PYTHON, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    try:
        stat = Path(f"/proc/{sleeper.pid}/stat").read_text()
        ticks = int(stat[stat.rindex(")") + 2 :].split()[19])
        ours = {
            "pgid": sleeper.pid,
            "start_ticks": ticks,
            "host": socket.gethostname(),
            "boot_id": Path("/proc/sys/kernel/random/boot_id").read_text().strip(),
        }
        for change in ({"start_ticks": ticks + 1}, {"boot_id": "before-a-reboot"}):
            (tmp_path / PID_FILE).write_text(json.dumps({**ours, **change}))
            assert kill_leftover(tmp_path) is False
            assert alive(sleeper.pid) and not (tmp_path / PID_FILE).exists()
        (tmp_path / PID_FILE).write_text(json.dumps({**ours, "host": "another-node"}))
        assert kill_leftover(tmp_path) is False
        assert alive(sleeper.pid) and (tmp_path / PID_FILE).exists()
        assert kill_leftover(tmp_path / "missing") is False
        (tmp_path / PID_FILE).write_text(json.dumps(ours))
        assert kill_leftover(tmp_path, grace_seconds=0.1) is True
        assert wait_for(lambda: sleeper.poll() is not None)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_program_that_cannot_start(tmp_path: Path) -> None:
    with pytest.raises(ProgramFailed, match="could not start '/nonexistent/python'"):
        launch(["/nonexistent/python", "train.py"], cwd=tmp_path, env=ENV, log_dir=tmp_path)


def test_a_malformed_report_line_is_raised(tmp_path: Path) -> None:
    write_program(tmp_path, "print('[rungs] val=3')\n")
    with (
        launch([PYTHON, "train.py"], cwd=tmp_path, env=ENV, log_dir=tmp_path / "log") as program,
        pytest.raises(ReportError, match="not valid JSON"),
    ):
        list(program.reports())
