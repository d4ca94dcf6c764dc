"""``rungs serve`` (API + dashboard + embedded worker) and ``rungs worker``."""

from __future__ import annotations

import argparse
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
    serve.add_argument(
        "--programs",
        action="append",
        default=[],
        metavar="DIR",
        help="allow sweeps sent over HTTP to run programs inside DIR (repeatable; default: none)",
    )
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
    # Given by `rungs serve` to its own workers: end with that process (no orphans).
    worker.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    worker.set_defaults(func=_worker)


def _worker(args: argparse.Namespace) -> int:
    import logging

    from orchestrator.worker import exit_with_parent, stop_on_sigterm, work

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop_on_sigterm()
    if args.parent_pid is not None:
        exit_with_parent(args.parent_pid)
    try:
        work(
            args.db,
            poll_seconds=args.poll,
            max_sweeps=1 if args.once else None,
            ray_address=args.ray_address,
        )
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the running sweep is interrupted, resumable
        return 130
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from orchestrator.api import create_app
    from orchestrator.api.settings import Settings, SettingsError
    from orchestrator.cli.embedded_workers import EmbeddedWorkers, worker_command
    from orchestrator.worker import stop_on_sigterm

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"rungs serve: {exc}", file=sys.stderr)
        return 2
    if args.db:
        settings = Settings(**{**settings.__dict__, "database_url": args.db})
    if args.programs:
        settings = Settings(**{**settings.__dict__, "program_dirs": tuple(args.programs)})
    app = create_app(settings)  # creates the tables before any worker starts
    workers = EmbeddedWorkers(worker_command(args.db, args.ray_address), max(0, args.workers))
    # uvicorn shuts down on SIGTERM, then raises it again: as a KeyboardInterrupt, like Ctrl-C,
    # it reaches the `finally` below instead of ending the process with the workers orphaned.
    stop_on_sigterm()
    workers.start()
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    except KeyboardInterrupt:
        pass
    finally:
        workers.stop()
    return 0
