"""SepFormer (trainers/models/sepformer.py): the model-module contract, size and trainability."""

from __future__ import annotations

import math

import pytest
import torch

from trainers.losses import pit_si_sdr_loss
from trainers.models import sepformer
from trainers.registry import load_model_module

torch.set_num_threads(1)

# Subakan et al. 2021 (https://arxiv.org/abs/2010.13154), Table 1 (WSJ0-2mix): SepFormer, 26M
# parameters, for SpeechBrain's recipe (hparams/sepformer.yaml: 256 filters, kernel 16, 2 blocks
# of 8 intra + 8 inter layers, d_model 256, 8 heads, d_ffn 1024). A figure printed to 1 M allows
# +-0.5 M, ~2 %.
PUBLISHED_PARAMS = 26e6
PUBLISHED_PRECISION = 0.5e6


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registry_loads_this_module() -> None:
    assert load_model_module("sepformer") is sepformer


@pytest.mark.parametrize("length", [1, 7, 803, 4001])
def test_output_is_batch_by_sources_by_input_length(length: int) -> None:
    model = sepformer.build(sepformer.PRESETS["tiny"]).eval()
    with torch.no_grad():
        out = model(torch.randn(3, length))
    assert out.shape == (3, 2, length)
    assert torch.isfinite(out).all()


def test_paper_preset_matches_reference_parameter_count() -> None:
    count = n_params(sepformer.build(sepformer.PRESETS["paper"]))
    assert abs(count - PUBLISHED_PARAMS) <= PUBLISHED_PRECISION, count


def test_chunking_and_overlap_add_are_inverse_up_to_the_double_cover() -> None:
    """With identity blocks and no masking head the chunk/overlap-add path must see every frame
    exactly twice: check it via the unfold/fold pair the masker uses."""
    import torch.nn.functional as F

    k, hop, length = 10, 5, 37
    n_chunks = math.ceil(length / hop) + 1
    padded = (n_chunks - 1) * hop + k
    x = torch.randn(1, 3, length)
    chunks = F.pad(x, (hop, padded - length - hop)).unfold(-1, k, hop)  # [1, 3, S, K]
    assert chunks.shape[2] == n_chunks
    folded = F.fold(
        chunks.transpose(2, 3).reshape(1, 3 * k, n_chunks), (1, padded), (1, k), stride=(1, hop)
    ).view(1, 3, padded)[..., hop : hop + length]
    torch.testing.assert_close(folded, 2 * x)


def test_tiny_backward_reaches_every_parameter() -> None:
    model = sepformer.build(sepformer.PRESETS["tiny"])
    model(torch.randn(2, 1600)).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} got a zero gradient"


def fixed_batch(length: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
    """Two distinct tones with a little noise per utterance: separable by any working model."""
    g = torch.Generator().manual_seed(0)
    t = torch.arange(length) / 8000
    tone = lambda f: torch.sin(2 * math.pi * f * t)  # noqa: E731
    refs = torch.stack(
        [torch.stack([tone(220), torch.sign(tone(530))]), torch.stack([tone(310), tone(1250)])]
    ) + 0.05 * torch.randn(2, 2, length, generator=g)
    return refs.sum(1), refs


def test_a_few_adam_steps_on_one_batch_reduce_the_pit_loss() -> None:
    torch.manual_seed(0)
    model = sepformer.build(sepformer.PRESETS["tiny"])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    mixture, refs = fixed_batch()
    losses = []
    for _ in range(12):
        loss, _ = pit_si_sdr_loss(model(mixture), refs)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    # SI-SDR at least 5 dB better than at the start, and still improving in the second half.
    assert losses[-1] < losses[0] - 5.0, losses
    assert losses[-1] < losses[len(losses) // 2], losses
