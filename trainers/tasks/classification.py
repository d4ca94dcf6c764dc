"""Speaker classification (closed set): utterance -> speaker logits, scored by accuracy (percent).

The classes are the sorted speaker ids of the data
(:func:`trainers.data.classification.build_classification_data` assigns them once, saves them
with the data and reports the class balance); validation uses held-out utterances of the same
speakers. Reports ``accuracy``, ``valid_loss`` and ``chance`` (100 / the number of classes
present), so a curve can be read against guessing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from trainers.api import TrialRequest
from trainers.data.classification import build_classification_data
from trainers.tasks.base import Batch, Task, check_classes


class ClassificationTask(Task):
    name = "classification"
    metric = "accuracy"
    goal = "maximize"

    def __init__(self) -> None:
        self.n_labels: int | None = None
        self.description = ""

    def build_data(self, request: TrialRequest, config: Any) -> tuple[Dataset[Any], Dataset[Any]]:
        data = build_classification_data(request.data, request.subset_size, request.seed)
        check_classes(len(data.labels), config.n_classes, "speakers")
        self.n_labels, self.description = len(data.labels), data.description
        return data.train, data.valid

    def loss(self, model_out: Tensor, batch: Batch) -> Tensor:
        return F.cross_entropy(model_out.float(), batch[1])

    def evaluate(
        self, model: nn.Module, loader: Iterable[Batch], device: torch.device
    ) -> dict[str, float]:
        correct = count = 0
        loss_sum = 0.0
        for batch in loader:
            audio, labels = (t.to(device, non_blocking=True) for t in batch[:2])
            logits = model(audio).float()
            loss_sum += float(F.cross_entropy(logits, labels, reduction="sum"))
            correct += int((logits.argmax(1) == labels).sum())
            count += len(labels)
        if count == 0:
            raise ValueError("the validation set is empty: cannot compute accuracy")
        metrics = {"accuracy": 100.0 * correct / count, "valid_loss": loss_sum / count}
        if self.n_labels:
            metrics["chance"] = 100.0 / self.n_labels
        return metrics
