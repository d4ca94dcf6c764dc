"""``rungs models`` (what can be trained, with presets and sizes) and ``rungs data demo``."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    models = sub.add_parser(
        "models",
        help="list the trainable models with their task, metric, presets and parameter counts",
        description=(
            "List every model in the registry: task, metric and goal, and each preset with its "
            "parameter count. A model whose module fails to import is listed with the error. "
            "Example: rungs models --json"
        ),
    )
    models.add_argument("--json", action="store_true", help="print JSON instead of a table")
    models.set_defaults(func=_models)

    data = sub.add_parser("data", help="prepare data sets", description="Prepare data sets.")
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)
    demo = data_sub.add_parser(
        "demo",
        help="synthesise the built-in two-speaker demo corpus",
        description=(
            "Synthesise the offline demo corpus (espeak-ng voices mixed in pairs) and write its "
            "manifest CSV. Example: rungs data demo --out data/demo --size 2000"
        ),
    )
    demo.add_argument("--out", required=True, help="output directory")
    demo.add_argument("--size", type=int, required=True, help="number of mixtures")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.set_defaults(func=_data_demo)


def describe_models() -> list[dict[str, Any]]:
    """One dict per registry entry: name, module, task, metric, goal, description, presets
    (name -> parameter count, or an error string) and ``error`` (the import error, or None)."""
    from trainers.registry import MODELS

    return [_describe(entry) for entry in MODELS.values()]


def _describe(entry: Any) -> dict[str, Any]:
    import importlib

    info: dict[str, Any] = {
        "name": entry.name,
        "module": entry.module,
        "task": entry.task,
        "metric": entry.metric,
        "goal": entry.goal,
        "description": entry.description,
        "presets": {},
        "error": None,
    }
    try:
        module = importlib.import_module(entry.module)
    except Exception as exc:  # a model still being written must not hide the others
        info["error"] = f"cannot import {entry.module}: {type(exc).__name__}: {exc}"
        return info
    for name, config in getattr(module, "PRESETS", {}).items():
        info["presets"][name] = _parameter_count(module, config)
    return info


def _parameter_count(module: Any, config: Any) -> int | str:
    """Count parameters on the ``meta`` device (no memory, no init time); fall back to a real
    build for modules that cannot be built there."""
    import torch

    try:
        with torch.device("meta"):
            model = module.build(config)
    except Exception:
        try:
            model = module.build(config)
        except Exception as exc:
            return f"error: {type(exc).__name__}: {exc}"
    return sum(p.numel() for p in model.parameters())


def _format_count(count: int | str) -> str:
    if isinstance(count, str):
        return count
    return f"{count / 1e6:.2f}M" if count >= 1e6 else f"{count / 1e3:.1f}K"


def _models(args: argparse.Namespace) -> int:
    models = describe_models()
    if args.json:
        print(json.dumps(models, indent=2))
    else:
        for info in models:
            print(f"{info['name']:<12} {info['task']:<11} {info['metric']} ({info['goal']})")
            print(f"    {info['description']}")
            if info["error"]:
                print(f"    ERROR: {info['error']}")
            elif info["presets"]:
                presets = ", ".join(f"{k} {_format_count(v)}" for k, v in info["presets"].items())
                print(f"    presets: {presets}")
            else:
                print("    presets: none (trains with its own run_trial)")
    return 1 if any(info["error"] for info in models) else 0


def _data_demo(args: argparse.Namespace) -> int:
    if args.size <= 0:
        raise SystemExit(f"rungs data demo: --size must be positive, got {args.size}")
    from trainers.data import synthesize_demo_corpus  # torch and soundfile only when needed

    manifest = synthesize_demo_corpus(args.out, args.size, args.seed)
    print(manifest)
    return 0
