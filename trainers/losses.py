"""Scale-invariant SDR and its permutation-invariant training loss.

Everything here runs in fp32, even when the caller is inside ``torch.autocast``: the epsilon that
keeps silent signals finite (1e-8) rounds to 0 in fp16 (smallest subnormal ~6e-8), and a sum of
squares over a few seconds of audio (tens of thousands of samples) overflows fp16's 65504. bf16
has the range but only 8 bits of mantissa, so long sums lose most of their precision. The cost of
fp32 here is negligible next to the model.

Shapes: signals are ``[..., T]``; separated batches are ``[B, n_src, T]``.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor

EPS = 1e-8
MAX_PIT_SOURCES = 6  # 6! = 720 permutations; beyond that exhaustive search is too slow


def _fp32(*tensors: Tensor) -> tuple[Tensor, ...]:
    return tuple(t.float() for t in tensors)


def si_sdr(est: Tensor, ref: Tensor, eps: float = EPS) -> Tensor:
    """SI-SDR in dB of ``est`` against ``ref`` over the last axis, shapes broadcast, fp32 result.

    Both signals are made zero-mean; the reference is scaled by the optimal projection
    ``alpha = <est, ref> / (|ref|^2 + eps)``. ``eps`` in numerator and denominator keeps a silent
    reference (or a silent estimate) finite in value and gradient: a silent pair scores 0 dB.
    """
    with torch.autocast(device_type=est.device.type, enabled=False):
        est, ref = _fp32(est, ref)
        est = est - est.mean(dim=-1, keepdim=True)
        ref = ref - ref.mean(dim=-1, keepdim=True)
        alpha = (est * ref).sum(-1, keepdim=True) / (ref.pow(2).sum(-1, keepdim=True) + eps)
        target = alpha * ref
        noise = est - target
        ratio = (target.pow(2).sum(-1) + eps) / (noise.pow(2).sum(-1) + eps)
        return 10 * torch.log10(ratio)


def pairwise_si_sdr(est: Tensor, ref: Tensor) -> Tensor:
    """``[B, n_est, T]`` x ``[B, n_ref, T]`` -> ``[B, n_est, n_ref]``: SI-SDR of every pair."""
    if est.dim() != 3 or ref.dim() != 3 or est.shape[0] != ref.shape[0]:
        raise ValueError(
            f"expected est [B, n_src, T] and ref [B, n_src, T], got {tuple(est.shape)=} "
            f"and {tuple(ref.shape)=}"
        )
    return si_sdr(est.unsqueeze(2), ref.unsqueeze(1))


def pit_si_sdr(est: Tensor, ref: Tensor) -> tuple[Tensor, Tensor]:
    """Best-permutation mean SI-SDR per utterance.

    Returns ``(scores [B], perm [B, n_src])`` where ``est[b, perm[b, j]]`` is the estimate matched
    to ``ref[b, j]``. All ``n_src!`` permutations are tried (n_src <= 6).
    """
    n_src = ref.shape[1]
    if est.shape[1] != n_src:
        raise ValueError(f"est has {est.shape[1]} sources but ref has {n_src}")
    if n_src > MAX_PIT_SOURCES:
        raise ValueError(f"{n_src=} is too many for exhaustive PIT (at most {MAX_PIT_SOURCES})")
    pair = pairwise_si_sdr(est, ref)  # [B, est, ref]
    perms = torch.tensor(list(itertools.permutations(range(n_src))), device=pair.device)
    ref_index = torch.arange(n_src, device=pair.device)
    # per_perm[b, p] = mean_j pair[b, perms[p, j], j]
    per_perm = pair[:, perms, ref_index].mean(-1)
    scores, best = per_perm.max(dim=1)
    return scores, perms[best]


def pit_si_sdr_loss(est: Tensor, ref: Tensor) -> tuple[Tensor, Tensor]:
    """Training loss ``-mean(best-permutation SI-SDR)`` (fp32 scalar, lower is better) and the
    best permutation ``[B, n_src]`` (see :func:`pit_si_sdr`)."""
    scores, perm = pit_si_sdr(est, ref)
    return -scores.mean(), perm


def reorder(est: Tensor, perm: Tensor) -> Tensor:
    """Reorder ``est [B, n_src, T]`` so that ``out[b, j]`` matches ``ref[b, j]``."""
    index = perm.unsqueeze(-1).expand(-1, -1, est.shape[-1])
    return est.gather(1, index)
