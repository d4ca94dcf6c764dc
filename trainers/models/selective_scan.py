"""Mamba's selective scan (the S6 recurrence) in plain PyTorch, with bounded memory.

A. Gu and T. Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", 2023,
https://arxiv.org/abs/2312.00752 (Algorithm 2). For every channel d and state index n:

    delta_t = softplus(delta_t + delta_bias)                (when delta_softplus)
    h_t     = exp(delta_t * A[d, n]) * h_{t-1} + delta_t * B_t[n] * u_t      (ZOH / Euler)
    y_t     = sum_n C_t[n] * h_t[n] + D[d] * u_t
    out_t   = y_t * silu(z_t)                               (when a gate z is given)

The interface (argument names and shapes) is ``mamba_ssm``'s ``selective_scan_fn``:
``u, delta, z: [b, d, L]``, ``A: [d, n]``, ``B, C: [b, n, L]``, ``D, delta_bias: [d]``.

Why chunks: the state ``h`` is ``[b, d, n]`` per step, so keeping every step for autograd costs
``b * d * n * L`` floats per tensor - gigabytes for SPMamba's paper size (d=512, n=16, b*L ~ 15 K
per scan, 24 scans). We scan ``chunk_size`` steps at a time, carry only the last state to the
next chunk, and wrap each chunk in ``torch.utils.checkpoint`` so its per-step states are
recomputed during backward instead of stored: memory is O(b * d * (L + chunk_size * n)).
Within a chunk the recurrence is a plain loop over steps: on a CPU that is the least work (a
parallel prefix scan does O(log chunk) times more, and the log-space cumsum trick overflows once
the accumulated decay exceeds exp(88) in fp32).

On a CUDA machine where ``mamba_ssm`` imports, :func:`selective_scan` uses its fused kernel.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

DEFAULT_CHUNK = 32


def _load_kernel() -> Callable[..., Tensor] | None:
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except Exception:  # ImportError, or a CUDA extension that fails to load
        return None
    return selective_scan_fn


_KERNEL = _load_kernel()


def kernel_available() -> bool:
    """True when mamba_ssm's CUDA kernel imported and a CUDA device exists."""
    return _KERNEL is not None and torch.cuda.is_available()


def selective_scan(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
) -> Tensor:
    """The selective scan: mamba_ssm's CUDA kernel for CUDA tensors when available, else
    :func:`selective_scan_chunked`. Returns ``[b, d, L]``."""
    if u.is_cuda and _KERNEL is not None:
        return _KERNEL(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    return selective_scan_chunked(u, delta, A, B, C, D, z, delta_bias, delta_softplus, chunk_size)


def selective_scan_chunked(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
) -> Tensor:
    """The pure-PyTorch scan, ``chunk_size`` steps at a time (any length, any chunk size >= 1)."""
    _check_shapes(u, delta, A, B, C)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size=}")
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    # Time-major layouts make every per-step slice contiguous: [b, L, d] and [b, L, n].
    u_t, delta_t = u.transpose(1, 2), delta.transpose(1, 2)
    B_t, C_t = B.transpose(1, 2), C.transpose(1, 2)
    state = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])  # h_{-1} = 0: [b, d, n]
    # Recompute chunks in backward only when something needs a gradient (not under no_grad).
    recompute = torch.is_grad_enabled() and any(t.requires_grad for t in (u, delta, A, B, C))
    ys = []
    for start in range(0, u.shape[2], chunk_size):
        window = slice(start, start + chunk_size)
        args = (u_t[:, window], delta_t[:, window], A, B_t[:, window], C_t[:, window], state)
        if recompute:
            y, state = checkpoint(_scan_chunk, *args, use_reentrant=False)
        else:
            y, state = _scan_chunk(*args)
        ys.append(y)
    y = torch.cat(ys, dim=1).transpose(1, 2)  # [b, d, L]
    if D is not None:
        y = y + D[:, None] * u
    if z is not None:
        y = y * F.silu(z)
    return y


def _scan_chunk(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, state: Tensor
) -> tuple[Tensor, Tensor]:
    """One chunk, time-major: ``u, delta [b, l, d]``, ``B, C [b, l, n]``, ``state [b, d, n]``.

    Returns ``y [b, l, d]`` (without the D skip) and the state after the last step.
    """
    decay = torch.exp(delta.unsqueeze(-1) * A)  # [b, l, d, n]; A < 0 so decay is in (0, 1]
    drive = (delta * u).unsqueeze(-1) * B.unsqueeze(2)  # [b, l, d, n]
    states = []
    # unbind, not decay[:, step]: the backward of one unbind is one stack, while the backward of
    # each indexing op would zero-fill a whole [b, l, d, n] gradient (quadratic in the chunk).
    for decay_step, drive_step in zip(decay.unbind(1), drive.unbind(1), strict=True):
        state = decay_step * state + drive_step
        states.append(state)
    # y_t = C_t . h_t for every step at once: [b, l, d, n] @ [b, l, n, 1].
    y = torch.matmul(torch.stack(states, dim=1), C.unsqueeze(-1)).squeeze(-1)
    return y, state


def _check_shapes(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor) -> None:
    if u.dim() != 3 or delta.shape != u.shape:
        raise ValueError(
            f"u and delta must both be [b, d, L], got {tuple(u.shape)=} {tuple(delta.shape)=}"
        )
    b, d, length = u.shape
    n = A.shape[-1]
    if A.shape != (d, n):
        raise ValueError(f"A must be [d, n] = [{d}, n], got {tuple(A.shape)=}")
    for name, t in (("B", B), ("C", C)):
        if t.shape != (b, n, length):
            raise ValueError(
                f"{name} must be [b, n, L] = [{b}, {n}, {length}], got {tuple(t.shape)}"
            )
