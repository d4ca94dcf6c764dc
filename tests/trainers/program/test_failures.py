"""Failure reasons, and the one out-of-memory classification."""

from __future__ import annotations

import signal

import pytest

from trainers.program.failures import describe_exit, failure_reason, is_out_of_memory


@pytest.mark.parametrize(
    "text",
    [
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
        "RuntimeError: CUDA error: out of memory",
        "torch.cuda.OutOfMemoryError: ...",
        "MemoryError",
        "RuntimeError: [enforce fail at alloc_cpu.cpp:114] data. DefaultCPUAllocator: can't allocate memory",
        "RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate(handle)",
        "terminate called after throwing an instance of 'std::bad_alloc'",
        "jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate",
    ],
)
def test_out_of_memory_messages(text: str) -> None:
    assert is_out_of_memory(f"Traceback (most recent call last):\n{text}\n", returncode=1)


def test_other_failures_are_not_out_of_memory() -> None:
    assert not is_out_of_memory("ValueError: memory layout unsupported", returncode=1)
    assert not is_out_of_memory("", returncode=-signal.SIGSEGV)
    assert is_out_of_memory("", returncode=-signal.SIGKILL)  # the OOM killer
    assert is_out_of_memory("", returncode=137)  # the same, behind a shell


def test_failure_reasons() -> None:
    crash = failure_reason(1, "Traceback...\nValueError: boom")
    assert crash == "exit code 1; last lines of stderr:\nTraceback...\nValueError: boom"
    oom = failure_reason(1, "torch.OutOfMemoryError: CUDA out of memory.")
    assert oom.startswith("out of memory: exit code 1; last lines of stderr:")
    hidden = failure_reason(1, "wandb done", more_output="MemoryError\nmany lines")
    assert hidden.startswith("out of memory:") and "MemoryError" not in hidden
    assert failure_reason(2, "", "usage: train.py").endswith(
        "last lines of stdout:\nusage: train.py"
    )
    assert failure_reason(-signal.SIGSEGV, "") == "killed by SIGSEGV; no output"
    assert describe_exit(-signal.SIGKILL).startswith("killed by SIGKILL (most likely")
