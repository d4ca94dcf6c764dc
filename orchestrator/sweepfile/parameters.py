"""The ``parameters`` block: W&B parameters (nested ones flattened to dotted names) -> a Space."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from orchestrator.sweepfile.distributions import (
    DISTRIBUTIONS,
    infer_distribution,
    parse_distribution,
)
from orchestrator.sweepfile.errors import Diagnostics, join_path, unknown_name
from orchestrator.sweepfile.loader import Node
from orchestrator.sweepfile.reader import Section, describe
from stages.space import Numeric, Param, Space

# W&B's own rule for parameter names (its schema's propertyNames pattern)
# (dots allowed: W&B passes `model.lr` to the program unchanged, as Hydra users want)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*\Z")  # \Z: "lr\n" is not a name
# W&B grid search enumerates values: only finite sets work
_GRID_NUMERIC_SOURCES = ("int_uniform", "q_uniform")


def parse_parameters(diag: Diagnostics, node: Node | None, path: str = "parameters") -> Space:
    """Every parameter of the block, flattened; invalid ones are left out (errors recorded)."""
    return parse_parameter_block(diag, node, path).space


@dataclass
class ParameterBlock:
    """The parsed ``parameters`` block: the flat space, and for each name that came from W&B
    nested parameters its path (``"optimizer.lr" -> ("optimizer", "lr")``). A dotted name
    written as such (``model.lr: {...}``, as Hydra users do) is one flat name, as under W&B."""

    space: Space = field(default_factory=dict)
    nested: dict[str, tuple[str, ...]] = field(default_factory=dict)


def parse_parameter_block(
    diag: Diagnostics, node: Node | None, path: str = "parameters"
) -> ParameterBlock:
    block = ParameterBlock()
    if node is None or node.value is None:
        diag.error(node.where if node else (1, 1), path, "at least one parameter is required")
        return block
    if not node.is_map or not node.value:
        diag.error(
            node.where, path, f"expected a mapping of parameters, but got {describe(node.plain())}"
        )
        return block
    _collect(diag, node, path, (), block)
    return block


def _collect(
    diag: Diagnostics, node: Node, path: str, parents: tuple[str, ...], block: ParameterBlock
) -> None:
    for name, child in node.value.items():
        field_path = join_path(path, name)
        if not _NAME.match(name):
            diag.error(
                child.where, field_path, "a parameter name must match [A-Za-z_][A-Za-z0-9_.-]*"
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
                field_path,
                f"a parameter must be a mapping such as {{values: [...]}}, but got {describe(child.plain())}{hint}",
            )
            continue
        if "parameters" in child.value:
            _nested(diag, child, field_path, (*parents, name), block)
            continue
        param = parse_param(Section(diag, child, field_path))
        if param is not None:
            _add(diag, child, field_path, (*parents, name), param, block)


def _add(
    diag: Diagnostics,
    node: Node,
    field_path: str,
    parts: tuple[str, ...],
    param: Param,
    block: ParameterBlock,
) -> None:
    """One parameter under its flat name; a nested one and a dotted one may not share it."""
    flat = ".".join(parts)
    if flat in block.space:
        diag.error(
            node.where,
            field_path,
            f"the parameter name {flat!r} is given twice (once nested, once with dots); rename one",
        )
        return
    block.space[flat] = param
    if len(parts) > 1:
        block.nested[flat] = parts


def _nested(
    diag: Diagnostics, node: Node, field_path: str, parts: tuple[str, ...], block: ParameterBlock
) -> None:
    """W&B nested parameters: ``{parameters: {...}}`` and nothing else."""
    Section(diag, node, field_path).check_keys(("parameters",))
    inner = node.value["parameters"]
    if not inner.is_map or not inner.value:
        diag.error(
            inner.where,
            join_path(field_path, "parameters"),
            f"expected a mapping of parameters, but got {describe(inner.plain())}",
        )
        return
    _collect(diag, inner, join_path(field_path, "parameters"), parts, block)


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
