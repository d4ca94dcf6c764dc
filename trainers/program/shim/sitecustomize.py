"""Rungs' shim for programs that log with W&B; Python imports it at startup from PYTHONPATH.

When (and only if) the program imports wandb, ``wandb.sdk.wandb_run.Run.log`` (and the log of
``NoopRun``, the run of ``mode="disabled"``) is wrapped so that each ``wandb.log({...})`` /
``run.log({...})`` call that W&B accepts also writes one JSON line to the pipe whose descriptor
is in ``RUNGS_REPORT_FD``: the call's numeric values, nested dicts flattened with ``.``, NaN and
infinities as JSON's ``NaN`` / ``Infinity``. The program's stdout and stderr are untouched. Then
the ``sitecustomize`` this one shadows, if any, runs as usual.

This file imports nothing from Rungs (the program may run in another environment), runs in
every Python process started with this PYTHONPATH, and writes only to a descriptor that is still
the pipe Rungs created (``RUNGS_REPORT_PIPE`` holds its inode): a process that did not inherit
it (multiprocessing's spawn, a subprocess) reports nothing. A failed write is ignored: the
program must not notice Rungs.
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import stat
import sys
import threading
import types
from collections.abc import Mapping
from typing import Any

_FD_ENV = "RUNGS_REPORT_FD"
_PIPE_ENV = "RUNGS_REPORT_PIPE"
_RUN_CLASSES = {"wandb.sdk.wandb_run": "Run", "wandb.sdk.lib.noop_run": "NoopRun"}
_write_lock = threading.Lock()
# How deep this thread is in wrapped log calls: a subclass calling super().log reports once.
_calls = threading.local()


def _report_fd() -> int | None:
    """The report pipe, when this process holds the very pipe Rungs created."""
    try:
        fd, inode = int(os.environ[_FD_ENV]), int(os.environ[_PIPE_ENV])
        status = os.fstat(fd)
    except (KeyError, ValueError, OSError):
        return None
    return fd if stat.S_ISFIFO(status.st_mode) and status.st_ino == inode else None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    item = getattr(value, "item", None)  # numpy scalars, one-element arrays and tensors
    if not callable(item):
        return None
    try:
        number = item()
    except Exception:  # not a single number (a multi-element tensor, ...)
        return None
    return _as_number(number) if isinstance(number, (int, float)) else None


def numeric_values(data: Mapping[Any, Any], prefix: str = "") -> dict[str, float]:
    """The numbers in one logged dict, nested dicts flattened with ``.``; the rest dropped."""
    values: dict[str, float] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            values.update(numeric_values(value, f"{name}."))
            continue
        number = _as_number(value)
        if number is not None:
            values[name] = number
    return values


def _emit(fd: int, data: Mapping[Any, Any]) -> None:
    values = numeric_values(data)
    if not values:
        return
    line = (json.dumps(values) + "\n").encode()
    with _write_lock:  # one line per call even when several threads log
        try:
            while line:
                line = line[os.write(fd, line) :]
        except OSError:  # Rungs stopped reading: the trial is being stopped
            pass


def _hook_run_log(module: types.ModuleType) -> None:
    run_class = getattr(module, _RUN_CLASSES[module.__name__], None)
    original = run_class.__dict__.get("log") if run_class is not None else None
    if run_class is None or original is None or getattr(original, "_rungs_hooked", False):
        return

    @functools.wraps(original)
    def log(self: Any, *args: Any, **kwargs: Any) -> Any:
        _calls.depth = getattr(_calls, "depth", 0) + 1
        try:
            result = original(self, *args, **kwargs)
        finally:
            _calls.depth -= 1
        data = args[0] if args else kwargs.get("data")
        fd = _report_fd()
        if _calls.depth == 0 and fd is not None and isinstance(data, Mapping):
            _emit(fd, data)
        return result

    log._rungs_hooked = True  # type: ignore[attr-defined]
    run_class.log = log


class _HookingLoader(importlib.abc.Loader):
    """Loads a module of ``_RUN_CLASSES`` with the original loader, then wraps its run's log."""

    def __init__(self, loader: importlib.abc.Loader, finder: _RunModuleFinder) -> None:
        self._loader, self._finder = loader, finder

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        _hook_run_log(module)
        if all(name in sys.modules for name in _RUN_CLASSES) and self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)  # done: no cost on later imports

    def __getattr__(self, name: str) -> Any:  # get_source, get_resource_reader, ...
        return getattr(self._loader, name)


class _RunModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of ``_RUN_CLASSES`` through the other finders, for the hook."""

    def __init__(self) -> None:
        self._searching = False

    def find_spec(
        self, fullname: str, path: Any = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _RUN_CLASSES or self._searching:
            return None
        self._searching = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._searching = False
        if spec is not None and spec.loader is not None:
            spec.loader = _HookingLoader(spec.loader, self)
        return spec


def _install_hook() -> None:
    if _report_fd() is None:
        return
    for name in _RUN_CLASSES:
        if name in sys.modules:  # a .pth file may have imported wandb already
            _hook_run_log(sys.modules[name])
    if not all(name in sys.modules for name in _RUN_CLASSES):
        sys.meta_path.insert(0, _RunModuleFinder())


def _run_shadowed_sitecustomize() -> None:
    """Import the ``sitecustomize`` that would have run without this directory on the path."""
    here = os.path.dirname(os.path.realpath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.realpath(entry or os.curdir) != here]
    ours = sys.modules.pop(__name__, None)
    try:
        importlib.import_module("sitecustomize")
    except ModuleNotFoundError as error:
        if error.name != "sitecustomize":
            raise
        if ours is not None:
            sys.modules[__name__] = ours


if __name__ == "sitecustomize":  # imported by Python's site module, not as a package module
    _install_hook()
    _run_shadowed_sitecustomize()
