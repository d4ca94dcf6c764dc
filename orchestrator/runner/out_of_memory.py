"""Out of memory is its own outcome, not an anonymous failure.

A trial that runs out of memory (GPU or host):

* is recorded ``failed`` with a reason that starts with ``out of memory:`` (the prefix of
  :data:`trainers.program.failures.OUT_OF_MEMORY`, which a user's program trainer uses too, and
  one classification, :func:`trainers.program.failures.is_out_of_memory`) and the stop rule
  ``out_of_memory``;
* is not retried: the same config would run out again, so the trainable reports the outcome
  instead of raising, and Ray's ``FailureConfig(max_failures)`` (which re-runs errors from
  scratch) never sees it;
* frees the accelerator's cached memory before the worker's next trial (actors are reused);
* is told to TPE as an infeasible trial, so the search moves away from the config's region
  (:meth:`orchestrator.runner.proposers.TPEProposer.tell`; measured in
  ``benchmarks/oom_steering.py``).
"""

from __future__ import annotations

import gc
import sys

from trainers.program.failures import OUT_OF_MEMORY, is_out_of_memory

OOM_RULE = "out_of_memory"


def oom_reason(exc: BaseException) -> str | None:
    """``out of memory: <Type>: <message>`` when ``exc`` is an out-of-memory error, else None."""
    text = f"{type(exc).__name__}: {exc}"
    return f"{OUT_OF_MEMORY} {text}" if is_out_of_memory(text) else None


def is_oom(reason: str | None) -> bool:
    """Whether a recorded reason says the trial ran out of memory."""
    return bool(reason) and str(reason).startswith(OUT_OF_MEMORY)


def release_cached_memory() -> None:
    """Give back what a failed trial left behind before the worker's next trial: collect the
    garbage (the trial's tensors, once its traceback is gone), then empty PyTorch's CUDA cache
    when CUDA is available. A worker that never imported torch has nothing to free."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
