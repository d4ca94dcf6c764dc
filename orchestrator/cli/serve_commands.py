"""``rungs serve`` (API + dashboard + embedded worker) and ``rungs worker``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = sub.add_parser(
        "serve",
        help="serve the API and the web dashboard (with an embedded worker)",
        description=(
            "Start the HTTP API (/api, OpenAPI docs at /api/docs) and the dashboard (/). "
            "By default one worker process runs queued sweeps beside it; --workers 0 serves "
            "only (run `rungs worker` elsewhere). Set RUNGS_API_TOKEN to require a bearer token "
            "for every request that changes state. Example: rungs serve --port 8000"
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--db", help="SQLAlchemy URL (default: RUNGS_DATABASE_URL or SQLite)")
    serve.add_argument("--workers", type=int, default=1, help="embedded workers (default 1)")
    serve.add_argument("--ray-address", help="Ray cluster for the workers (default: local Ray)")
    serve.set_defaults(func=_serve)

    worker = sub.add_parser(
        "worker",
        help="run queued sweeps from the database",
        description=(
            "Claim queued sweeps (atomically: two workers never run the same sweep) and run "
            "them. Example: RUNGS_DATABASE_URL=postgresql://... rungs worker --ray-address auto"
        ),
    )
    worker.add_argument("--db", help="SQLAlchemy URL (default: RUNGS_DATABASE_URL or SQLite)")
    worker.add_argument("--ray-address", help="Ray cluster address (default: local Ray)")
    worker.add_argument("--poll", type=float, default=2.0, help="seconds between polls")
    worker.add_argument("--once", action="store_true", help="run one sweep, then exit")
    worker.set_defaults(func=_worker)


def _worker(args: argparse.Namespace) -> int:
    import logging

    from orchestrator.worker import work

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    work(
        args.db,
        poll_seconds=args.poll,
        max_sweeps=1 if args.once else None,
        ray_address=args.ray_address,
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from orchestrator.api import create_app
    from orchestrator.api.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"rungs serve: {exc}", file=sys.stderr)
        return 2
    if args.db:
        settings = Settings(**{**settings.__dict__, "database_url": args.db})
    app = create_app(settings)  # creates the tables before any worker starts
    workers = [_spawn_worker(args) for _ in range(max(0, args.workers))]
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.wait(timeout=30)
    return 0


def _spawn_worker(args: argparse.Namespace) -> subprocess.Popen[bytes]:
    # A separate process, not a thread: Ray and torch own their process, and the API must
    # never block on a sweep.
    cmd = [sys.executable, "-m", "orchestrator", "worker"]
    if args.db:
        cmd += ["--db", args.db]
    if args.ray_address:
        cmd += ["--ray-address", args.ray_address]
    return subprocess.Popen(cmd, env=os.environ.copy())
