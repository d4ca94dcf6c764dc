"""What the test programs share: a learning curve of the config, and faults chosen by trial.

A test picks faults through ``RUNGS_TEST_FAULTS``, a JSON object of ``"<stage>/<trial key>"`` to
``crash`` (raises in its first epoch), ``oom`` (prints CUDA's out-of-memory message and exits
1), ``nan`` (reports NaN first) or ``bad`` (slow and far worse than anything else, so that
hyperband stops it early). The first three end before their first value of the metric, so that
no stopping rule can end them first. Rungs tells every trial
its stage and key in ``RUNGS_STAGE`` and ``RUNGS_TRIAL``.

``RUNGS_TEST_EPOCH_SECONDS`` is how long an epoch takes (default 0.05 s); with
``RUNGS_TEST_CHILD=1`` every program first starts a child that would sleep for ten minutes (a data
loader's worker, say), which only killing the program's process group ends.
"""

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path


def fault() -> str:
    faults = json.loads(os.environ.get("RUNGS_TEST_FAULTS", "{}"))
    return faults.get(f"{os.environ['RUNGS_STAGE']}/{os.environ['RUNGS_TRIAL']}", "")


def score(lr: float, width: int, train_samples: int, epoch: int) -> float:
    """Best near lr=0.01 and width=32; more data and more epochs help."""
    quality = -((math.log10(lr) + 2) ** 2) - ((width - 32) / 32) ** 2
    return quality + 3 * (1 - math.exp(-epoch / 2)) + train_samples / 8000


def epochs(lr: float, width: int, train_samples: int, total: int):
    """(epoch, score) for each epoch, with the trial's fault applied."""
    kind = fault()
    if os.environ.get("RUNGS_TEST_CHILD"):
        sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
        subprocess.Popen(sleeper, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = float(os.environ.get("RUNGS_TEST_EPOCH_SECONDS", "0.05"))
    if kind == "oom":
        print("RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB", file=sys.stderr)
        sys.exit(1)
    for epoch in range(1, total + 1):
        time.sleep(10 * seconds if kind == "bad" else seconds)
        if kind == "crash":
            raise RuntimeError("boom: the data loader fell over")
        value = score(lr, width, train_samples, epoch) - (100 if kind == "bad" else 0)
        yield epoch, float("nan") if kind == "nan" else value


def finished() -> None:
    """Leave a mark that the program ran to its end (a stopped one never gets here)."""
    Path(os.environ["WANDB_DIR"], "finished").write_text("yes")
