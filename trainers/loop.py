"""The shared training loop: ``train(request, reporter) -> TrialOutcome``.

One epoch = train over the subset, validate, step the LR schedule on the validation metric, write
the checkpoint, report. A trial given ``resume_from`` restores that checkpoint, reports its
epochs again and trains on from the next one (:mod:`trainers.api`). The loop is task-agnostic (:mod:`trainers.tasks`) and device-agnostic
(:mod:`trainers.device`): the same code runs in fp32 on a CPU and under autocast on a GPU.

Failure handling follows what researchers' logs record: non-finite losses (a VoxCeleb log
wrote a NaN-debugging guide for them), and an SPMamba run on PolSESS that diverged with NaNs
under AMP at epoch 21 while its reruns in fp32 trained stably:

* a non-finite loss or gradient skips that batch (counted, reported as ``skipped_batches``);
* more than ``max_nonfinite_batches`` in one epoch (or every batch of it) restores the
  epoch-start state and retries the epoch once in fp32 (AMP was SPMamba's NaN source); if it
  fails again the trial ends as ``diverged``, keeping its best metric and best checkpoint.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from trainers import checkpoint as ckpt
from trainers.api import Reporter, TrialOutcome, TrialRequest
from trainers.config import OPTIMIZERS, LoopConfig, resolve_config
from trainers.device import (
    DeviceBatches,
    amp_dtype,
    autocast_context,
    make_batches,
    make_grad_scaler,
    select_device,
)
from trainers.registry import load_model_module, model_entry
from trainers.tasks import Task, get_task


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch (CPU and CUDA); return the generator that orders the data."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclass
class Progress:
    """What the loop has done so far; saved in every checkpoint."""

    epoch: int = 0
    best_metric: float | None = None
    best_epoch: int | None = None
    epochs_since_best: int = 0
    skipped_batches: int = 0  # over the whole trial, failed attempts included
    amp: bool = True  # turned off for good after an fp32 retry
    history: list[dict[str, float]] = field(default_factory=list)  # each epoch's report


@dataclass
class Run:
    """The live objects of one trial."""

    request: TrialRequest
    task: Task
    loop: LoopConfig
    config: dict[str, Any]  # resolved config, saved with every checkpoint
    device: torch.device
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau
    scaler: torch.amp.GradScaler
    generator: torch.Generator
    train_batches: DeviceBatches | DataLoader[Any]
    valid_batches: DeviceBatches | DataLoader[Any]
    progress: Progress = field(default_factory=Progress)


@dataclass
class EpochStats:
    loss_sum: float = 0.0
    norm_sum: float = 0.0
    steps: int = 0
    skipped: int = 0
    samples: int = 0
    batches: int = 0
    aborted: bool = False


def train(request: TrialRequest, reporter: Reporter, *, task: Task | None = None) -> TrialOutcome:
    """Train ``request`` with the shared loop, reporting once per epoch.

    ``task`` defaults to the registry's task for ``request.model``; tests pass their own.
    """
    run = build_run(request, task)
    if request.resume_from:
        restore_run(run, ckpt.load_checkpoint(request.resume_from))
        for metrics in run.progress.history:  # what the checkpoint covers, reported again
            reporter.report(metrics)
        if should_stop_early(run):  # it was about to say so when it was interrupted
            return outcome(run, "early_stopped", early_stop_reason(run))
    for epoch in range(run.progress.epoch + 1, request.epochs + 1):
        started = time.perf_counter()
        stats = train_epoch_or_retry(run)
        if stats.aborted:
            return outcome(run, "diverged", divergence_reason(run, epoch))
        metrics = end_epoch(run, epoch, stats, started)
        reporter.report(metrics, checkpoint_path(run))
        if should_stop_early(run):
            return outcome(run, "early_stopped", early_stop_reason(run))
    return outcome(run, "completed", None)


def early_stop_reason(run: Run) -> str:
    return f"no improvement of {run.task.metric} for {run.progress.epochs_since_best} epochs"


def build_run(request: TrialRequest, task: Task | None) -> Run:
    """Seed, resolve the config, build model, optimizer, schedule and data for ``request``."""
    module = load_model_module(request.model)
    task = task or get_task(model_entry(request.model).task)
    arch, loop = resolve_config(request, module)
    generator = seed_everything(request.seed)
    device = select_device(request.device)
    model = module.build(arch).to(device)  # built right after seeding: same init for a seed
    optimizer = OPTIMIZERS[loop.optimizer](
        model.parameters(), lr=loop.lr, weight_decay=loop.weight_decay
    )
    mode: Literal["min", "max"] = "max" if task.goal == "maximize" else "min"
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode=mode, factor=loop.lr_factor, patience=loop.lr_patience
    )
    train_ds, valid_ds = task.build_data(request, arch)  # data parameters live in the config
    batches = functools.partial(
        make_batches, device=device, batch_size=loop.batch_size, num_workers=loop.num_workers
    )
    config = {
        "model": request.model,
        "preset": request.preset,
        "architecture": dataclasses.asdict(arch),
        "training": dataclasses.asdict(loop),
        "subset_size": request.subset_size,
        "seed": request.seed,
    }
    return Run(
        request=request,
        task=task,
        loop=loop,
        config=config,
        device=device,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=make_grad_scaler(device, loop.amp),
        generator=generator,
        train_batches=batches(train_ds, shuffle=True, generator=generator),
        valid_batches=batches(valid_ds, shuffle=False),
        progress=Progress(amp=loop.amp),
    )


# --- one epoch -----------------------------------------------------------------------------------


def train_epoch_or_retry(run: Run) -> EpochStats:
    """Train one epoch; on too many non-finite batches restore the epoch-start state and retry
    once in fp32. ``stats.aborted`` is true when the retry failed too."""
    snapshot = snapshot_state(run)
    stats = train_epoch(run)
    run.progress.skipped_batches += stats.skipped
    if not stats.aborted:
        return stats
    restore_state(run, snapshot)
    # AMP off for the rest of the trial: fp32 is what stopped SPMamba diverging
    run.progress.amp = False
    run.scaler = make_grad_scaler(run.device, enabled=False)
    retry = train_epoch(run)
    run.progress.skipped_batches += retry.skipped
    return retry


def train_epoch(run: Run) -> EpochStats:
    """One pass over the training batches; stops early once the epoch counts as diverged."""
    run.model.train()
    set_epoch = getattr(run.train_batches.dataset, "set_epoch", None)
    if callable(set_epoch):
        set_epoch(run.progress.epoch + 1)  # random crops depend on the epoch, not on global RNG
    stats = EpochStats()
    for batch in run.train_batches:
        batch = [t.to(run.device, non_blocking=True) for t in batch]
        stats.batches += 1
        stats.samples += len(batch[0])
        loss, norm = train_step(run, batch)
        if loss is None or norm is None:
            stats.skipped += 1
            if stats.skipped > run.loop.max_nonfinite_batches:
                stats.aborted = True
                return stats
            continue
        stats.loss_sum += loss
        stats.norm_sum += norm
        stats.steps += 1
    # an epoch in which no batch trained is diverged too, however few batches it had
    stats.aborted = stats.batches > 0 and stats.steps == 0
    return stats


def train_step(run: Run, batch: list[torch.Tensor]) -> tuple[float | None, float | None]:
    """Forward, backward, clip, step. Returns ``(loss, pre-clip grad norm)``; a ``None`` means
    the batch was skipped because the loss or the gradient was not finite."""
    run.optimizer.zero_grad(set_to_none=True)
    with autocast_context(run.device, run.progress.amp):
        out = run.task.forward(run.model, batch)
        loss = run.task.loss(out, batch)  # the task computes it in fp32 (see trainers.losses)
    loss_value = float(loss.detach())
    if not math.isfinite(loss_value):
        return None, None  # backward through inf/NaN would poison every gradient
    run.scaler.scale(loss).backward()
    run.scaler.unscale_(run.optimizer)  # clip and report the true (unscaled) norm
    max_norm = run.loop.grad_clip or math.inf
    norm = float(torch.nn.utils.clip_grad_norm_(run.model.parameters(), max_norm))
    if math.isfinite(norm):
        run.scaler.step(run.optimizer)
    run.scaler.update()  # on overflow an fp16 scaler lowers its scale: the next batch may pass
    return (loss_value, norm) if math.isfinite(norm) else (loss_value, None)


def end_epoch(run: Run, epoch: int, stats: EpochStats, started: float) -> dict[str, float]:
    """Validate, step the schedule, update best/early-stop state, checkpoint; the epoch's report."""
    train_seconds = time.perf_counter() - started
    lr = run.optimizer.param_groups[0]["lr"]  # the rate this epoch trained with
    metrics = validate(run)
    value = metrics[run.task.metric]
    run.scheduler.step(value)
    update_progress(run, epoch, value)
    report = {
        **metrics,
        "epoch": epoch,
        "train_loss": stats.loss_sum / stats.steps,
        "lr": lr,
        "grad_norm": stats.norm_sum / stats.steps,
        "epoch_seconds": time.perf_counter() - started,
        "samples_per_second": stats.samples / train_seconds if train_seconds > 0 else 0.0,
        "skipped_batches": stats.skipped,
    }
    # the checkpoint keeps every report: a resumed trial reports them again (trainers.api)
    run.progress.history.append(
        {k: v if isinstance(v, int) else float(v) for k, v in report.items()}
    )
    save_checkpoints(run, improved=run.progress.best_epoch == epoch)
    return report


