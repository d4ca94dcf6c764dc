"""``rungs run``, ``rungs resume`` and ``rungs status``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    run = sub.add_parser(
        "run",
        help="validate a sweep YAML, store it and run the whole pipeline",
        description=(
            "Validate FILE, store the sweep in the database and run its stages on Ray Tune "
            "(embedded Ray unless --ray-address), then selection and validation. Prints the "
            "final ranking and where the CSVs are. Example: rungs run search_spaces/quickstart.yaml"
        ),
    )
    run.add_argument("file", help="sweep YAML")
    _common(run)
    run.add_argument("--name", help="sweep name (default: the YAML's name)")
    run.set_defaults(func=_run)

    resume = sub.add_parser(
        "resume",
        help="continue an interrupted sweep",
        description=(
            "Continue SWEEP_ID: completed stages are kept, the interrupted stage continues with "
            "its stored trials, interrupted trials are re-run under the same keys."
        ),
    )
    resume.add_argument("sweep_id", type=int)
    _common(resume)
    resume.set_defaults(func=_resume)

    status = sub.add_parser("status", help="show a sweep's stages and trial counts")
    status.add_argument("sweep_id", type=int)
    status.add_argument("--db", help="SQLAlchemy URL (default: RUNGS_DATABASE_URL or SQLite)")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=_status)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="SQLAlchemy URL (default: RUNGS_DATABASE_URL or SQLite)")
    parser.add_argument("--ray-address", help="join this Ray cluster (default: embedded Ray)")
    parser.add_argument(
        "--workdir", help="folder for sweep outputs (default: RUNGS_WORKDIR or data dir)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="run in-process on a simulated clock instead of Ray (the learning-curve models "
        "only: synthetic, sim-seed004, mf-hartmann6)",
    )


def _run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from orchestrator.storage import open_storage
    from orchestrator.sweepfile import SpecErrors, load_spec, spec_to_dict
    from orchestrator.sweepfile.names import name_problem

    if args.name is not None and (problem := name_problem(args.name)):
        print(f"rungs run: --name: {problem}", file=sys.stderr)
        return 2
    try:
        parsed = load_spec(args.file)
    except SpecErrors as exc:
        for error in exc.errors:
            print(str(error), file=sys.stderr)
        return 2
    for warning in parsed.warnings:
        print(str(warning), file=sys.stderr)
    spec = replace(parsed.spec, name=args.name) if args.name else parsed.spec
    storage = open_storage(args.db)
    sweep_id = storage.create_sweep(
        spec.name, spec_to_dict(spec), parsed.yaml_text, source_path=str(args.file), state="running"
    )
    print(
        f"sweep {sweep_id} ({spec.name}) stored; resume with: rungs resume {sweep_id}",
        file=sys.stderr,
        flush=True,
    )
    return _execute(args, storage, sweep_id, resume=False)


def _resume(args: argparse.Namespace) -> int:
    from orchestrator.storage import open_storage

    storage = open_storage(args.db)
    try:
        state = storage.get_sweep(args.sweep_id).state
    except KeyError as exc:
        print(exc.args[0] if exc.args else str(exc), file=sys.stderr)
        return 2
    if state == "completed":
        print(f"sweep {args.sweep_id} is already completed; nothing to resume", file=sys.stderr)
        print(final_text(storage, args.sweep_id))
        return 0
    return _execute(args, storage, args.sweep_id, resume=True)


def _execute(args: argparse.Namespace, storage: Any, sweep_id: int, *, resume: bool) -> int:
    from orchestrator.runner.heartbeat import LeaseHeld
    from orchestrator.runner.pipeline import resume_sweep, run_sweep
    from orchestrator.worker import stop_on_sigterm

    stop_on_sigterm()  # kill/systemd/docker stop: end the sweep interrupted, as Ctrl-C does
    runner = resume_sweep if resume else run_sweep
    try:
        runner(
            storage,
            sweep_id,
            ray_address=args.ray_address,
            progress=not args.quiet,
            workdir=args.workdir,
            executor=_simulated() if args.simulate else None,
        )
    except KeyboardInterrupt:
        print(f"interrupted; continue with: rungs resume {sweep_id}", file=sys.stderr)
        return 130
    except LeaseHeld as exc:  # another live process runs the sweep; nothing was changed
        print(f"rungs resume: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # stored on the sweep by run_sweep; say it plainly here too
        print(f"sweep {sweep_id} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"after fixing the cause, continue with: rungs resume {sweep_id}", file=sys.stderr)
        return 1
    print(final_text(storage, sweep_id))
    return 0 if storage.get_sweep(sweep_id).state == "completed" else 1


def _simulated() -> Any:
    from orchestrator.runner.simulated import SimulatedExecutor

    return SimulatedExecutor()


def final_text(storage: Any, sweep_id: int) -> str:
    """The ranking (or the last stage's best) and the files to open next."""
    from orchestrator.picks import pick_sources
    from stages.selection import pick_label

    sweep = storage.get_sweep(sweep_id)
    lines = [f"sweep {sweep_id} ({sweep.name}): {sweep.state}"]
    stages = {s.name: s for s in storage.get_stages(sweep_id)}
    select, validate = stages.get("select"), stages.get("validate")
    if select and select.summary:
        lines.append(f"top-k configs: {select.summary['csv']}")
    if validate and validate.summary and "ranking" in validate.summary:
        ranking = validate.summary["ranking"]
        sources = pick_sources(list(stages.values()))
        for rank, row in enumerate(ranking["configs"], start=1):
            name = pick_label(row["config"], sources.get(row["config"]))
            lines.append(
                f"  {rank}. {name}: mean {row['mean']:.4g} +/- {row['std'] or 0:.3g} (n={row['n']})"
            )
        best = pick_label(ranking["recommended"], sources.get(ranking["recommended"]))
        lines.append(f"recommended: {best}. {ranking['verdict']}")
        lines.append(_config_line(storage, sweep_id, str(ranking["recommended"])))
        lines.append(f"ranking: {validate.summary['files']['csv']}")
    return "\n".join(lines)


def _config_line(storage: Any, sweep_id: int, name: str) -> str:
    """The hyperparameters of a validated config: what the user will copy into training."""
    for trial in storage.get_trials(sweep_id, stage="validate"):
        if trial.name == name:
            shown = {
                k: v for k, v in trial.config.items() if k != "seed" and not k.startswith("__")
            }
            return f"  {name}: " + ", ".join(f"{k}={_short(v)}" for k, v in sorted(shown.items()))
    return f"  {name}: (config not found)"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def status_dict(storage: Any, sweep_id: int) -> dict[str, Any]:
    sweep = storage.get_sweep(sweep_id)
    stages = []
    for stage in storage.get_stages(sweep_id):
        counts: dict[str, int] = {}
        for trial in storage.get_trials(sweep_id, stage=stage.name):
            counts[trial.status] = counts.get(trial.status, 0) + 1
        stages.append(
            {"name": stage.name, "kind": stage.kind, "state": stage.state, "trials": counts}
        )
    return {
        "id": sweep.id,
        "name": sweep.name,
        "state": sweep.state,
        "error": sweep.error,
        "stages": stages,
    }


def _status(args: argparse.Namespace) -> int:
    from orchestrator.storage import open_storage

    storage = open_storage(args.db)
    try:
        data = status_dict(storage, args.sweep_id)
    except KeyError as exc:
        print(exc.args[0] if exc.args else str(exc), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0
    print(
        f"sweep {data['id']} ({data['name']}): {data['state']}"
        + (f" - {data['error']}" if data["error"] else "")
    )
    for s in data["stages"]:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(s["trials"].items())) or "no trials"
        print(f"  {s['name']:<12} {s['kind']:<9} {s['state']:<10} {counts}")
    return 0
