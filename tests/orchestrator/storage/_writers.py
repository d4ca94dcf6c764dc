"""Writers run in child processes (multiprocessing "spawn" needs them in an importable module)."""

from __future__ import annotations

from typing import Protocol

from orchestrator.storage import ResultRow, SQLStorage


class Barrier(Protocol):
    def wait(self, timeout: float | None = None) -> int: ...


def append_in_lockstep(url: str, batches: list[list[tuple[int, int]]], barrier: Barrier) -> int:
    """Append each batch of (trial_id, step) in its own call, every call released by ``barrier``
    together with the other writer's; returns the new rows counted."""
    storage = SQLStorage(url, create_tables=False)
    try:
        new = 0
        for batch in batches:
            barrier.wait(timeout=60)  # a dead partner breaks the barrier instead of hanging
            new += storage.append_results(
                ResultRow(trial, step, {"loss": 1.0 / (step + 1)}) for trial, step in batch
            )
        return new
    finally:
        storage.close()
