"""``rungs top``, ``rungs select`` and ``rungs report``: what a sweep found, and what to validate.

Errors a user can fix (unknown sweep, missing column, no eligible trial) print one line naming
the problem on stderr and exit with status 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

_DB_HELP = "SQLAlchemy URL of the database (default: RUNGS_DATABASE_URL, else the SQLite file)"


def register(subparsers: Any) -> None:
    """Add ``top``, ``select`` and ``report`` to the ``rungs`` subcommands."""
    _register_top(subparsers)
    _register_select(subparsers)
    _register_report(subparsers)


def _register_top(subparsers: Any) -> None:
    top = subparsers.add_parser(
        "top",
        help="the top-k of a stored sweep (the configs validation runs)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Show the top-k configs of a sweep: once its selection stage has run, the picks it "
            "stored (the configs validation runs, named config1..configK, with the trial each "
            "came from). Before that, a preview computed with the selection settings of its "
            "YAML; with another --k, a re-computation that is not the validated set. The first "
            "line on stderr says which.\n\n"
            "examples:\n"
            "  rungs top 3\n"
            "  rungs top 3 --k 3 --csv top5_configs_for_validation.csv"
        ),
    )
    top.add_argument("sweep_id", type=int, metavar="SWEEP_ID", help="the sweep's id")
    top.add_argument(
        "--k", type=int, help="how many configs (default: the YAML's selection.k: the stored picks)"
    )
    top.add_argument("--csv", metavar="FILE", help="also write the table as CSV to FILE")
    top.add_argument("--db", metavar="URL", help=_DB_HELP)
    top.set_defaults(func=cmd_top)


def _register_select(subparsers: Any) -> None:
    select = subparsers.add_parser(
        "select",
        help="diversity-aware top-k from a W&B runs-table CSV export",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Select configs from a sweep that ran on W&B: export the runs table as CSV (Name, "
            "State, Sweep, config and summary columns, plain or prefixed config./summary.). "
            "Runs without the metric (crashed, failed) are left out and counted. Without "
            "--space the bounds are inferred from the runs (log scale over > 2 decades).\n\n"
            "examples:\n"
            "  rungs select runs.csv --metric val_si_sdr --goal maximize --k 5\n"
            "  rungs select runs.csv --metric val_loss --goal minimize --space sweep.yaml \\\n"
            "      --diversity 0.5 --csv top5_configs_for_validation.csv"
        ),
    )
    select.add_argument("runs", metavar="RUNS.csv", help="W&B runs-table CSV export")
    select.add_argument("--metric", required=True, help="the metric column, e.g. val_si_sdr")
    select.add_argument("--goal", choices=("maximize", "minimize"), default="maximize")
    select.add_argument("--k", type=int, default=5, help="how many configs (default 5)")
    select.add_argument("--space", metavar="SWEEP.yaml", help="sweep YAML with the search bounds")
    select.add_argument(
        "--params", help="comma-separated hyperparameter columns (default: --space or all)"
    )
    select.add_argument("--diversity", type=float, default=1.0, help="0 = plain top-k (default 1)")
    select.add_argument(
        "--include-stopped", action="store_true", help="also pick runs that did not finish"
    )
    select.add_argument("--no-balance", action="store_true", help="do not balance W&B sweeps")
    select.add_argument("--csv", metavar="OUT", help="write the picks as CSV to OUT")
    select.set_defaults(func=cmd_select)


def _register_report(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report",
        help="stage table, top-k, validation statistics and findings of a sweep",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Summarise a stored sweep: per-stage counts and best values, the top-k, the "
            "multi-seed validation ranking with confidence intervals and caveats, "
            "hyperparameter correlations and importances, and findings in sentences.\n\n"
            "examples:\n"
            "  rungs report 3 > report.md\n"
            "  rungs report 3 --format json | jq .validation.recommended"
        ),
    )
    report.add_argument("sweep_id", type=int, metavar="SWEEP_ID", help="the sweep's id")
    report.add_argument("--format", choices=("md", "json"), default="md", help="default md")
    report.add_argument("--db", metavar="URL", help=_DB_HELP)
    report.set_defaults(func=cmd_report)


def _fail(command: str, message: object) -> int:
    print(f"rungs {command}: {message}", file=sys.stderr)
    return 1


def cmd_top(args: argparse.Namespace) -> int:
    from orchestrator.picks import top_k
    from orchestrator.storage import open_storage
    from stages.export import frame_to_markdown, write_csv

    if args.k is not None and args.k < 1:
        return _fail("top", f"--k must be at least 1, but got {args.k}")
    try:
        top = top_k(open_storage(args.db), args.sweep_id, args.k)
    except KeyError as exc:
        return _fail("top", exc.args[0] if exc.args else exc)
    if top.note is not None:
        return _fail("top", top.note)
    print(top.label, file=sys.stderr)
    print(frame_to_markdown(top.frame), end="")
    if args.csv:
        print(f"wrote {write_csv(top.frame, args.csv)}", file=sys.stderr)
    return 0


def _space_from_yaml(path: str) -> Any:
    from orchestrator.sweepfile import SpecErrors, load_spec

    try:
        return load_spec(path).spec.parameters
    except SpecErrors as exc:
        raise ValueError(f"{path} is not a valid sweep file:\n{exc}") from None


def _select(args: argparse.Namespace) -> tuple[Any, int, str]:
    from stages.export import infer_space, load_wandb_export, picks_to_frame
    from stages.selection import select_top_k
    from stages.space import is_searchable

    space = _space_from_yaml(args.space) if args.space else None
    searchable = [n for n, p in (space or {}).items() if is_searchable(p)] or None
    params = args.params.split(",") if args.params else searchable
    export = load_wandb_export(args.runs, args.metric, parameters=params)
    space = space or infer_space(export.trials)
    picks = select_top_k(
        export.trials,
        space,
        k=args.k,
        goal=args.goal,
        diversity=args.diversity,
        balance_variants=not args.no_balance,
        require_full_budget=not args.include_stopped,
    )
    return picks_to_frame(picks, space, metric=args.metric), len(export.skipped), args.metric


def cmd_select(args: argparse.Namespace) -> int:
    from stages.export import frame_to_markdown, write_csv

    try:
        frame, skipped, metric = _select(args)
    except (OSError, ValueError) as exc:
        return _fail("select", exc)
    if skipped:
        print(f"left out {skipped} runs without {metric} (crashed or failed)", file=sys.stderr)
    print(frame_to_markdown(frame), end="")
    if args.csv:
        print(f"wrote {write_csv(frame, args.csv)}", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import json

    from orchestrator.reporting import build_report
    from orchestrator.storage import open_storage

    try:
        report = build_report(open_storage(args.db), args.sweep_id)
    except KeyError as exc:
        return _fail("report", exc.args[0] if exc.args else exc)
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2, allow_nan=False))
    else:
        print(report.to_markdown(), end="")
    return 0
