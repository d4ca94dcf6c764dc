"""The web dashboard: static files served by the API (no CDN)."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
