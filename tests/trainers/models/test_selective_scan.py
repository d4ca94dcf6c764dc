"""The chunked selective scan against a naive step-by-step reference, and against mamba_ssm's
CUDA kernel when that is available."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from trainers.models.selective_scan import (
    kernel_available,
    selective_scan,
    selective_scan_chunked,
)

torch.set_num_threads(1)


def naive_scan(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor,
    z: Tensor,
    delta_bias: Tensor,
) -> Tensor:
    """Algorithm 2 of the Mamba paper written as literally as possible, one step at a time."""
    delta = F.softplus(delta + delta_bias[:, None])
    b, d, length = u.shape
    h = u.new_zeros(b, d, A.shape[1])
    ys = []
    for t in range(length):
        dt = delta[:, :, t, None]  # [b, d, 1]
        h = torch.exp(dt * A) * h + dt * B[:, None, :, t] * u[:, :, t, None]
        ys.append((h * C[:, None, :, t]).sum(-1) + D * u[:, :, t])
    return torch.stack(ys, dim=-1) * F.silu(z)


def random_inputs(
    b: int = 2, d: int = 6, n: int = 4, length: int = 37, device: str = "cpu", seed: int = 0
) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64).to(device)

    return {
        "u": rand(b, d, length),
        "delta": rand(b, d, length),
        "A": -torch.exp(rand(d, n)),  # negative real, as Mamba parameterises it
        "B": rand(b, n, length),
        "C": rand(b, n, length),
        "D": rand(d),
        "z": rand(b, d, length),
        "delta_bias": rand(d),
    }


@pytest.mark.parametrize("chunk_size", [1, 5, 8, 37, 64])
def test_chunked_scan_equals_naive_reference_on_cpu(chunk_size: int) -> None:
    x = random_inputs(length=37)  # 37 is prime: 5 and 8 leave a short last chunk
    expected = naive_scan(**x)
    got = selective_scan_chunked(**x, delta_softplus=True, chunk_size=chunk_size)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


def test_chunked_scan_gradients_equal_naive_reference() -> None:
    x = {k: v.requires_grad_() for k, v in random_inputs(length=19).items()}
    grads_ref = torch.autograd.grad(naive_scan(**x).square().sum(), list(x.values()))
    out = selective_scan_chunked(**x, delta_softplus=True, chunk_size=6)
    grads = torch.autograd.grad(out.square().sum(), list(x.values()))
    for name, g, g_ref in zip(x, grads, grads_ref, strict=True):
        torch.testing.assert_close(g, g_ref, rtol=1e-9, atol=1e-9, msg=f"grad of {name}")


def test_cpu_tensors_take_the_pytorch_path() -> None:
    x = random_inputs(length=10)
    torch.testing.assert_close(
        selective_scan(**x, delta_softplus=True), naive_scan(**x), rtol=1e-10, atol=1e-10
    )


def test_shape_errors_name_the_argument() -> None:
    x = random_inputs()
    x["B"] = x["B"][:, :, :-1]
    with pytest.raises(ValueError, match="B must be"):
        selective_scan_chunked(**x)


@pytest.mark.skipif(not kernel_available(), reason="mamba_ssm kernel needs CUDA")
def test_mamba_ssm_kernel_agrees_with_cpu_path() -> None:
    """Checks the CUDA kernel (mamba_ssm.selective_scan_fn) against our PyTorch scan, fp32."""
    x = {k: v.float() for k, v in random_inputs(b=2, d=16, n=8, length=300).items()}
    expected = selective_scan_chunked(**x, delta_softplus=True)
    got = selective_scan(**{k: v.cuda() for k, v in x.items()}, delta_softplus=True)
    torch.testing.assert_close(got.cpu(), expected, rtol=1e-3, atol=1e-3)


PAPER_MEMORY_SCRIPT = """
import resource, torch
torch.set_num_threads(1)
from trainers.models import spmamba
model = spmamba.build(spmamba.PRESETS["paper"])
model(torch.randn(1, 8000)).square().mean().backward()
assert all(p.grad is not None for p in model.parameters())
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
def test_spmamba_paper_trains_on_one_second_on_cpu_in_under_8_gib() -> None:
    """Forward + backward of the 6.09 M paper preset on 1 s at 8 kHz through the chunked CPU scan,
    in a fresh process so that ru_maxrss is this measurement's peak alone."""
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", PAPER_MEMORY_SCRIPT],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    peak_gib = int(done.stdout.split()[-1]) / 2**20  # ru_maxrss is in KiB on Linux
    assert peak_gib < 8.0, f"peak RSS {peak_gib:.2f} GiB"
