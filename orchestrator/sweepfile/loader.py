"""YAML text -> a tree of :class:`Node` that remembers the line and column of every value.

We compose (not load) the document with PyYAML's SafeLoader so each node keeps its mark, then
build our own small tree. Differences from ``yaml.safe_load``, each for a reason:

* ``1e-3`` is a float (YAML 1.2; PyYAML's YAML 1.1 resolver reads it as a string, a classic trap
  in sweep files full of learning rates);
* a duplicate key is an error (safe_load silently keeps the last one);
* mapping keys must be strings, and only standard tags are accepted;
* strings may not hold control characters (a double-quoted ``"\\0"`` is a NUL byte, which
  PostgreSQL refuses and no file name may hold);
* documents over the limits of :mod:`.bounds` (size, depth, aliases) are refused before
  anything is built;
* every problem, a syntax error included, becomes a located :class:`SpecError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from orchestrator.sweepfile.bounds import MAX_DEPTH, MAX_DOCUMENT_CHARS, BoundedLoader, TooComplex
from orchestrator.sweepfile.errors import Diagnostics

_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_FLOAT_1_2 = re.compile(r"^[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)[eE][-+]?\d+$")
# C0 controls but tab, newline and carriage return, DEL and the C1 controls
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class _Loader(BoundedLoader):
    """Bounded SafeLoader that also reads YAML 1.2 exponent floats (``1e-3``, ``3E5``)."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_1_2, list("-+0123456789."))


@dataclass
class Node:
    """A YAML value with its position.

    ``value`` is ``dict[str, Node]`` for a mapping, ``list[Node]`` for a sequence, else a plain
    scalar. ``pos`` is where the value starts; ``key_pos`` is where its key starts when it is a
    mapping value. :attr:`where` (the key when there is one) is what diagnostics point at.
    """

    value: Any
    pos: tuple[int, int]
    key_pos: tuple[int, int] | None = None

    @property
    def where(self) -> tuple[int, int]:
        return self.key_pos or self.pos

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_seq(self) -> bool:
        return isinstance(self.value, list)

    def plain(self) -> Any:
        """The plain Python value (dicts, lists, scalars), positions dropped."""
        if self.is_map:
            return {k: v.plain() for k, v in self.value.items()}
        if self.is_seq:
            return [v.plain() for v in self.value]
        return self.value


def _pos(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def compose(text: str, diag: Diagnostics) -> Node | None:
    """Parse ``text``; returns None (with errors recorded) when it is not a usable document."""
    if len(text) > MAX_DOCUMENT_CHARS:
        diag.error(
            (1, 1),
            "",
            f"the document has {len(text)} characters; the limit is {MAX_DOCUMENT_CHARS}",
        )
        return None
    try:
        loader = _Loader(text)  # the reader rejects control characters here, up front
        root = loader.get_single_node()
    except TooComplex as exc:
        diag.error(_pos(exc.mark), "", f"the document is too complex: {exc.message}")
        return None
    except yaml.reader.ReaderError as exc:
        where = _offset_pos(text, exc.position)
        diag.error(where, "", f"cannot read the text: {exc.reason} (character {exc.character:#x})")
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = ": ".join(p for p in (exc.context, exc.problem) if p)
        diag.error(_pos(mark), "", f"YAML syntax error: {problem}")
        return None
    if root is None:
        diag.error((1, 1), "", "the document is empty: expected a mapping with `parameters`")
        return None
    try:
        return _Builder(loader, diag).build(root, None)
    finally:
        loader.dispose()


def _offset_pos(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


class _Builder:
    def __init__(self, loader: _Loader, diag: Diagnostics) -> None:
        self.loader = loader
        self.diag = diag
        self.active: set[int] = set()  # ids of nodes being built: recursive aliases

    def build(self, node: yaml.Node, key_pos: tuple[int, int] | None) -> Node:
        pos = _pos(node.start_mark)
        if id(node) in self.active:
            self.diag.error(pos, "", "a recursive YAML alias is not allowed here")
            return Node(None, pos, key_pos)
        # the composer bounds the written depth; aliases stacked on aliases can still add up
        if len(self.active) >= MAX_DEPTH:
            self.diag.error(pos, "", f"nested deeper than {MAX_DEPTH} levels (through aliases)")
            return Node(None, pos, key_pos)
        self.active.add(id(node))
        try:
            return Node(self._value(node, pos), pos, key_pos)
        finally:
            self.active.discard(id(node))

    def _value(self, node: yaml.Node, pos: tuple[int, int]) -> Any:
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP:
            return self._mapping(node)
        if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
            return [self.build(item, None) for item in node.value]
        if isinstance(node, yaml.ScalarNode):
            try:
                value = self.loader.construct_object(node, deep=True)
            except (yaml.YAMLError, ValueError, OverflowError) as exc:
                self.diag.error(pos, "", f"cannot read this value: {exc}")
                return None
            if isinstance(value, str) and (bad := _CONTROL.search(value)):
                self.diag.error(pos, "", f"control character {bad.group()!r} in a string")
                return None
            return value
        self.diag.error(pos, "", f"unsupported YAML tag {node.tag!r}: use plain maps and lists")
        return None

    def _mapping(self, node: yaml.MappingNode) -> dict[str, Node]:
        out: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key_pos = _pos(key_node.start_mark)
            key = self.build(key_node, None).value
            if not isinstance(key, str):
                self.diag.error(key_pos, "", f"keys must be strings, but got {key!r}")
                continue
            if key in out:
                self.diag.error(
                    key_pos, key, f"duplicate key {key!r} (first at line {out[key].where[0]})"
                )
                continue
            out[key] = self.build(value_node, key_pos)
        return out
