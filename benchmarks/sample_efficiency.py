"""Sample efficiency of progressive data scaling vs what users do instead.

    .venv/bin/python benchmarks/sample_efficiency.py --benchmarks sim,hartmann --repetitions 20
    .venv/bin/python benchmarks/sample_efficiency.py --quick          # smoke run, about a minute

Writes ``--out`` (markdown tables), ``<out stem>.csv`` (every run) and ``--plot``, by default
in ``benchmarks/results/``. Strategies, budgets and the simulator are described in
``benchmarks/sample_efficiency/`` and ``docs/simulator.md``; ``--benchmarks real`` trains tiny
DPRNNs (about 1.5 h with --jobs 2).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the repository importable
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

RESULTS = ROOT / "benchmarks" / "results"  # where every benchmark output lands
FRACTIONS = (0.125, 0.25, 0.5, 1.0)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--benchmarks", default="sim,hartmann", help="comma list of sim, hartmann, real")
    p.add_argument("--repetitions", type=int, default=20)
    p.add_argument(
        "--first-repetition",
        type=int,
        default=0,
        help="world of the first repetition (split a run over processes, then --merge)",
    )
    p.add_argument(
        "--strategies",
        default="progressive,flat,asha,optuna,subset-hb",
        help="comma list of progressive, flat, asha, optuna, subset-hb, the external peers "
        "smac, dehb, syne-tune (.venv-bench: benchmarks/setup_bench_env.sh), or the diagnostic "
        "subset-hb-minus-validation ('' with --variant: only the variants)",
    )
    p.add_argument("--pilot", type=int, default=3, help="pilot repetitions that size B_flat")
    p.add_argument("--jobs", type=int, default=2, help="worker processes")
    p.add_argument(
        "--fractions",
        default=",".join(str(f) for f in FRACTIONS),
        help="budgets as fractions of the flat sweep's (comma list)",
    )
    p.add_argument(
        "--quick", action="store_true", help="sim only, 2 repetitions, budgets 12.5%% and 25%%"
    )
    p.add_argument("--out", type=Path, default=RESULTS / "sample_efficiency_tables.md")
    p.add_argument("--plot", type=Path, default=RESULTS / "sample_efficiency.png")
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=YAML",
        help="also run the progressive pipeline from this sweep YAML, as progressive-LABEL",
    )
    p.add_argument(
        "--report",
        type=Path,
        metavar="CSV",
        help="run nothing: write the tables and plot of these rows (an earlier run's CSV)",
    )
    p.add_argument(
        "--merge",
        action="append",
        type=Path,
        default=[],
        metavar="CSV",
        help="add the rows of an earlier run (same pilot, so the same B_flat) to the report",
    )
    args = p.parse_args(argv)
    from benchmarks.sample_efficiency.catalog import valid_names

    valid = valid_names()
    unknown = [s for s in args.strategies.split(",") if s and s not in valid]
    if unknown:
        p.error(f"unknown strategies {', '.join(unknown)}; valid: {', '.join(valid)}")
    from benchmarks.sample_efficiency.catalog import PEERS, PeerMissing, peer

    for name in [s for s in args.strategies.split(",") if s in PEERS]:
        try:  # a peer asked for but not installed is an error, never a silent skip
            peer(name)
        except PeerMissing as exc:
            p.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> int:
    import pandas as pd

    from benchmarks.sample_efficiency import experiment

    args = parse(argv)
    if args.report is not None:
        return write_report(pd.read_csv(args.report), args)
    fractions = (0.125, 0.25) if args.quick else tuple(float(f) for f in args.fractions.split(","))
    reps = 2 if args.quick else args.repetitions
    pilot_reps = 1 if args.quick else args.pilot
    benches = ["sim"] if args.quick else args.benchmarks.split(",")
    variants = dict(v.split("=", 1) for v in args.variant)
    started = time.monotonic()
    if "real" in benches:
        from benchmarks.sample_efficiency.real_training import prepare_corpus

        prepare_corpus()
    runs = []
    for name in benches:
        plan = experiment.pilot(name, pilot_reps)
        print(f"{name}: B_flat = {plan.flat_budget:.4g} sample-epochs", flush=True)
        runs += [(s, plan, None) for s in args.strategies.split(",") if s]
        for label, path in variants.items():
            text = Path(path).read_text()
            cost = experiment.search_cost(name, pilot_reps, text)
            runs.append((f"progressive-{label}", replace(plan, progressive_search_cost=cost), text))
    # repetition-major over every benchmark: a run stopped early has whole repetitions
    tasks = [
        experiment.Task(p, s, f, r, text)
        for r in range(args.first_repetition, args.first_repetition + reps)
        for s, p, text in runs
        for f in fractions
    ]
    partial = args.out.with_suffix(".partial.csv")
    partial.unlink(missing_ok=True)
    rows = pd.DataFrame(experiment.run_all(tasks, args.jobs, partial))
    for path in args.merge:
        rows = pd.concat([pd.read_csv(path), rows], ignore_index=True)
        rows = rows.drop_duplicates(["benchmark", "strategy", "fraction", "rep"], keep="last")
    status = write_report(rows, args)
    print(f"{len(rows)} runs in {time.monotonic() - started:.0f} s -> {args.out}, {args.plot}")
    return status


def write_report(rows: pd.DataFrame, args: argparse.Namespace) -> int:
    """The tables (``--out``), every row (``<out stem>.csv``) and the plot; 1 when a peer's
    rows show it did not really run."""
    from benchmarks.sample_efficiency import report

    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(args.out.with_suffix(".csv"), index=False)
    sections = (
        ("True quality of the recommended config (median [IQR])", report.quality_table),
        ("Budget to reach the flat sweep's final quality", report.reach_table),
        ("Paired with the flat sweep: same world, same budget", report.paired_table),
        ("The default against every strategy: same world, same budget", report.versus_table),
        (
            "Beyond noise? The default's paired differences with their 95% intervals",
            report.separation_table,
        ),
        (
            "The search alone: compute to reach the flat sweep's final, validation free",
            report.search_only_table,
        ),
        ("Validation: fixed and raced", report.validation_table),
    )
    text = "\n".join(
        f"## {title}\n\n{report.to_markdown(table(rows))}" for title, table in sections
    )
    args.out.write_text(text)
    report.plot(rows, args.plot)
    print(text)
    problems = report.peer_problems(rows)
    for problem in problems:
        print(f"peer check failed: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
