"""Plain-ASGI middleware: the request body limit, and HEAD answered as GET.

Plain ASGI rather than ``@app.middleware``: Starlette's BaseHTTPMiddleware adds a task and a
stream per request, measurable when fifty dashboards poll.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """413 for a request body over ``limit`` bytes.

    A declared ``content-length`` over the limit is refused before the app runs. A body without
    one (``Transfer-Encoding: chunked``) is counted as it arrives: the chunk that crosses the
    limit raises a 413 to whoever is reading, so no reader ever holds more than the limit (plus
    one chunk) in memory."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            message = f"request body too large: {declared} bytes, limit {self.limit}"
            await JSONResponse({"message": message}, status_code=413)(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # the app's HTTP error handler turns this into the JSON 413
                    raise HTTPException(413, f"request body too large: limit {self.limit} bytes")
            return message

        return counted


class HeadAsGet:
    """HEAD on any GET route: the GET's status and headers, no body (RFC 9110 9.3.2).

    FastAPI routes answer only the methods they declare, so HEAD got 405 (with ``allow: POST``
    on ``/api/sweeps``); monitors and caches send HEAD. Here a HEAD runs as a GET and its body
    is dropped; ``content-length`` stays the GET's, as the RFC allows."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
