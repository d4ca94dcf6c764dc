"""The contract between the orchestrator and the trainers.

The orchestrator never imports a model: it builds a :class:`TrialRequest` and calls
``trainers.run_trial(request, reporter)``. The trainer reports once per epoch through the
:class:`Reporter` and returns a :class:`TrialOutcome`. Inside Ray Tune the reporter forwards to
``ray.tune.report`` (and Ray may kill the trial there when a scheduler stops it); in tests it is a
plain list (:class:`ListReporter`).

Every epoch's metrics dict contains at least the task's validation metric under its name
(``si_sdr`` for separation) plus ``epoch`` (1-based), ``train_loss``, ``lr``, ``grad_norm``,
``epoch_seconds``, ``samples_per_second``; separation adds ``si_sdri``.

**Continuing a trial.** A trainer that checkpoints writes its checkpoint into
``checkpoint_dir`` after every epoch, before reporting it, and each checkpoint keeps the metrics
of every epoch it covers. Given ``resume_from`` (a directory for which :func:`has_checkpoint`
holds), it restores that state, reports the epochs the checkpoint covers again with their saved
metrics (the orchestrator stores each epoch once, and may have lost the last reports when its
own process died), then trains on from the next epoch. The shared loop and ``synthetic`` do;
``sim-seed004`` and ``mf-hartmann6`` write no checkpoint (a trial takes milliseconds and its curve
is a pure function of config, subset and seed: a re-run reports the same epochs again); a
user's program cannot (Rungs does not know how it saves state: it starts again at epoch 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

Status = Literal["completed", "diverged", "early_stopped"]
# The file each kind of trainer writes last into its checkpoint directory, atomically: the shared
# loop's (torch) and the curve trainers' (JSON).
CHECKPOINT_FILES = {"loop": "checkpoint.pt", "curve": "checkpoint.json"}


def has_checkpoint(directory: str | Path | None) -> bool:
    """Whether ``directory`` holds a finished checkpoint of some trainer (it can be passed as
    ``resume_from``)."""
    if not directory:
        return False
    return any((Path(directory) / name).is_file() for name in CHECKPOINT_FILES.values())


@dataclass(frozen=True)
class DataRequest:
    """Where the data comes from. ``kind='demo'`` synthesises (and caches) the built-in corpus
    under ``cache_dir``; ``kind='manifest'`` reads LibriMix-style CSVs."""

    kind: Literal["demo", "manifest"] = "demo"
    train_manifest: str | None = None
    valid_manifest: str | None = None
    valid_size: int = 200
    sample_rate: int = 8000
    segment_seconds: float = 2.0
    seed: int = 0
    cache_dir: str | None = None


@dataclass(frozen=True)
class ProgramRequest:
    """A user's training script run as a trial, the way ``wandb agent`` runs it (see
    :mod:`trainers.program`). ``program`` is as written in the sweep file (W&B's ``${program}``)
    and runs in ``workdir``, the sweep file's directory. ``command`` is the W&B command template
    (None: W&B's default). ``program_parameters`` names the program's arguments that receive the
    stage's values: ``{"subset": "train_samples", "epochs": "epochs", "seed": "seed"}``, any
    subset of those three keys. ``log_dir`` receives stdout.log, stderr.log, the pid file and
    W&B's offline files. ``interpreter`` None is the worker's own Python."""

    program: str
    workdir: str
    metric: str
    goal: Literal["maximize", "minimize"]
    log_dir: str
    command: tuple[str, ...] | None = None
    program_parameters: Mapping[str, str] = field(default_factory=dict)
    interpreter: str | None = None
    grace_seconds: float = 3.0  # between SIGTERM and SIGKILL when the trial is stopped
    extra_env: Mapping[str, str] = field(default_factory=dict)  # e.g. CUDA_VISIBLE_DEVICES
    sweep: str = ""
    stage: str = ""
    trial: str = ""


@dataclass(frozen=True)
class TrialRequest:
    """One training run.

    ``hparams`` is the flat sampled config merged over the model's fixed values. Keys naming a
    field of the model's preset (e.g. ``hidden``) override the architecture; keys of the loop
    (``lr``, ``weight_decay``, ``grad_clip``, ``lr_factor``, ``lr_patience``, ``batch_size``,
    ``optimizer``, ...) configure training. Any other key is an error listing the valid names.
    """

    model: str
    preset: str
    hparams: Mapping[str, Any]
    data: DataRequest
    subset_size: int
    epochs: int
    seed: int = 0
    device: str | None = None  # None: cuda when available, else cpu
    checkpoint_dir: str | None = None  # where to write checkpoints; None: no checkpoints
    resume_from: str | None = None  # a checkpoint directory to continue from (module docs)
    program: ProgramRequest | None = None  # set for a user's program (trainers.program)


@dataclass
class TrialOutcome:
    status: Status
    best_metric: float | None
    best_epoch: int | None
    epochs_run: int
    reason: str | None = None  # why it diverged / stopped early
    skipped_batches: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Reporter(Protocol):
    def report(self, metrics: Mapping[str, float], checkpoint_dir: Path | None = None) -> None:
        """Called once per epoch, after validation. May not return (Ray stops the trial)."""
        ...


class ListReporter:
    """A reporter that keeps everything in memory (tests, notebooks, the simulator)."""

    def __init__(self) -> None:
        self.reports: list[dict[str, float]] = []
        self.checkpoints: list[Path | None] = []

    def report(self, metrics: Mapping[str, float], checkpoint_dir: Path | None = None) -> None:
        self.reports.append(dict(metrics))
        self.checkpoints.append(checkpoint_dir)
