"""SI-SDR and PIT loss: values, invariances, silent signals and precision."""

import math

import pytest
import torch

from trainers.losses import pairwise_si_sdr, pit_si_sdr, pit_si_sdr_loss, reorder, si_sdr

torch.set_num_threads(1)


def _sources(batch: int = 3, n_src: int = 2, length: int = 800, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, n_src, length, generator=torch.Generator().manual_seed(seed))


def test_perfect_estimate_scores_very_high() -> None:
    ref = _sources()
    assert float(si_sdr(ref, ref).min()) > 60.0


def test_known_value_for_orthogonal_noise() -> None:
    t = torch.arange(1000, dtype=torch.float32)
    ref = torch.sin(2 * math.pi * t / 50)
    noise = 0.1 * torch.sin(2 * math.pi * t / 20)  # orthogonal to ref over whole periods
    assert float(si_sdr(ref + noise, ref)) == pytest.approx(20.0, abs=0.05)


def test_scale_and_offset_invariance() -> None:
    ref = _sources()
    est = ref + 0.3 * _sources(seed=1)
    base = si_sdr(est, ref)
    torch.testing.assert_close(si_sdr(7.5 * est + 0.2, ref), base, atol=1e-4, rtol=1e-4)


def test_pit_is_invariant_to_source_order() -> None:
    ref = _sources(n_src=3)
    est = ref + 0.2 * _sources(n_src=3, seed=1)
    swapped = est[:, [2, 0, 1]]
    loss, _ = pit_si_sdr_loss(est, ref)
    loss_swapped, perm = pit_si_sdr_loss(swapped, ref)
    torch.testing.assert_close(loss, loss_swapped)
    assert perm.tolist() == [[1, 2, 0]] * 3
    torch.testing.assert_close(reorder(swapped, perm), est)


def test_pairwise_matrix_matches_direct_scores() -> None:
    ref, est = _sources(), _sources(seed=2)
    pair = pairwise_si_sdr(est, ref)
    torch.testing.assert_close(pair[:, 1, 0], si_sdr(est[:, 1], ref[:, 0]))


def test_silent_target_gives_finite_loss_and_gradient() -> None:
    ref = _sources()
    ref[:, 1] = 0.0  # one silent source
    ref[0, 0] = 1e-12 * torch.randn(ref.shape[-1])  # one near-silent source
    est = _sources(seed=3).requires_grad_(True)
    loss, _ = pit_si_sdr_loss(est, ref)
    loss.backward()
    assert torch.isfinite(loss)
    assert est.grad is not None and torch.isfinite(est.grad).all()


def test_silent_estimate_and_target_score_zero() -> None:
    zeros = torch.zeros(2, 100)
    torch.testing.assert_close(si_sdr(zeros, zeros), torch.zeros(2))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs_give_fp32_results(dtype: torch.dtype) -> None:
    ref = _sources(length=16000)  # sums of squares over 16 k samples overflow fp16
    est = ref + 0.1 * _sources(length=16000, seed=4)
    loss, _ = pit_si_sdr_loss(est.to(dtype), ref.to(dtype))
    expected, _ = pit_si_sdr_loss(est, ref)
    assert loss.dtype == torch.float32
    assert float(loss) == pytest.approx(float(expected), abs=0.5)  # only input rounding differs


def test_fp32_under_autocast() -> None:
    ref = _sources()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        scores, _ = pit_si_sdr(ref.bfloat16(), ref.bfloat16())
    assert scores.dtype == torch.float32


def test_mismatched_sources_are_rejected() -> None:
    with pytest.raises(ValueError, match="sources"):
        pit_si_sdr_loss(_sources(n_src=2), _sources(n_src=3))
    with pytest.raises(ValueError, match="too many"):
        pit_si_sdr_loss(_sources(n_src=7, length=10), _sources(n_src=7, length=10))
