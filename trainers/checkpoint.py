"""Checkpoints that resume a trial exactly, written atomically.

A checkpoint directory holds two files:

* ``checkpoint.pt`` - everything needed to continue bit-for-bit on CPU: model, optimizer,
  LR scheduler and grad-scaler state, the RNG states (python, numpy, torch, CUDA when present),
  the data-order generator, the loop's progress (epoch, best metric, early-stop counter, skipped
  batches, the metrics reported for every epoch so far) and the resolved config (nanoGPT habit: a checkpoint says what it is);
* ``best_model.pt`` - the model weights of the best validation epoch, its metric and the config.

Files are written to a temporary name and moved into place with ``os.replace`` so a trial killed
mid-write (Ray stopping it, a preempted node) never leaves a truncated checkpoint behind. Every
value is a tensor or a plain Python value, so files load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainers.api import CHECKPOINT_FILES

CHECKPOINT_FILE = CHECKPOINT_FILES["loop"]
BEST_MODEL_FILE = "best_model.pt"


def atomic_save(obj: Any, path: Path) -> Path:
    """``torch.save`` to a temporary file in the same directory, then ``os.replace`` it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


def capture_rng_state() -> dict[str, Any]:
    """The global RNG states the loop consumes (dropout, shuffling inside datasets, ...)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(np.asarray(keys).astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = state["numpy"]
    keys = np_state["keys"].numpy().astype(np.uint32)
    np.random.set_state(
        (
            np_state["kind"],
            keys,
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(directory: str | Path, state: Mapping[str, Any]) -> Path:
    """Write ``state`` (see the module docstring) as ``directory/checkpoint.pt``."""
    return atomic_save(dict(state), Path(directory) / CHECKPOINT_FILE)


def save_best_model(
    directory: str | Path,
    model_state: Mapping[str, torch.Tensor],
    *,
    config: Mapping[str, Any],
    epoch: int,
    metric: str,
    value: float,
) -> Path:
    """Write the best model's weights with the config and score they were saved for."""
    payload = {
        "model": dict(model_state),
        "config": dict(config),
        "epoch": epoch,
        "metric": metric,
        "value": value,
    }
    return atomic_save(payload, Path(directory) / BEST_MODEL_FILE)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load ``checkpoint.pt`` from a checkpoint directory (or the file itself) onto the CPU."""
    path = Path(path)
    file = path / CHECKPOINT_FILE if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {file} (expected a directory with {CHECKPOINT_FILE})"
        )
    return torch.load(file, map_location="cpu", weights_only=True)


def load_best_model(path: str | Path) -> dict[str, Any]:
    """Load ``best_model.pt`` from a checkpoint directory (or the file itself) onto the CPU."""
    path = Path(path)
    file = path / BEST_MODEL_FILE if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"no best model at {file}")
    return torch.load(file, map_location="cpu", weights_only=True)


def cpu_copy(obj: Any) -> Any:
    """A deep copy of a (nested) state dict with every tensor cloned to the CPU: an in-memory
    snapshot that later optimizer steps cannot mutate and that costs no accelerator memory."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, Mapping):
        return {key: cpu_copy(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(cpu_copy(value) for value in obj)
    return obj
