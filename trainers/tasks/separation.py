"""Speech separation: mixture ``[B, T]`` -> sources ``[B, n_src, T]``, scored by SI-SDR.

Validation reports ``si_sdr`` (best-permutation SI-SDR of the estimates, dB) and ``si_sdri``
(its improvement over using the mixture itself as every estimate), both means over utterances.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from trainers.api import TrialRequest
from trainers.data.datasets import build_separation_data
from trainers.losses import pit_si_sdr, pit_si_sdr_loss, si_sdr
from trainers.tasks.base import Batch, Task


class SeparationTask(Task):
    name = "separation"
    metric = "si_sdr"
    goal = "maximize"

    def build_data(self, request: TrialRequest, config: Any) -> tuple[Dataset[Any], Dataset[Any]]:
        data = build_separation_data(request.data, request.subset_size, request.seed)
        return data.train, data.valid

    def loss(self, model_out: Tensor, batch: Batch) -> Tensor:
        loss, _ = pit_si_sdr_loss(model_out, batch[1])
        return loss

    def evaluate(
        self, model: nn.Module, loader: Iterable[Batch], device: torch.device
    ) -> dict[str, float]:
        total_sdr = total_mix = 0.0
        count = 0
        for batch in loader:
            mixture, sources = (t.to(device, non_blocking=True) for t in batch[:2])
            sdr, _ = pit_si_sdr(model(mixture), sources)
            total_sdr += float(sdr.sum())
            total_mix += float(mixture_si_sdr(mixture, sources).sum())
            count += len(mixture)
        if count == 0:
            raise ValueError("the validation set is empty: cannot compute si_sdr")
        return {"si_sdr": total_sdr / count, "si_sdri": (total_sdr - total_mix) / count}


def mixture_si_sdr(mixture: Tensor, sources: Tensor) -> Tensor:
    """Per-utterance SI-SDR ``[B]`` of the unprocessed mixture against each source, averaged over
    sources: the baseline that SI-SDRi is measured from."""
    return si_sdr(mixture.unsqueeze(1), sources).mean(-1)
