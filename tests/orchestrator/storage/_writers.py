"""Writers run in child processes (multiprocessing "spawn" needs them in an importable module)."""

from __future__ import annotations

from orchestrator.storage import ResultRow, SQLStorage


def append_in_batches(url: str, batches: list[list[tuple[int, int]]]) -> int:
    """Append each batch of (trial_id, step) in its own call; returns the new rows counted."""
    storage = SQLStorage(url, create_tables=False)
    try:
        return sum(
            storage.append_results(
                ResultRow(trial, step, {"loss": 1.0 / (step + 1)}) for trial, step in batch
            )
            for batch in batches
        )
    finally:
        storage.close()
