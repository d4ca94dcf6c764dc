"""SPMamba (trainers/models/spmamba.py): the model-module contract, size and trainability."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from trainers.losses import pit_si_sdr_loss
from trainers.models import spmamba
from trainers.registry import load_model_module

torch.set_num_threads(1)

# The SPMamba repository's README (github.com/JusperLee/SPMamba, "Performance" table): SPMamba,
# Params(M) 6.14, for configs/spmamba.yml. That config is our paper preset (configs/spmamba-wsj0.yml:
# 6 layers, emb_dim 16, emb_ks 8, emb_hs 1, 4 heads; Mamba d_state 16, expand 4) with a 512-point
# STFT (hop 128) instead of 256 (hop 64); the attention's per-frequency projections make the count
# depend on the STFT size. A figure printed to 0.01 M allows +-0.005 M, ~0.1 %.
PUBLISHED_STFT = {"n_fft": 512, "hop": 128}
PUBLISHED_PARAMS = 6.14e6
PUBLISHED_PRECISION = 0.005e6


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registry_loads_this_module() -> None:
    assert load_model_module("spmamba") is spmamba


@pytest.mark.parametrize("length", [1, 7, 803, 4001])
def test_output_is_batch_by_sources_by_input_length(length: int) -> None:
    model = spmamba.build(spmamba.PRESETS["tiny"]).eval()
    with torch.no_grad():
        out = model(torch.randn(3, length))
    assert out.shape == (3, 2, length)
    assert torch.isfinite(out).all()


def test_paper_preset_matches_reference_parameter_count() -> None:
    published = dataclasses.replace(spmamba.PRESETS["paper"], **PUBLISHED_STFT)
    count = n_params(spmamba.build(published))
    assert abs(count - PUBLISHED_PARAMS) <= PUBLISHED_PRECISION, count


def test_mamba_mixer_is_causal() -> None:
    """Changing the input after step t must not change the forward Mamba's output up to t (the
    depthwise conv is cropped to its causal part and the scan runs forwards)."""
    torch.manual_seed(0)
    mixer = spmamba.Mamba(d_model=8, d_state=4, d_conv=4, expand=2, chunk=5)
    x = torch.randn(2, 20, 8)
    y = x.clone()
    y[:, 12:] = torch.randn(2, 8, 8)
    with torch.no_grad():
        a, b = mixer(x), mixer(y)
    torch.testing.assert_close(a[:, :12], b[:, :12])
    assert not torch.allclose(a[:, 12:], b[:, 12:])


def test_output_scales_with_the_input() -> None:
    """The mixture is normalised to unit std and the estimates scaled back."""
    model = spmamba.build(spmamba.PRESETS["tiny"]).eval()
    x = torch.randn(1, 1200)
    with torch.no_grad():
        torch.testing.assert_close(model(10 * x), 10 * model(x), rtol=1e-4, atol=1e-4)


def test_tiny_backward_reaches_every_parameter() -> None:
    model = spmamba.build(spmamba.PRESETS["tiny"])
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
    model = spmamba.build(spmamba.PRESETS["tiny"])
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


def backward_with_saved_bytes(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Run forward and backward; return the bytes autograd kept from forward for backward.

    The hook sees what the outer graph saves; a checkpointed region saves through its own inner
    hook (non-reentrant checkpoint), so its activations never reach this count."""
    saved = 0

    def count(t: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(count, lambda t: t):
        out = model(x)
    out.sum().backward()
    return saved


def test_grad_checkpoint_changes_memory_not_gradients() -> None:
    tiny = spmamba.PRESETS["tiny"]
    grads, saved = [], []
    for flag in (False, True):
        torch.manual_seed(0)
        model = spmamba.build(spmamba.Config(**{**vars(tiny), "grad_checkpoint": flag}))
        x = torch.randn(1, 1200, generator=torch.Generator().manual_seed(1))
        saved.append(backward_with_saved_bytes(model, x))
        grads.append([p.grad for p in model.parameters()])
    for plain, recomputed in zip(*grads, strict=True):
        torch.testing.assert_close(recomputed, plain)
    # The Mamba layers hold most activations (~5x fewer bytes kept when measured): recomputing
    # them must at least halve what forward keeps for backward.
    plain_bytes, checkpointed_bytes = saved
    assert checkpointed_bytes < plain_bytes / 2, saved