def validate(run: Run) -> dict[str, float]:
    run.model.eval()
    with torch.no_grad(), autocast_context(run.device, run.progress.amp):
        return run.task.evaluate(run.model, run.valid_batches, run.device)


def update_progress(run: Run, epoch: int, value: float) -> None:
    progress = run.progress
    progress.epoch = epoch
    if math.isfinite(value) and run.task.is_better(value, progress.best_metric):
        progress.best_metric, progress.best_epoch = value, epoch
        progress.epochs_since_best = 0
    else:
        progress.epochs_since_best += 1


def should_stop_early(run: Run) -> bool:
    patience = run.loop.early_stop_patience
    return patience is not None and run.progress.epochs_since_best >= patience


# --- state: in-memory snapshots and checkpoints --------------------------------------------------


def snapshot_state(run: Run) -> dict[str, Any]:
    """Everything an epoch changes, copied to the CPU, so a failed epoch can be replayed."""
    return ckpt.cpu_copy(
        {
            "model": run.model.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "scheduler": run.scheduler.state_dict(),
            "scaler": run.scaler.state_dict(),
            "generator": run.generator.get_state(),
            "rng": ckpt.capture_rng_state(),
        }
    )


def restore_state(run: Run, state: Mapping[str, Any]) -> None:
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    if state["scaler"]:
        run.scaler.load_state_dict(state["scaler"])
    run.generator.set_state(state["generator"])
    ckpt.restore_rng_state(state["rng"])


