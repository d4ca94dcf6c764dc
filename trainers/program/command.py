"""The program's command line, built exactly as ``wandb agent`` builds it.

Matched against wandb 0.31.0: ``Agent._command_run`` in ``wandb/wandb_agent.py`` and
``create_sweep_command`` / ``create_sweep_command_args`` in ``wandb/sdk/launch/sweeps/utils.py``.
What W&B does, and so what we do:

* The command is a list; the default is ``[${env}, ${interpreter}, ${program}, ${args}]``.
* ``${envvar:NAME}`` anywhere inside an element is replaced first by the environment variable
  ``NAME`` (by ``NAME`` itself when it is unset); only ``[A-Z0-9_]`` names are recognised.
* An element that is exactly ``${macro}`` is replaced by zero or more arguments; a macro inside a
  longer element (``--cfg=${args_json_file}``) is left as written.
* Every parameter ``name`` with value ``v`` is formatted with Python's ``str``: ``--name=v`` for
  ``${args}``, ``name=v`` (no hyphens), ``--name v`` (no equals, two arguments), ``+name=v`` and
  ``++name=v`` (Hydra), and ``--name`` / nothing for a true / false boolean with
  ``${args_no_boolean_flags}``. So ``True``, ``None``, ``1e-05``, ``[1, 2]`` and nested
  parameters as ``{'lr': 0.01}`` (Python's repr of the nested dict W&B's sweeps library builds)
  reach the program exactly as under W&B. Dotted names (``model.lr``) are passed unchanged.
* ``${args_json}`` is one argument, ``json.dumps`` of the parameters; ``${args_json_file}`` the
  path of a file holding that JSON.
* Parameters come in name order, as W&B's sweeps library (``HyperParameterSet.to_config``) sends
  them to the agent.

Where we differ, on purpose: ``${interpreter}`` is the Python running the Rungs worker
(``sys.executable``) unless configured, not whatever ``python`` is first on ``PATH``; an unknown
macro is an error (:func:`unknown_macros`) where W&B silently drops it; W&B's undocumented
``${args_dict}`` is not supported.
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

DEFAULT_COMMAND: tuple[str, ...] = ("${env}", "${interpreter}", "${program}", "${args}")
_ENVVAR = re.compile(r"\$\{envvar:([A-Z0-9_]*)\}")

_ARGUMENT_FORMS: dict[str, Callable[[str, Any], list[str]]] = {
    "args": lambda name, value: [f"--{name}={value}"],
    "args_no_equals": lambda name, value: [f"--{name}", str(value)],
    "args_no_hyphens": lambda name, value: [f"{name}={value}"],
    "args_no_boolean_flags": lambda name, value: _boolean_flag(name, value),
    "args_append_hydra": lambda name, value: [f"+{name}={value}"],
    "args_override_hydra": lambda name, value: [f"++{name}={value}"],
}
MACROS: tuple[str, ...] = (
    "env",
    "interpreter",
    "program",
    *_ARGUMENT_FORMS,
    "args_json",
    "args_json_file",
)


def _boolean_flag(name: str, value: Any) -> list[str]:
    if isinstance(value, bool):
        return [f"--{name}"] if value else []
    return [f"--{name}={value}"]


def plain(value: Any) -> Any:
    """``value`` as the agent receives it from W&B's server (JSON): numpy scalars become Python
    numbers, tuples lists, mappings dicts; the formatting above then matches W&B's exactly."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    item = getattr(value, "item", None)  # numpy scalars
    return item() if callable(item) else value


def ordered(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters in the order and form the agent receives them."""
    return {name: plain(params[name]) for name in sorted(params)}


def args_json(params: Mapping[str, Any]) -> str:
    """The ``${args_json}`` argument, also the content of the ``${args_json_file}`` file."""
    return json.dumps(ordered(params))


def _macro_name(element: str) -> str | None:
    if element.startswith("${") and element.endswith("}") and not _ENVVAR.search(element):
        return element[2:-1]
    return None


def unknown_macros(command: Sequence[Any]) -> list[str]:
    """The ``${...}`` elements of ``command`` that are not W&B macros, as written."""
    unknown = []
    for element in command:
        name = _macro_name(str(element))
        if name is not None and name not in MACROS:
            unknown.append(str(element))
    return unknown


def check_macros(command: Sequence[Any]) -> None:
    unknown = unknown_macros(command)
    if unknown:
        valid = ", ".join("${" + name + "}" for name in MACROS)
        raise ValueError(
            f"unknown command macro {', '.join(unknown)}; valid macros: {valid}, and "
            "${envvar:NAME} inside any element"
        )


def _expand_envvars(element: str, environ: Mapping[str, str]) -> str:
    return _ENVVAR.sub(lambda match: environ.get(match.group(1), match.group(1)), element)


def _macro_values(
    program: str, params: Mapping[str, Any], interpreter: str, args_json_file: str
) -> dict[str, list[str]]:
    values = ordered(params)
    expanded = {
        form: [arg for name, value in values.items() for arg in format_one(name, value)]
        for form, format_one in _ARGUMENT_FORMS.items()
    }
    return {
        **expanded,
        "env": [] if platform.system() == "Windows" else ["/usr/bin/env"],
        "interpreter": [interpreter],
        "program": [program],
        "args_json": [args_json(params)],
        "args_json_file": [args_json_file],
    }


def build_command(
    command: Sequence[Any] | None,
    *,
    program: str,
    params: Mapping[str, Any],
    interpreter: str,
    args_json_file: str,
    environ: Mapping[str, str],
) -> list[str]:
    """The argv of one trial. ``command`` None is W&B's default; ``environ`` resolves
    ``${envvar:NAME}``; the caller writes :func:`args_json` to ``args_json_file``."""
    template = list(DEFAULT_COMMAND if command is None else command)
    check_macros(template)
    macros = _macro_values(program, params, interpreter, args_json_file)
    argv: list[str] = []
    for raw in template:
        element = _expand_envvars(str(raw), environ)
        name = _macro_name(element)
        argv += macros[name] if name is not None and name in macros else [element]
    return argv
