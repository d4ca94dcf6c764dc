"""The CTC task: a loss that takes int32 targets and the real lengths, and CER/WER maths."""

import torch

from trainers.data.transcripts import encode
from trainers.tasks.ctc import ctc_loss, edit_distance, greedy_transcripts


def test_ctc_loss_accepts_int32_targets_and_uses_real_lengths() -> None:
    log_probs = torch.randn(50, 2, 29).log_softmax(-1)
    targets32 = torch.tensor([encode("abc") + [0, 0], encode("hello")], dtype=torch.int32)
    real = ctc_loss(log_probs, targets32, torch.tensor([50, 30]), torch.tensor([3, 5]))
    assert torch.isfinite(real)
    as_if_padded = ctc_loss(log_probs, targets32, torch.tensor([50, 50]), torch.tensor([5, 5]))
    assert not torch.isclose(real, as_if_padded)  # lengths matter: padding is not scored
    impossible = ctc_loss(log_probs, targets32, torch.tensor([2, 2]), torch.tensor([3, 5]))
    assert float(impossible) == 0.0  # zero_infinity: an impossible alignment is no inf


def test_edit_distance_and_greedy_decoding() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance(["a", "b", "c"], ["a", "c"]) == 1
    path = [encode("h")[0], encode("h")[0], 0, encode("i")[0]]
    log_probs = torch.full((4, 1, 29), -10.0)
    log_probs[torch.arange(4), 0, torch.tensor(path)] = 0.0
    assert greedy_transcripts(log_probs, torch.tensor([4])) == ["hi"]
    assert greedy_transcripts(log_probs, torch.tensor([1])) == ["h"]
