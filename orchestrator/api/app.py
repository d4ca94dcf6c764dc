"""The FastAPI application: one router per resource, JSON errors, the dashboard at /."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dashboards import STATIC_DIR
from orchestrator.api.cache import TTLCache
from orchestrator.api.middleware import BodyLimit, HeadAsGet
from orchestrator.api.routers import logs, meta, reports, sweeps, trials
from orchestrator.api.settings import Settings
from orchestrator.storage import open_storage
from orchestrator.storage.base import BaseStorage
from orchestrator.storage.retrying import DatabaseOutage, is_disconnect

log = logging.getLogger("rungs.api")


def create_app(settings: Settings | None = None, storage: BaseStorage | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(
        lifespan=_limit_threads(settings.request_threads),
        title="Rungs",
        version="1",
        description="Submit sweep YAMLs, follow their stages and trials, download the top-k.",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.storage = storage or open_storage(settings.database_url)
    app.state.cache = TTLCache(settings.cache_seconds)
    for router in (sweeps.router, trials.router, logs.router, reports.router, meta.router):
        app.include_router(router, prefix="/api")
    _install_error_handlers(app)
    _install_middleware(app, settings.max_body_bytes)
    _mount_dashboard(app)
    return app


def _limit_threads(threads: int):  # type: ignore[no-untyped-def]
    """Run at most ``threads`` synchronous endpoints at once (anyio's default is 40).

    Every endpoint is a few milliseconds of Python holding the GIL; forty threads fighting over
    it under a burst of dashboard polls spent more CPU switching than serving (the server sat at
    100% while requests queued for seconds). A few threads, one per pooled database connection,
    let the rest wait cheaply in the event loop, first come first served."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    return lifespan


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = exc.detail if isinstance(exc.detail, dict) else {"message": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        return JSONResponse({"message": f"invalid request: {fields}"}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Log the stack trace for the operator; the client only gets a message.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"message": f"internal error: {type(exc).__name__}"}, status_code=500)

    @app.exception_handler(DBAPIError)
    @app.exception_handler(DatabaseOutage)
    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        # The database restarting is the client's "try again shortly" (503), not a server bug.
        if not is_disconnect(exc):
            return await unexpected(request, exc)
        log.warning("database unreachable on %s %s: %s", request.method, request.url.path, exc)
        body = {"message": "the database is unreachable; try again shortly"}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


def _install_middleware(app: FastAPI, body_limit: int) -> None:
    # added last = outermost: a HEAD becomes a GET before the body limit and the routes see it
    app.add_middleware(BodyLimit, limit=body_limit)
    app.add_middleware(HeadAsGet)


def _plotly_bundle() -> Path | None:
    """plotly.js as the ``plotly`` wheel ships it: the dashboard loads no CDN."""
    try:
        import plotly
    except ImportError:
        return None
    bundle = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return bundle if bundle.is_file() else None


def _mount_dashboard(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/dashboard/index.html")

    bundle = _plotly_bundle()
    if bundle is not None:
        # registered before the static mount, which would otherwise answer 404 for it
        @app.get("/dashboard/vendor/plotly.min.js", include_in_schema=False)
        async def plotly_js() -> FileResponse:
            return FileResponse(bundle, media_type="text/javascript")

    if STATIC_DIR.is_dir():
        app.mount("/dashboard", StaticFiles(directory=STATIC_DIR), name="dashboard")
