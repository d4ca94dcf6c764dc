"""``rungs validate`` and ``rungs init``: check a sweep file, write the starting template.

Neither imports torch or ray: both only read YAML and the model registry (``validate`` of a
program sweep also asks Optuna for the first trial's config, to print its command line).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from orchestrator.sweepfile.template import built_in_models

_VALIDATE_EPILOG = """\
examples:
  rungs validate search_spaces/quickstart.yaml
  rungs validate sweeps/*.yaml --json > plans.json

Errors and warnings are printed as FILE:LINE:COL: FIELD: MESSAGE on stderr, every error of a
file at once. The exit status is 1 when any file has errors, else 0.
"""

_INIT_EPILOG = """\
examples:
  rungs init --model dprnn > sweep.yaml
  rungs init --model sepformer --out sweeps/sepformer.yaml
"""


def register(subparsers: Any) -> None:
    """Add ``validate`` and ``init`` to the ``rungs`` command line."""
    fmt = argparse.RawDescriptionHelpFormatter
    validate = subparsers.add_parser(
        "validate",
        help="check sweep YAML files and print their resolved plans",
        description="Check sweep YAML files (W&B sweep format plus Rungs' stages) and print the "
        "resolved plan: stages, subsets, trials, epochs, hyperband rungs, space, selection, "
        "validation and the total budget.",
        epilog=_VALIDATE_EPILOG,
        formatter_class=fmt,
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="sweep YAML files")
    validate.add_argument("--json", action="store_true", help="print the plans as one JSON object")
    validate.set_defaults(func=cmd_validate)

    init = subparsers.add_parser(
        "init",
        help="write a commented progressive-sweep template for a model",
        description="Write the commented progressive data-scaling template (2K -> 4K -> 8K x "
        "{hyperband, median} -> top-5 -> 16K x 3 seeds) for a model, to stdout or a file.",
        epilog=_INIT_EPILOG,
        formatter_class=fmt,
    )
    init.add_argument("--model", required=True, choices=built_in_models(), help="model to sweep")
    init.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    init.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    init.set_defaults(func=cmd_init)


def _validate_one(path: str) -> dict[str, Any]:
    from orchestrator.sweepfile import SpecErrors, load_spec, plan_dict, render_plan

    try:
        parsed = load_spec(path)
    except SpecErrors as exc:
        for line in [*exc.warnings, *exc.errors]:
            print(line, file=sys.stderr)
        errors = [e.to_dict() for e in exc.errors]
        return {
            "file": path,
            "ok": False,
            "errors": errors,
            "warnings": [w.to_dict() for w in exc.warnings],
        }
    for warning in parsed.warnings:
        print(warning, file=sys.stderr)
    plan, text = plan_dict(parsed.spec), render_plan(parsed)
    if parsed.spec.program is not None:  # optuna only for a program's first proposal
        from orchestrator.runner.programs import first_command, plan_lines

        plan["program"]["first_command"] = first_command(parsed.spec)
        text += "\n" + "\n".join(plan_lines(parsed.spec))
    return {
        "file": path,
        "ok": True,
        "errors": [],
        "warnings": [w.to_dict() for w in parsed.warnings],
        "plan": plan,
        "text": text,
    }


def cmd_validate(args: argparse.Namespace) -> int:
    results = [_validate_one(path) for path in args.files]
    if args.json:
        for result in results:
            result.pop("text", None)
        print(json.dumps({"files": results}, indent=2))
    else:
        texts = [r["text"] for r in results if r["ok"]]
        if texts:
            print("\n\n".join(texts))
    bad = [r["file"] for r in results if not r["ok"]]
    if bad:
        print(f"rungs validate: errors in {len(bad)} of {len(results)} file(s)", file=sys.stderr)
    return 1 if bad else 0


def cmd_init(args: argparse.Namespace) -> int:
    from orchestrator.sweepfile import default_template

    text = default_template(args.model)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    out = Path(args.out)
    if out.exists() and not args.force:
        print(f"rungs init: {out} exists; pass --force to overwrite it", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}; check it with `rungs validate {out}`", file=sys.stderr)
    return 0
