"""Per-trial W&B logging: offline into the sweep folder by default, never required.

The researchers this serves keep their runs in W&B, so each trial is a W&B run: group = the
sweep, job_type = the stage, name = the trial's stable key. The mode follows the sweep YAML's
``wandb`` block: absent -> ``offline`` (files under ``<sweep folder>/wandb``, sync later with
``wandb sync``); ``wandb: false`` -> off; ``online`` only when the user wrote it.
``WANDB_MODE=disabled`` in the environment (the test suite sets it) turns it off without
importing wandb at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainers.api import Reporter

_MODES = ("offline", "online", "disabled")


@dataclass(frozen=True)
class WandbSettings:
    mode: str
    project: str
    group: str
    job_type: str
    dir: str
    entity: str | None = None


def wandb_settings(
    block: Mapping[str, Any] | None, *, sweep: str, stage: str, sweep_dir: Path
) -> WandbSettings | None:
    """Settings for one stage's trials, or None when W&B is off (spec or environment)."""
    if block is None or block is False or os.environ.get("WANDB_MODE") == "disabled":
        return None
    mode = str(block.get("mode", "offline"))
    if mode not in _MODES:
        raise ValueError(f"wandb.mode must be one of {_MODES}, but got {mode=}")
    if mode == "disabled":
        return None
    return WandbSettings(
        mode=mode,
        project=str(block.get("project", "rungs")),
        group=sweep,
        job_type=stage,
        dir=str(sweep_dir),
        entity=block.get("entity"),
    )


class WandbReporter:
    """Logs each epoch to a W&B run, then forwards to the inner reporter (which may not return)."""

    def __init__(self, run: Any, inner: Reporter) -> None:
        self.run = run
        self.inner = inner

    def report(self, metrics: Mapping[str, float], checkpoint_dir: Path | None = None) -> None:
        self.run.log(dict(metrics))
        self.inner.report(metrics, checkpoint_dir)


@contextmanager
def wandb_reporter(
    settings: WandbSettings | None, inner: Reporter, *, name: str, config: Mapping[str, Any]
) -> Iterator[Reporter]:
    """Yield ``inner`` itself when W&B is off, else a reporter that also logs to a W&B run."""
    if settings is None:
        yield inner
        return
    import wandb

    Path(settings.dir).mkdir(parents=True, exist_ok=True)
    run = wandb.init(
        project=settings.project,
        entity=settings.entity,
        group=settings.group,
        job_type=settings.job_type,
        name=name,
        config=dict(config),
        dir=settings.dir,
        mode=settings.mode,  # type: ignore[arg-type]  # checked against _MODES above
    )
    try:
        yield WandbReporter(run, inner)
    finally:
        run.finish()  # also when Ray stops the trial inside report()
