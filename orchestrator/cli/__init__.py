"""The ``rungs`` command line.

Each subcommand group lives in its own module with a ``register(subparsers)`` function; heavy
imports (torch, ray) happen inside the handlers so that ``rungs --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from orchestrator.packages import pin_rungs_packages

# module name -> registers these subcommands (order = order in --help)
_COMMAND_MODULES = (
    "orchestrator.cli.spec_commands",  # validate, init
    "orchestrator.cli.run_commands",  # run, resume, status
    "orchestrator.cli.sweep_commands",  # list, cancel
    "orchestrator.cli.result_commands",  # top, select, report
    "orchestrator.cli.model_commands",  # models, data
    "orchestrator.cli.serve_commands",  # serve, worker
    "orchestrator.cli.db_commands",  # db upgrade
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rungs",
        description=(
            "Rungs: hyperparameter sweeps for speech models with progressive data scaling "
            "(2K -> 4K -> 8K subsets, hyperband and median stopping, diversity-aware top-k, "
            "multi-seed validation). Start with `rungs init --model dprnn > sweep.yaml`, "
            "`rungs validate sweep.yaml`, then `rungs run sweep.yaml`."
        ),
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"rungs {version('rungs')}"
    except PackageNotFoundError:
        return "rungs (not installed)"


def main(argv: list[str] | None = None) -> int:
    # Before any subcommand imports them: `python -m orchestrator` puts the current directory
    # first on sys.path, where a user's own `trainers/` or `stages/` folder would win.
    pin_rungs_packages()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
