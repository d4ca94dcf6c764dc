"""Config resolution: a request's flat ``hparams`` -> the model's ``Config`` and the loop's.

Resolved once per trial, by the loop, before anything is built; the loop hands the model's
resolved ``Config`` to the task (data parameters such as ``n_per_speaker`` live there, so a sweep
can search them) and saves both halves with every checkpoint.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch

from trainers.api import TrialRequest


@dataclass(frozen=True)
class LoopConfig:
    """Training hyperparameters (the non-architecture keys of ``TrialRequest.hparams``)."""

    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float | None = 5.0  # max global grad norm; 0 or None turns clipping off
    lr_factor: float = 0.5  # ReduceLROnPlateau factor
    lr_patience: int = 2  # ReduceLROnPlateau patience (epochs)
    batch_size: int = 4
    optimizer: str = "adam"  # adam | adamw
    early_stop_patience: int | None = None  # epochs without improvement; None = never stop
    max_nonfinite_batches: int = 10  # per epoch, before the fp32 retry / divergence
    num_workers: int | None = None  # None: 0 on CPU, up to 4 on CUDA
    amp: bool = True  # autocast on CUDA (never on CPU)


OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
LOOP_KEYS = frozenset(f.name for f in dataclasses.fields(LoopConfig))


def resolve_config(request: TrialRequest, module: ModuleType) -> tuple[Any, LoopConfig]:
    """Split ``request.hparams`` into the model's ``Config`` (preset + overrides) and the loop's.

    Raises ``ValueError`` for an unknown preset, an unknown key or an unknown optimizer, listing
    the valid names, and for a model whose ``sample_rate`` differs from the data's.
    """
    if request.preset not in module.PRESETS:
        valid = ", ".join(sorted(module.PRESETS))
        raise ValueError(f"unknown preset {request.preset!r} for {request.model}; valid: {valid}")
    arch_keys = {f.name for f in dataclasses.fields(module.Config)}
    unknown = set(request.hparams) - arch_keys - LOOP_KEYS
    if unknown:
        raise ValueError(
            f"unknown hparams {sorted(unknown)} for model {request.model!r}; valid architecture "
            f"keys: {sorted(arch_keys)}; valid training keys: {sorted(LOOP_KEYS)}"
        )
    arch = {k: v for k, v in request.hparams.items() if k in arch_keys}
    loop = LoopConfig(**{k: v for k, v in request.hparams.items() if k in LOOP_KEYS})
    if loop.optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {loop.optimizer!r}; valid: {sorted(OPTIMIZERS)}")
    model = dataclasses.replace(module.PRESETS[request.preset], **arch)
    check_sample_rate(request, model)
    return model, loop


def check_sample_rate(request: TrialRequest, model_config: Any) -> None:
    """A model that declares the ``sample_rate`` its front end expects (the speech models with
    spectrogram features) must get audio at that rate; the separation models declare none."""
    expected = getattr(model_config, "sample_rate", None)
    if expected is not None and expected != request.data.sample_rate:
        raise ValueError(
            f"{request.model} preset {request.preset!r} expects {expected} Hz audio, but the "
            f"data request is {request.data.sample_rate} Hz; set dataset.sample_rate or the "
            "sample_rate hyperparameter"
        )
