"""Rungs' own top-level packages win over same-named folders in a user's directory.

Rungs installs ``orchestrator``, ``trainers``, ``stages`` and ``dashboards`` as top-level import
names, and researchers' repositories often hold a ``trainers/`` or ``stages/`` folder of their
own. Python looks in the first entries of ``sys.path`` first, and two of them can be the user's
directory: the current directory under ``python -m orchestrator``, and, in every Ray worker, the
directory the driver was started from (Ray puts it in front so that tasks can import the
driver's modules). A ``rungs run`` started in such a repository would then import the user's
``trainers`` in its trials.

:func:`pin_rungs_packages` loads Rungs' packages from the folder that holds this one and
registers them in ``sys.modules`` before anything imports them; their submodules then resolve
through each package's own ``__path__``, whatever ``sys.path`` holds. The CLI calls it first, and
Ray runs it in every worker before any task (``worker_process_setup_hook``) when the driver's
directory holds such a folder (:func:`shadowing_dirs`; the hook costs each sweep about two
seconds of fresh worker start-up, so it is not set when nothing can shadow). A user's program
runs in a subprocess of its own, where its ``trainers`` package imports as usual. This module
imports nothing of Rungs: it must run before the packages it pins.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# `orchestrator` is not listed: it is already imported, since this module is part of it.
PINNED = ("trainers", "stages", "dashboards")
INSTALL_DIR = Path(__file__).resolve().parent.parent


def pin_rungs_packages() -> None:
    """Import Rungs' ``trainers``, ``stages`` and ``dashboards`` from :data:`INSTALL_DIR`.

    Idempotent. Raises ImportError when a same-named package from elsewhere was imported first:
    both cannot live in one process, and the message says which folder is in the way.
    """
    for name in PINNED:
        package_dir = INSTALL_DIR / name
        loaded = sys.modules.get(name)
        if loaded is None:
            _load_package(name, package_dir)
        elif Path(loaded.__file__ or "").resolve().parent != package_dir:
            raise ImportError(
                f"Rungs needs its own `{name}` package ({package_dir}), but `{name}` from "
                f"{loaded.__file__} was imported first; rename that folder or run Rungs from "
                "another directory"
            )


def shadowing_dirs(candidates: list[Path]) -> list[Path]:
    """Those of ``candidates`` that hold a package or module named like one of Rungs' own
    top-level packages, other than Rungs' copy itself: Ray workers would import it instead."""
    names = ("orchestrator", *PINNED)
    return [
        directory
        for directory in candidates
        if any(_is_other_copy(directory, name) for name in names)
    ]


def _is_other_copy(directory: Path, name: str) -> bool:
    package, module = directory / name, directory / f"{name}.py"
    if module.exists():
        return True
    return package.is_dir() and package.resolve() != INSTALL_DIR / name


def _load_package(name: str, package_dir: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        name, package_dir / "__init__.py", submodule_search_locations=[str(package_dir)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"Rungs' `{name}` package is missing from {package_dir}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it, as the import system does
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
