"""The ``parameters`` block: W&B parameters (nested ones flattened to dotted names) -> a Space."""

from __future__ import annotations

import re

from orchestrator.spec.distributions import DISTRIBUTIONS, infer_distribution, parse_distribution
from orchestrator.spec.errors import Diagnostics, join_path, unknown_name
from orchestrator.spec.loader import Node
from orchestrator.spec.reader import Section, describe
from stages.space import Numeric, Param, Space

# W&B's own rule for parameter names (its schema's propertyNames pattern)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# W&B grid search enumerates values: only finite sets work
_GRID_NUMERIC_SOURCES = ("int_uniform", "q_uniform")


def parse_parameters(diag: Diagnostics, node: Node | None, path: str = "parameters") -> Space:
    """Every parameter of the block, flattened; invalid ones are left out (errors recorded)."""
    space: Space = {}
    if node is None or node.value is None:
        diag.error(node.where if node else (1, 1), path, "at least one parameter is required")
        return space
    if not node.is_map or not node.value:
        diag.error(
            node.where, path, f"expected a mapping of parameters, but got {describe(node.plain())}"
        )
        return space
    _collect(diag, node, path, "", space)
    return space


def _collect(diag: Diagnostics, node: Node, path: str, prefix: str, space: Space) -> None:
    for name, child in node.value.items():
        field = join_path(path, name)
        if not _NAME.match(name):
            diag.error(
                child.where,
                field,
                "a parameter name must match [A-Za-z_][A-Za-z0-9_-]* (dots separate nesting)",
            )
            continue
        if not child.is_map:
            hint = (
                f"; did you mean `{name}: {{value: {child.plain()!r}}}`?"
                if child.value is not None
                else ""
            )
            diag.error(
                child.where,
                field,
                f"a parameter must be a mapping such as {{values: [...]}}, but got {describe(child.plain())}{hint}",
            )
            continue
        if "parameters" in child.value:
            _nested(diag, child, field, f"{prefix}{name}.", space)
            continue
        param = parse_param(Section(diag, child, field))
        if param is not None:
            space[f"{prefix}{name}"] = param


def _nested(diag: Diagnostics, node: Node, field: str, prefix: str, space: Space) -> None:
    """W&B nested parameters: ``{parameters: {...}}`` and nothing else."""
    Section(diag, node, field).check_keys(("parameters",))
    inner = node.value["parameters"]
    if not inner.is_map or not inner.value:
        diag.error(
            inner.where,
            join_path(field, "parameters"),
            f"expected a mapping of parameters, but got {describe(inner.plain())}",
        )
        return
    _collect(diag, inner, join_path(field, "parameters"), prefix, space)


def parse_param(sec: Section) -> Param | None:
    """One parameter: the explicit ``distribution`` or the one W&B would infer."""
    explicit = sec.has("distribution")
    if explicit:
        dist = sec.raw("distribution")
        if not isinstance(dist, str) or dist not in DISTRIBUTIONS:
            sec.error("distribution", unknown_name("distribution", dist, DISTRIBUTIONS))
            return None
    else:
        dist = infer_distribution(sec)
        if dist is None:
            sec.error(
                None,
                "cannot infer the distribution: give `value`, `values`, `min` and `max`, or `distribution` (one of "
                + ", ".join(DISTRIBUTIONS)
                + ")",
            )
            return None
    return parse_distribution(sec, dist, explicit)


def grid_compatible(param: Param) -> bool:
    """Grid search needs a finite set of values."""
    return not isinstance(param, Numeric) or param.source in _GRID_NUMERIC_SOURCES
