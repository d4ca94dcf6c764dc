"""API settings, read from the environment (twelve-factor, as the FastAPI template does)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    api_token: str | None = None
    reads_require_token: bool = False
    max_body_bytes: int = 1_000_000
    curve_max_points: int = 500
    # how old a polled summary (sweep totals, a stage's curves) may be: see orchestrator.api.cache
    cache_seconds: float = 2.0
    # synchronous endpoints running at once: see orchestrator.api.app._limit_threads
    request_threads: int = 2

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("RUNGS_DATABASE_URL") or None,
            api_token=_token_from_env(),
            reads_require_token=_truthy(os.environ.get("RUNGS_READS_REQUIRE_TOKEN", "")),
            max_body_bytes=int(os.environ.get("RUNGS_MAX_BODY_BYTES", "1000000")),
            cache_seconds=float(os.environ.get("RUNGS_API_CACHE_SECONDS", "2")),
            request_threads=int(os.environ.get("RUNGS_API_THREADS", "2")),
        )


def _truthy(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "on"}


def _token_from_env() -> str | None:
    """``RUNGS_API_TOKEN`` wins; else the first line of ``RUNGS_API_TOKEN_FILE``."""
    token = os.environ.get("RUNGS_API_TOKEN")
    if token:
        return token.strip()
    path = os.environ.get("RUNGS_API_TOKEN_FILE")
    if path:
        return Path(path).read_text().strip().splitlines()[0]
    return None