def checkpoint_path(run: Run) -> Path | None:
    directory = run.request.checkpoint_dir
    return Path(directory) if directory else None


def save_checkpoints(run: Run, improved: bool) -> None:
    directory = checkpoint_path(run)
    if directory is None:
        return
    state = snapshot_state(run)
    state["progress"] = dataclasses.asdict(run.progress)
    state["config"] = run.config
    ckpt.save_checkpoint(directory, state)
    if improved:
        ckpt.save_best_model(
            directory,
            state["model"],
            config=run.config,
            epoch=run.progress.epoch,
            metric=run.task.metric,
            value=float(run.progress.best_metric),  # type: ignore[arg-type]
        )


def restore_run(run: Run, state: Mapping[str, Any]) -> None:
    """Continue from a checkpoint written by :func:`save_checkpoints` for the same model."""
    saved = state["config"]
    for key in ("model", "architecture"):
        if saved[key] != run.config[key]:
            raise ValueError(
                f"cannot resume: checkpoint {key} {saved[key]!r} differs from the request's "
                f"{run.config[key]!r}"
            )
    run.progress = Progress(**state["progress"])
    run.scaler = make_grad_scaler(run.device, run.progress.amp)
    restore_state(run, state)


def outcome(run: Run, status: str, reason: str | None) -> TrialOutcome:
    progress = run.progress
    return TrialOutcome(
        status=status,  # type: ignore[arg-type]
        best_metric=progress.best_metric,
        best_epoch=progress.best_epoch,
        epochs_run=progress.epoch,
        reason=reason,
        skipped_batches=progress.skipped_batches,
        extra={
            "config": run.config,
            "device": str(run.device),
            "precision": str(amp_dtype(run.device, progress.amp) or torch.float32),
        },
    )


def divergence_reason(run: Run, epoch: int) -> str:
    return (
        f"epoch {epoch}: more than {run.loop.max_nonfinite_batches} non-finite batches (or no "
        f"finite batch at all), again after restoring the epoch-start state and retrying in fp32; "
        f"kept the best {run.task.metric} from epoch {run.progress.best_epoch}"
    )
