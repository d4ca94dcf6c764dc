"""Shared test settings: keep torch and Ray small on a 2-core machine."""

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

# The repository root on sys.path makes helpers under tests/ importable as ``tests.…``, also in
# child processes started with multiprocessing's "spawn" (they inherit sys.path).
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

# PostgreSQL fixtures: ``postgres_url`` is a fresh schema per test on the session's server.
from tests.postgres import postgres_server_url, postgres_url  # noqa: E402, F401
