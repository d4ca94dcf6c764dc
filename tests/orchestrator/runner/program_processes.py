"""Finding what a program sweep left running (Linux: ``/proc``).

Every process a program trial starts - the program, and whatever it starts in turn (W&B's
service, data loader workers) - inherits ``RUNGS_SWEEP=<sweep name>`` from the trainer, so a
process with that variable in its environment belongs to the sweep, wherever it went.
"""

from __future__ import annotations

import os
from pathlib import Path


def _environment(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:  # gone meanwhile, or not ours to read
        return b""


def _running(pid: str) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2] not in "ZX"  # a zombie holds nothing


def processes_of_sweep(name: str) -> list[int]:
    """The live processes whose environment says they belong to the sweep ``name``."""
    marker = f"RUNGS_SWEEP={name}".encode()
    me = str(os.getpid())
    return [
        int(pid)
        for pid in os.listdir("/proc")
        if pid.isdigit()
        and pid != me
        and marker in _environment(pid).split(b"\0")
        and _running(pid)
    ]
