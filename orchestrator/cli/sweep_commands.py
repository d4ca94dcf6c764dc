"""``rungs list`` and ``rungs cancel``: the sweeps in the database, and stopping one.

``list`` shows what the dashboard's list shows (the same summary:
:func:`orchestrator.api.overview.sweep_public`); ``cancel`` makes the API's cancel move
(:func:`orchestrator.control.cancel_sweep`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

_DB_HELP = "SQLAlchemy URL (default: RUNGS_DATABASE_URL or SQLite)"
_COLUMNS = ("id", "name", "state", "created", "progress", "best")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    listing = sub.add_parser(
        "list",
        help="list the sweeps: id, name, state, created, progress, best value",
        description="List every stored sweep, oldest first. Example: rungs list --json",
    )
    listing.add_argument("--db", help=_DB_HELP)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_list)

    cancel = sub.add_parser(
        "cancel",
        help="cancel a queued or running sweep",
        description=(
            "Cancel SWEEP_ID, as the API's cancel does: a queued sweep never starts, a running "
            "one stops at its runner's next check; `rungs resume` continues it later. "
            "Example: rungs cancel 3"
        ),
    )
    cancel.add_argument("sweep_id", type=int, metavar="SWEEP_ID")
    cancel.add_argument("--db", help=_DB_HELP)
    cancel.set_defaults(func=_cancel)


def sweep_rows(storage: Any) -> list[dict[str, Any]]:
    """One row per sweep with the list's columns (progress: final trials / planned trials)."""
    from orchestrator.api.overview import sweep_public

    rows = []
    for sweep in storage.list_sweeps():
        summary = sweep_public(storage, sweep)
        rows.append(
            {
                "id": summary.id,
                "name": summary.name,
                "state": summary.state,
                "created": summary.created_at.strftime("%Y-%m-%d %H:%M"),
                "progress": f"{summary.trials_done}/{summary.trials_planned}",
                "best": summary.best_value,
                "metric": summary.metric,
            }
        )
    return rows


def _cell(row: dict[str, Any], column: str) -> str:
    value = row[column]
    if column == "best":
        return "-" if value is None else f"{row['metric']} {value:.4g}"
    return str(value)


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as aligned text columns under a header."""
    cells = [list(_COLUMNS)] + [[_cell(r, c) for c in _COLUMNS] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(_COLUMNS))]
    lines = ("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in cells)
    return "\n".join(line.rstrip() for line in lines)


def _list(args: argparse.Namespace) -> int:
    from orchestrator.storage import open_storage

    rows = sweep_rows(open_storage(args.db))
    if args.json:
        print(json.dumps(rows, indent=2))
    elif rows:
        print(format_table(rows))
    else:
        print("no sweeps yet: start one with `rungs run SWEEP.yaml`", file=sys.stderr)
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from orchestrator.control import MoveRefused, cancel_sweep
    from orchestrator.storage import open_storage

    try:
        sweep = cancel_sweep(open_storage(args.db), args.sweep_id)
    except (KeyError, MoveRefused) as exc:
        print(f"rungs cancel: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1
    print(f"sweep {sweep.id} ({sweep.name}): {sweep.state}; continue with: rungs resume {sweep.id}")
    return 0
