"""Conv-TasNet (trainers/models/convtasnet.py): the model-module contract, size and trainability."""

from __future__ import annotations

import math

import pytest
import torch

from trainers.losses import pit_si_sdr_loss
from trainers.models import convtasnet
from trainers.registry import load_model_module

torch.set_num_threads(1)

# Luo & Mesgarani 2019 (https://arxiv.org/abs/1809.07454), Table V "Comparison with other methods
# on WSJ0-2mix": Conv-TasNet-gLN, model size 5.1M (N=512, L=16, B=128, H=512, P=3, X=8, R=3,
# Sc=128). A figure printed to 0.1 M allows +-0.05 M, ~1 %.
PUBLISHED_PARAMS = 5.1e6
PUBLISHED_PRECISION = 0.05e6


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registry_loads_this_module() -> None:
    assert load_model_module("convtasnet") is convtasnet


@pytest.mark.parametrize("length", [1, 7, 999, 4001])
def test_output_is_batch_by_sources_by_input_length(length: int) -> None:
    model = convtasnet.build(convtasnet.PRESETS["tiny"]).eval()
    with torch.no_grad():
        out = model(torch.randn(3, length))
    assert out.shape == (3, 2, length)
    assert torch.isfinite(out).all()


def test_paper_preset_matches_reference_parameter_count() -> None:
    count = n_params(convtasnet.build(convtasnet.PRESETS["paper"]))
    assert abs(count - PUBLISHED_PARAMS) <= PUBLISHED_PRECISION, count


def test_gln_is_global_over_channels_and_time() -> None:
    norm = convtasnet.global_layer_norm(4)
    x = torch.randn(2, 4, 50) * 3 + 1
    y = norm(x)
    torch.testing.assert_close(y.mean(dim=(1, 2)), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(dim=(1, 2), unbiased=False), torch.ones(2), atol=1e-4, rtol=0)


def test_tiny_backward_reaches_every_parameter() -> None:
    model = convtasnet.build(convtasnet.PRESETS["tiny"])
    model(torch.randn(2, 1600)).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} got a zero gradient"


def test_unknown_mask_activation_lists_valid_ones() -> None:
    config = convtasnet.Config(**{**vars(convtasnet.PRESETS["tiny"]), "mask_act": "tanh"})
    with pytest.raises(ValueError, match="valid: relu, sigmoid, softmax"):
        convtasnet.build(config)(torch.randn(1, 100))


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
    model = convtasnet.build(convtasnet.PRESETS["tiny"])
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
