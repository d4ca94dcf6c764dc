"""The plain-ASGI middleware: a chunked body is refused while it streams; HEAD runs as GET."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from orchestrator.api.middleware import BodyLimit

CHUNK = b"x" * 10_000
LIMIT = 25_000


async def _echo_length(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


def _run(chunks: int) -> tuple[int, int]:
    """POST ``chunks`` chunks without a content-length; (status, chunks the app pulled)."""
    app = BodyLimit(Starlette(routes=[Route("/", _echo_length, methods=["POST"])]), LIMIT)
    pulled, sent = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": CHUNK, "more_body": pulled < chunks}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], pulled


def test_a_chunked_body_is_cut_off_at_the_chunk_over_the_limit() -> None:
    status, pulled = _run(chunks=10_000)  # 100 MB if it were all read
    assert status == 413
    assert pulled == LIMIT // len(CHUNK) + 1  # the third chunk crosses 25,000 bytes


def test_a_chunked_body_under_the_limit_is_read_whole() -> None:
    assert _run(chunks=2) == (200, 2)
