"""How a program's metrics reach Rungs, and how they count as iterations.

Two channels, both read all the time; a program should use one (a metric sent both ways counts
twice):

* **stdout, no W&B.** A line that starts with ``[rungs] `` followed by a JSON object is one
  report. The program imports nothing from Rungs::

      print("[rungs]", json.dumps({"val_si_sdr": 3.2, "train_loss": 0.4}), flush=True)

  (``print`` puts the space after the prefix.) A line with the prefix and anything other than a
  JSON object fails the trial, so that a typo cannot silently lose every metric.
* **W&B, unmodified.** The shim (``shim/sitecustomize.py``, first on the program's PYTHONPATH)
  turns every ``wandb.log({...})`` call into one JSON line on a dedicated pipe, not on stdout.
  W&B itself runs offline with the real package; ``wandb.config`` holds the trial's parameters
  because the trainer writes them where ``wandb agent`` does (``WANDB_SWEEP_PARAM_PATH``).

The shim needs the program's Python to read PYTHONPATH and run ``site`` (not ``-I``, ``-E``
or ``-S``); a program that starts its W&B process through a launcher that does not pass the
pipe on (``torchrun``, multiprocessing's spawn) reports only from the launcher's process.

In both channels a report keeps its numeric values (nested dicts flattened with ``.``, booleans
and non-numbers dropped, NaN and infinities kept); a report with no number is dropped.

**Iterations** follow W&B's hyperband: one logged value of the sweep metric is one iteration,
whatever the program calls an epoch. Every report is passed on, with ``epoch`` set to the number
of metric values seen so far (0 before the first); a program's own ``epoch`` value is kept as
``program_epoch``. So ``wandb.log({"val_si_sdr": x, "epoch": e})`` once per epoch gives
iterations 1, 2, 3, ..., and a program that logs the metric twice per epoch has twice as many
iterations, as it would under W&B.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from trainers.program.shim.sitecustomize import numeric_values

PREFIX = "[rungs] "
REPORT_FD_ENV = "RUNGS_REPORT_FD"
REPORT_PIPE_ENV = "RUNGS_REPORT_PIPE"
SHIM_DIR = str(Path(__file__).resolve().parent / "shim")


class ReportError(ValueError):
    """A report line that is not a JSON object."""


def _json_object(text: str, where: str) -> dict[str, float]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportError(f"{where} is not valid JSON ({error}): {text[:200]!r}") from None
    if not isinstance(value, dict):
        raise ReportError(f"{where} is not a JSON object: {text[:200]!r}")
    return numeric_values(value)


def parse_stdout_line(line: str) -> dict[str, float] | None:
    """The report on one stdout line (without its newline), None when it is not a report."""
    if not line.startswith(PREFIX):
        return None
    return _json_object(line[len(PREFIX) :].strip(), f"stdout line {line[:40]!r}...")


def parse_shim_line(line: str) -> dict[str, float]:
    """One line written by the W&B shim."""
    return _json_object(line.strip(), "a W&B report from the shim")


def shim_environment(env: Mapping[str, str], report_fd: int) -> dict[str, str]:
    """``env`` with the shim first on PYTHONPATH and the report pipe named."""
    pythonpath = [SHIM_DIR, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    return {
        **env,
        "PYTHONPATH": os.pathsep.join(pythonpath),
        REPORT_FD_ENV: str(report_fd),
        REPORT_PIPE_ENV: str(os.fstat(report_fd).st_ino),
    }


@dataclass
class MetricTracker:
    """Counts iterations of the sweep metric and keeps its best value (see the module doc)."""

    metric: str
    goal: Literal["maximize", "minimize"]
    iterations: int = 0
    reports: int = 0
    best: float | None = None
    best_iteration: int | None = None

    def divergence(self, report: Mapping[str, float]) -> str | None:
        """Why the run diverged, when this report's metric is NaN or infinite."""
        value = report.get(self.metric)
        if value is None or math.isfinite(value):
            return None
        return f"{self.metric} was {value} at iteration {self.iterations + 1}"

    def record(self, report: Mapping[str, float]) -> dict[str, float]:
        """Count ``report`` and return it as passed on, with its iteration as ``epoch``."""
        self.reports += 1
        value = report.get(self.metric)
        if value is not None:
            self.iterations += 1
            if self.best is None or self._better(value, self.best):
                self.best, self.best_iteration = value, self.iterations
        passed = {key: item for key, item in report.items() if key != "epoch"}
        if "epoch" in report:
            passed["program_epoch"] = report["epoch"]
        passed["epoch"] = self.iterations
        return passed

    def _better(self, value: float, best: float) -> bool:
        return value > best if self.goal == "maximize" else value < best
