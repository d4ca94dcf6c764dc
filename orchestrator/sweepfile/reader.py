"""Typed, located access to one YAML mapping: the building block of every parse function.

A :class:`Section` reads ``key`` from its mapping, checks the type and range, records a located
error on a mismatch and returns the default instead, so parsing always continues and every error of
a file is reported at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.sweepfile.errors import Diagnostics, join_path, unknown_name
from orchestrator.sweepfile.loader import Node


def describe(value: Any) -> str:
    """``'abc' (a string)`` - used in every type error."""
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    kinds |= {list: "a list", dict: "a mapping", type(None): "null"}
    return f"{value!r} ({kinds.get(type(value), type(value).__name__)})"


def is_number(value: Any) -> bool:
    """Ints and finite floats; booleans are not numbers here (YAML ``yes`` is not 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value)


def is_json_safe(value: Any) -> bool:
    """Values that survive the JSON round trip the database relies on."""
    if value is None or isinstance(value, (bool, str)):
        return True
    if isinstance(value, (int, float)):
        return is_number(value)
    if isinstance(value, list):
        return all(is_json_safe(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_json_safe(v) for k, v in value.items())
    return False


class Section:
    """A mapping node at dotted ``path``; ``node`` is None for an absent block (all defaults)."""

    def __init__(self, diag: Diagnostics, node: Node | None, path: str) -> None:
        self.diag = diag
        self.node = node
        self.path = path
        self.items: dict[str, Node] = node.value if node is not None and node.is_map else {}

    def field(self, key: str) -> str:
        return join_path(self.path, key)

    @property
    def where(self) -> tuple[int, int]:
        return self.node.where if self.node is not None else (1, 1)

    def has(self, key: str) -> bool:
        return key in self.items

    def get(self, key: str) -> Node | None:
        return self.items.get(key)

    def error(self, key: str | None, message: str) -> None:
        """An error about ``key`` (at the key) or, with key None, about the whole section."""
        node = self.items.get(key) if key else None
        pos = node.where if node is not None else self.where
        self.diag.error(pos, self.field(key) if key else self.path, message)

    def warn(self, key: str | None, message: str) -> None:
        node = self.items.get(key) if key else None
        pos = node.where if node is not None else self.where
        self.diag.warn(pos, self.field(key) if key else self.path, message)

    def check_keys(self, valid: Iterable[str], ignored: Mapping[str, str] | None = None) -> None:
        """Unknown keys are errors (with a did-you-mean); ``ignored`` keys get a warning."""
        valid = set(valid)
        ignored = ignored or {}
        for key in self.items:
            if key in ignored:
                self.warn(key, ignored[key])
            elif key not in valid:
                self.error(key, unknown_name("key", key, valid))

    # -- typed getters: each returns ``default`` after recording an error -----------------
    def raw(self, key: str, default: Any = None) -> Any:
        """The plain value at ``key`` (lists and mappings as Python lists and dicts)."""
        node = self.items.get(key)
        return default if node is None else node.plain()

    def integer(self, key: str, default: Any, *, minimum: int | None = None) -> Any:
        value = self.raw(key, default)
        if key not in self.items or (value is None and default is None):
            return value
        if not is_number(value) or float(value) != int(value):
            self.error(key, f"expected an integer, but got {describe(value)}")
            return default
        if minimum is not None and value < minimum:
            self.error(key, f"must be >= {minimum}, but got {value}")
            return default
        return int(value)

    def number(
        self,
        key: str,
        default: Any,
        *,
        minimum: float | None = None,
        above: float | None = None,
        maximum: float | None = None,
        nullable: bool = False,
    ) -> Any:
        """A finite number; ``above`` is an exclusive lower bound; ``nullable``: null is None."""
        value = self.raw(key, default)
        if key not in self.items or (value is None and (default is None or nullable)):
            return value
        if not is_number(value):
            self.error(key, f"expected a number, but got {describe(value)}")
            return default
        if minimum is not None and value < minimum:
            self.error(key, f"must be >= {minimum}, but got {value}")
        elif above is not None and value <= above:
            self.error(key, f"must be > {above}, but got {value}")
        elif maximum is not None and value > maximum:
            self.error(key, f"must be <= {maximum}, but got {value}")
        else:
            return value
        return default

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            self.error(key, f"expected true or false, but got {describe(value)}")
            return default
        return value

    def string(self, key: str, default: Any, choices: Iterable[str] | None = None) -> Any:
        value = self.raw(key, default)
        if key not in self.items or (value is None and default is None):
            return value
        if not isinstance(value, str) or not value:
            self.error(key, f"expected a non-empty string, but got {describe(value)}")
            return default
        if choices is not None and value not in set(choices):
            self.error(key, unknown_name("value", value, choices))
            return default
        return value

    def section(self, key: str) -> Section | None:
        """The sub-mapping at ``key``; None when absent, null or not a mapping (an error)."""
        node = self.items.get(key)
        if node is None or node.value is None:
            return None
        if not node.is_map:
            self.error(key, f"expected a mapping, but got {describe(node.plain())}")
            return None
        return Section(self.diag, node, self.field(key))

    def sequence(self, key: str) -> list[Node] | None:
        node = self.items.get(key)
        if node is None or node.value is None:
            return None
        if not node.is_seq:
            self.error(key, f"expected a list, but got {describe(node.plain())}")
            return None
        return list(node.value)
