"""Where a trial runs and in which precision.

Mixed precision is a CUDA-only optimisation: on CPU autocast to bf16 is slow on most machines and
buys nothing for the small ``tiny`` presets, so CPU runs stay in fp32 and are bitwise repeatable.
On CUDA we prefer bf16 (same exponent range as fp32, so no loss scaling is needed) and fall back
to fp16 with a :class:`torch.amp.GradScaler` on GPUs without bf16.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset, default_collate


def select_device(requested: str | None) -> torch.device:
    """``None`` picks CUDA when available, else CPU; an explicit CUDA request without a GPU fails."""
    if requested is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {requested!r} was requested but CUDA is not available")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {requested!r}; valid device types: cpu, cuda")
    return device


def amp_dtype(device: torch.device, enabled: bool = True) -> torch.dtype | None:
    """The autocast dtype for ``device``, or ``None`` when the trial runs in plain fp32."""
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@contextlib.contextmanager
def autocast_context(device: torch.device, enabled: bool = True) -> Iterator[None]:
    """Autocast on CUDA (bf16, else fp16); a no-op on CPU or when ``enabled`` is false."""
    dtype = amp_dtype(device, enabled)
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def make_grad_scaler(device: torch.device, enabled: bool = True) -> torch.amp.GradScaler:
    """A loss scaler that is active only for fp16 autocast (bf16 and fp32 do not underflow).

    A disabled scaler is still returned so the loop has one code path: its ``scale`` is the
    identity and its ``state_dict`` is empty.
    """
    active = amp_dtype(device, enabled) == torch.float16
    return torch.amp.GradScaler(device.type, enabled=active)


# --- batching: where the data lives --------------------------------------------------------------

RESIDENT_LIMIT_BYTES = 2 * 1024**3  # subsets below this are copied to the GPU once


class DeviceBatches:
    """Batches cut from a dataset whose tensors already live on the device.

    A small subset moved to the GPU once and sliced there avoids the per-step host work that a
    researcher's speaker-recognition notes name as the bottleneck ("slower due to bottleneck in
    CPU" at batch size 64). Items are still produced by the dataset (so random crops change
    every epoch); shuffling draws from a CPU ``generator``, the same one a DataLoader would use,
    so the data order is checkpointed and resumes exactly.
    """

    def __init__(
        self,
        dataset: Dataset[Any],
        batch_size: int,
        shuffle: bool,
        generator: torch.Generator | None = None,
    ) -> None:
        if shuffle and generator is None:
            raise ValueError("DeviceBatches(shuffle=True) needs a generator for a repeatable order")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self) -> int:
        return -(-len(self.dataset) // self.batch_size)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)  # type: ignore[arg-type]
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            yield default_collate(
                [self.dataset[i] for i in order[start : start + self.batch_size].tolist()]
            )


def dataset_nbytes(dataset: Dataset[Any]) -> int:
    """Estimated size of a dataset of equal-sized items (first item x length)."""
    if len(dataset) == 0:  # type: ignore[arg-type]
        return 0
    first = dataset[0]
    return sum(t.numel() * t.element_size() for t in first) * len(dataset)  # type: ignore[arg-type]


def to_device(dataset: Dataset[Any], device: torch.device) -> Dataset[Any]:
    """The dataset with its storage on ``device``: its own ``to(device)`` when it has one
    (items stay fresh, e.g. random crops), else every item stacked once into tensors."""
    move = getattr(dataset, "to", None)
    if callable(move):
        return move(device)
    items = [dataset[i] for i in range(len(dataset))]  # type: ignore[arg-type]
    return TensorDataset(*(torch.stack(field).to(device) for field in zip(*items, strict=True)))


def make_batches(
    dataset: Dataset[Any],
    device: torch.device,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    num_workers: int | None = None,
) -> DeviceBatches | DataLoader[Any]:
    """An iterable of batches, one pass over the data per ``iter()``; ``.dataset`` is the
    dataset it reads (a moved copy on the GPU path).

    CUDA and small: :class:`DeviceBatches` over the dataset moved to the GPU once. Otherwise a
    DataLoader with pinned memory and worker processes on CUDA, or ``num_workers=0`` on CPU,
    where workers compete with the model for the same cores and break exact resume.
    """
    if device.type == "cuda" and dataset_nbytes(dataset) < RESIDENT_LIMIT_BYTES:
        return DeviceBatches(to_device(dataset, device), batch_size, shuffle, generator)
    if num_workers is None:
        num_workers = min(4, os.cpu_count() or 1) if device.type == "cuda" else 0
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        # not persistent: workers re-created each epoch see the dataset's set_epoch()
        persistent_workers=False,
    )
