"""How a program's failure is told: the exception the runner records as ``failed``, and the one
place that decides whether a failure was an out-of-memory error."""

from __future__ import annotations

import signal

OUT_OF_MEMORY = "out of memory:"  # every out-of-memory reason starts with this

# Lower-cased fragments of the messages frameworks print when memory runs out.
_OUT_OF_MEMORY_MESSAGES = (
    "out of memory",  # CUDA ("CUDA out of memory"), HIP, XLA ("RESOURCE_EXHAUSTED: Out of memory")
    "outofmemoryerror",  # torch.OutOfMemoryError, torch.cuda.OutOfMemoryError
    "memoryerror",  # Python's MemoryError
    "can't allocate memory",  # torch's CPU allocator ("DefaultCPUAllocator: can't allocate memory")
    "cudaerrormemoryallocation",
    "cublas_status_alloc_failed",
    "std::bad_alloc",
)
# The kernel's OOM killer sends SIGKILL: the program shows -9, a shell wrapping it 128 + 9.
_KILLED_RETURNCODES = (-signal.SIGKILL, 128 + signal.SIGKILL)


class ProgramFailed(RuntimeError):
    """The program failed; the message is the reason the runner records."""


def is_out_of_memory(text: str, returncode: int | None = None) -> bool:
    """Whether ``text`` (the end of a failed run's output) or an exit by SIGKILL that nobody in
    Rungs sent says the run ran out of memory (GPU or host)."""
    lowered = text.lower()
    if any(fragment in lowered for fragment in _OUT_OF_MEMORY_MESSAGES):
        return True
    return returncode in _KILLED_RETURNCODES


def describe_exit(returncode: int) -> str:
    """``exit code 1`` or ``killed by SIGSEGV``."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    if returncode == -signal.SIGKILL:
        return f"killed by {name} (most likely the kernel's out-of-memory killer)"
    return f"killed by {name}"


def failure_reason(
    returncode: int, stderr_tail: str, output_tail: str = "", more_output: str = ""
) -> str:
    """The reason of a non-zero exit: how it ended and the last lines of stderr (of stdout when
    stderr is empty), prefixed by ``out of memory:`` when that is what happened. ``more_output``
    is searched for an out-of-memory message too but not shown (a traceback may be followed by
    many lines of shutdown messages)."""
    what = describe_exit(returncode)
    if stderr_tail.strip():
        reason = f"{what}; last lines of stderr:\n{stderr_tail.strip()}"
    elif output_tail.strip():
        reason = f"{what}; stderr is empty, last lines of stdout:\n{output_tail.strip()}"
    else:
        reason = f"{what}; no output"
    if is_out_of_memory(f"{stderr_tail}\n{output_tail}\n{more_output}", returncode):
        return f"{OUT_OF_MEMORY} {reason}"
    return reason
