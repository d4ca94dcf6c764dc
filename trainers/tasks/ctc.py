"""Character CTC recognition, scored by greedy-decoding CER (and WER), both in percent.

Items are ``(audio, audio_length, target, target_length)`` (:mod:`trainers.data.transcripts`);
the model maps ``(audio, audio_length)`` to ``(log_probs [T, B, C], output_lengths)``.
:func:`ctc_loss` casts targets to int64 (a researcher's DeepSpeech2 log records int32 targets
failing with ``gather(): Expected dtype int64``) and takes the real lengths, never the padded
``T`` (with padded lengths CTC scores the padding as speech);
``zero_infinity=True`` turns an impossible alignment (target longer than the input) into a zero
loss for that utterance instead of an inf that the loop would skip the whole batch for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from trainers.api import TrialRequest
from trainers.data.transcripts import build_transcript_data, decode, greedy_decode
from trainers.tasks.base import Batch, Task


def ctc_loss(
    log_probs: Tensor, targets: Tensor, input_lengths: Tensor, target_lengths: Tensor
) -> Tensor:
    """Mean CTC loss (per target character, as ``nn.CTCLoss`` 'mean'), blank = 0, in fp32."""
    return F.ctc_loss(
        log_probs.float(),
        targets.long(),
        input_lengths.long(),
        target_lengths.long(),
        blank=0,
        reduction="mean",
        zero_infinity=True,
    )


def edit_distance(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Levenshtein distance (substitutions, insertions, deletions all cost 1)."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def greedy_transcripts(log_probs: Tensor, lengths: Tensor) -> list[str]:
    """Best-path transcripts of ``log_probs [T, B, C]``, each cut at its real length."""
    best = log_probs.argmax(-1).T.cpu()  # [B, T]
    return [
        greedy_decode(row[: int(n)].tolist()) for row, n in zip(best, lengths.cpu(), strict=True)
    ]


class CTCTask(Task):
    name = "ctc"
    metric = "cer"
    goal = "minimize"

    def build_data(self, request: TrialRequest, config: Any) -> tuple[Dataset[Any], Dataset[Any]]:
        data = build_transcript_data(request.data, request.subset_size)
        return data.train, data.valid

    def forward(self, model: nn.Module, batch: Batch) -> tuple[Tensor, Tensor]:
        return model(batch[0], batch[1])

    def loss(self, model_out: tuple[Tensor, Tensor], batch: Batch) -> Tensor:
        log_probs, out_lengths = model_out
        return ctc_loss(log_probs, batch[2], out_lengths, batch[3])

    def evaluate(
        self, model: nn.Module, loader: Iterable[Batch], device: torch.device
    ) -> dict[str, float]:
        chars = char_errors = words = word_errors = 0
        loss_sum, count = 0.0, 0
        for batch in loader:
            audio, lengths, targets, target_lengths = (
                t.to(device, non_blocking=True) for t in batch[:4]
            )
            log_probs, out_lengths = model(audio, lengths)
            loss_sum += float(ctc_loss(log_probs, targets, out_lengths, target_lengths)) * len(
                audio
            )
            count += len(audio)
            for hyp, ref_ids, n in zip(
                greedy_transcripts(log_probs, out_lengths),
                targets.cpu(),
                target_lengths.cpu(),
                strict=True,
            ):
                ref = decode(ref_ids[: int(n)].tolist())
                chars, char_errors = chars + len(ref), char_errors + edit_distance(hyp, ref)
                words, word_errors = (
                    words + len(ref.split()),
                    word_errors + edit_distance(hyp.split(), ref.split()),
                )
        if count == 0 or chars == 0:
            raise ValueError("the validation set is empty: cannot compute cer")
        return {
            "cer": 100.0 * char_errors / chars,
            "wer": 100.0 * word_errors / max(words, 1),
            "valid_loss": loss_sum / count,
        }
