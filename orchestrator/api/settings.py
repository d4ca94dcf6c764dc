"""API settings, read from the environment (twelve-factor, as the FastAPI template does)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

TOKEN_ENV, TOKEN_FILE_ENV = "RUNGS_API_TOKEN", "RUNGS_API_TOKEN_FILE"
N = TypeVar("N", int, float)


class SettingsError(ValueError):
    """A setting in the environment that the server must not start with; says which and why."""


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
    # folders whose programs a sweep sent over HTTP may run (`rungs serve --programs DIR`);
    # empty: none, see orchestrator.api.programs
    program_dirs: tuple[str, ...] = ()

    @classmethod
    def from_env(cls) -> Settings:
        """The settings of the environment; :class:`SettingsError` names a bad one."""
        return cls(
            database_url=os.environ.get("RUNGS_DATABASE_URL") or None,
            api_token=_token_from_env(),
            reads_require_token=_truthy(os.environ.get("RUNGS_READS_REQUIRE_TOKEN", "")),
            max_body_bytes=_number(int, "RUNGS_MAX_BODY_BYTES", "1000000"),
            cache_seconds=_number(float, "RUNGS_API_CACHE_SECONDS", "2"),
            request_threads=_number(int, "RUNGS_API_THREADS", "2"),
            program_dirs=tuple(
                filter(None, os.environ.get("RUNGS_PROGRAM_DIRS", "").split(os.pathsep))
            ),
        )


def _truthy(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "on"}


def _number(kind: Callable[[str], N], name: str, default: str) -> N:
    text = os.environ.get(name, default)
    try:
        return kind(text)
    except ValueError:
        raise SettingsError(f"{name} must be a number, but got {text!r}") from None


def _token_from_env() -> str | None:
    """``RUNGS_API_TOKEN`` wins; else the first line of ``RUNGS_API_TOKEN_FILE``; else None.

    A token that is set but blank is refused: stripped, it would be the empty token, which a
    bare ``Authorization: Bearer`` satisfies. An unset or empty variable means "no token"."""
    token = os.environ.get(TOKEN_ENV)
    if token:
        return _checked(token.strip(), f"{TOKEN_ENV} is only whitespace")
    path = os.environ.get(TOKEN_FILE_ENV)
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{TOKEN_FILE_ENV}={path!r} cannot be read: {exc}") from None
        lines = text.strip().splitlines()
        return _checked(lines[0].strip() if lines else "", f"{TOKEN_FILE_ENV}={path!r} is empty")
    return None


def _checked(token: str, problem: str) -> str:
    if not token:
        raise SettingsError(f"{problem}: put the token in it, or unset it to serve without one")
    return token
