"""The task interface: what the shared loop needs to know about a kind of problem.

The loop (:mod:`trainers.loop`) is task-agnostic. A task owns its data, its training loss and its
validation metrics, so speaker verification, CTC or classification can plug in later without
forking the loop. Contract:

* ``build_data(request, config)`` returns ``(train, valid)`` map-style datasets whose items are
  tuples of tensors (collated by the default collate into a tuple of batched tensors);
  ``config`` is the model's ``Config`` as :func:`trainers.config.resolve_config` resolved it
  (preset + overrides), for the data parameters a model carries (e.g. ``n_per_speaker``);
* ``forward(model, batch)`` runs the model on a batch already on the device;
* ``loss(model_out, batch)`` is a scalar, lower is better, fp32 (the loop backpropagates it);
* ``evaluate(model, loader, device)`` returns validation metrics that include ``metric``; the loop
  calls it under ``torch.no_grad`` with the model in eval mode;
* ``goal`` says whether ``metric`` is maximised or minimised (early stopping, LR schedule, best).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from trainers.api import TrialRequest

Batch = Sequence[Tensor]
Goal = Literal["maximize", "minimize"]


class Task(ABC):
    """One kind of learning problem (see the module docstring for the contract)."""

    name: str
    metric: str
    goal: Goal

    @abstractmethod
    def build_data(self, request: TrialRequest, config: Any) -> tuple[Dataset[Any], Dataset[Any]]:
        """The training subset of ``request.subset_size`` items and the validation set;
        ``config`` is the model's resolved ``Config``."""

    def forward(self, model: nn.Module, batch: Batch) -> Any:
        """Run the model; by default the first tensor of the batch is the input."""
        return model(batch[0])

    @abstractmethod
    def loss(self, model_out: Any, batch: Batch) -> Tensor:
        """Scalar training loss, lower is better."""

    @abstractmethod
    def evaluate(
        self, model: nn.Module, loader: Iterable[Batch], device: torch.device
    ) -> dict[str, float]:
        """Validation metrics (``self.metric`` among them), averaged over the whole loader."""

    def is_better(self, value: float, best: float | None) -> bool:
        """Strict improvement of ``value`` over ``best`` in this task's direction."""
        if best is None:
            return True
        return value > best if self.goal == "maximize" else value < best


def check_classes(n_labels: int, n_classes: int, what: str) -> None:
    """A classifier head (``n_classes`` outputs) must cover every label the data has."""
    if n_labels > n_classes:
        raise ValueError(
            f"the training data has {n_labels} {what}, but the model's n_classes is {n_classes}; "
            f"set n_classes >= {n_labels}"
        )
