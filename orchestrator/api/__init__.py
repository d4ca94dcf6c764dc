"""The HTTP API (FastAPI), versioned under /api, which also serves the dashboard at /."""

from orchestrator.api.app import create_app

__all__ = ["create_app"]
