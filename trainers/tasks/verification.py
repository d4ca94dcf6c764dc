"""Speaker verification: utterance -> embedding, scored by the EER of cosine trial scores.

Training items are ``(crops [n, T], label)`` (``n = n_per_speaker`` utterances of one speaker);
the model returns its own loss (``SpeakerNet.forward(wavs, labels)``: AAM-softmax or a triplet
loss, whose parameters the optimizer must see), so :meth:`loss` passes it through. Validation
embeds every validation utterance once, scores each trial pair by cosine similarity and reports
``eer`` (equal error rate, percent; lower is better) and ``trials``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from trainers.api import TrialRequest
from trainers.data.verification import build_verification_data
from trainers.tasks.base import Batch, Task, check_classes


def equal_error_rate(
    scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray
) -> float:
    """EER (a fraction): where the miss rate equals the false-alarm rate, over every threshold
    between distinct scores (ties are never split)."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    n_pos, n_neg = int(labels.sum()), int((1 - labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"EER needs target and non-target trials, got {n_pos=} and {n_neg=}")
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], labels[order]
    cut = np.r_[np.flatnonzero(np.diff(ranked) != 0), len(ranked) - 1]  # accept ranks 0..cut
    miss = np.r_[1.0, 1.0 - np.cumsum(hits)[cut] / n_pos]
    false_alarm = np.r_[0.0, np.cumsum(1 - hits)[cut] / n_neg]
    k = int(np.argmin(np.abs(miss - false_alarm)))
    return float((miss[k] + false_alarm[k]) / 2)


class VerificationTask(Task):
    name = "verification"
    metric = "eer"
    goal = "minimize"

    def __init__(self) -> None:
        self.trials: np.ndarray | None = None  # [n, 3]: label, first, second

    def build_data(self, request: TrialRequest, config: Any) -> tuple[Dataset[Any], Dataset[Any]]:
        data = build_verification_data(
            request.data,
            request.subset_size,
            request.seed,
            config.n_per_speaker,
            config.max_test_pairs,
        )
        if config.loss == "aamsoftmax":
            check_classes(data.n_speakers, config.n_classes, "speakers")
        self.trials = np.array([(t.label, t.first, t.second) for t in data.trials], dtype=np.int64)
        return data.train, data.valid

    def forward(self, model: nn.Module, batch: Batch) -> Tensor:
        return model(batch[0], batch[1])

    def loss(self, model_out: Tensor, batch: Batch) -> Tensor:
        return model_out.float()

    def evaluate(
        self, model: nn.Module, loader: Iterable[Batch], device: torch.device
    ) -> dict[str, float]:
        if self.trials is None:
            raise RuntimeError("evaluate() before build_data(): the trial list is unknown")
        embeddings = embed_all(model, loader, device)
        labels, first, second = self.trials.T
        scores = (embeddings[first] * embeddings[second]).sum(1).numpy()
        return {"eer": 100.0 * equal_error_rate(scores, labels), "trials": float(len(labels))}


def embed_all(model: nn.Module, loader: Iterable[Batch], device: torch.device) -> Tensor:
    """L2-normalised embeddings of every validation item, ordered by the item's index."""
    parts: dict[int, Tensor] = {}
    for batch in loader:
        wavs, index = batch[0].to(device, non_blocking=True), batch[1]
        out = F.normalize(model(wavs).float(), dim=1).cpu()
        parts.update(zip(index.tolist(), out, strict=True))
    if not parts:
        raise ValueError("the validation set is empty: cannot compute eer")
    return torch.stack([parts[i] for i in range(len(parts))])
