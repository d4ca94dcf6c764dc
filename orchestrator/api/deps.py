"""Dependencies as ``Annotated`` aliases (``StorageDep``, ``WriteAuth``), FastAPI-template style.

They are ``async def`` although they never await: FastAPI runs a plain ``def`` dependency in
its thread pool, and four hops per request through that pool (limited to a few threads, see
``app._limit_threads``) cost more than the endpoints' own work under dashboard load."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from orchestrator.api.cache import TTLCache
from orchestrator.api.settings import Settings
from orchestrator.storage.base import BaseStorage


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_storage(request: Request) -> BaseStorage:
    storage: BaseStorage = request.app.state.storage
    return storage


def _check_token(request: Request, settings: Settings) -> None:
    if settings.api_token is None:
        return  # no token configured: a local single-user server
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    # compare_digest: a plain == leaks how many leading characters matched through timing. On
    # bytes: it refuses str with non-ASCII characters, which any client can send (Starlette
    # decodes header bytes as latin-1; encoding back gives the bytes that were sent).
    sent = given.strip().encode("latin-1")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent, settings.api_token.encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="a valid bearer token is required (Authorization: Bearer <RUNGS_API_TOKEN>)",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def require_write(
    request: Request, settings: Annotated[Settings, Depends(get_settings)]
) -> None:
    _check_token(request, settings)


async def require_read(
    request: Request, settings: Annotated[Settings, Depends(get_settings)]
) -> None:
    if settings.reads_require_token:
        _check_token(request, settings)


async def get_cache(request: Request) -> TTLCache:
    cache: TTLCache = request.app.state.cache
    return cache


StorageDep = Annotated[BaseStorage, Depends(get_storage)]
CacheDep = Annotated[TTLCache, Depends(get_cache)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
WriteAuth = Depends(require_write)
ReadAuth = Depends(require_read)
