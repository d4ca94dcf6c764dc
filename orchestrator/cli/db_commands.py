"""``rungs db upgrade``: bring a database's schema to this release's revision.

Every command that opens the database does the same on its own (see
:mod:`orchestrator.storage.migrate`); this one does only that, and says what it did, for an
operator who upgrades Rungs and wants the database migrated before anything starts on it.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = sub.add_parser(
        "db",
        help="manage the database's schema (upgrade)",
        description="Manage the schema of Rungs' database.",
    )
    actions = db.add_subparsers(dest="db_command", metavar="ACTION")
    upgrade = actions.add_parser(
        "upgrade",
        help="create the schema, or migrate an older one to this release's",
        description=(
            "Create the tables of a fresh database, or migrate the schema of a database made "
            "by an earlier Rungs (its rows are kept). A database made by a newer Rungs is left "
            "alone: exit status 1. Example: rungs db upgrade --db postgresql://..."
        ),
    )
    upgrade.add_argument("--db", help="SQLAlchemy URL (default: RUNGS_DATABASE_URL or SQLite)")
    upgrade.set_defaults(func=_upgrade)
    db.set_defaults(func=lambda _args: db.print_help() or 2)


def _upgrade(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from orchestrator.storage.migrate import SchemaTooNew, upgrade_schema
    from orchestrator.storage.settings import (
        create_storage_engine,
        resolve_database_url,
        sqlite_file,
    )

    url = resolve_database_url(args.db)
    shown = make_url(url).render_as_string(hide_password=True)
    if (path := sqlite_file(url)) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_storage_engine(url)
    try:
        done = upgrade_schema(engine)
    except (SchemaTooNew, SQLAlchemyError) as exc:
        print(f"rungs db upgrade: {shown}: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if done.before is None:
        print(f"{shown}: created the schema at revision {done.after}")
    elif done.changed:
        print(f"{shown}: upgraded the schema from revision {done.before} to {done.after}")
    else:
        print(f"{shown}: the schema is already at revision {done.after}, this release's")
    return 0
