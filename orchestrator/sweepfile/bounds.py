"""Limits on a YAML document, checked while it is composed: before any object is built.

A sweep file is a few hundred nodes a few levels deep. A hostile one is tiny and enormous at
once: a 500-byte "billion laughs" document (anchors whose aliases repeat each other) expands
to billions of nodes, and 1,000 nested ``[`` overflow the composer's recursion. So
:class:`BoundedLoader` counts, as PyYAML composes the node graph (aliases are still shared
references then, so counting costs nothing):

* the nesting depth, before descending (no ``RecursionError``);
* the alias events;
* the nodes the document would have with every alias expanded (the size of an anchored node is
  known when its alias is met), which is what the builder and everything after it would walk.

The first limit crossed raises :class:`TooComplex` at the node where it happened.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_DOCUMENT_CHARS = 1_000_000  # the API's default body limit; a real sweep file is a few KB
MAX_DEPTH = 64
MAX_ALIASES = 100
MAX_EXPANDED_NODES = 50_000


class TooComplex(yaml.YAMLError):
    """A document over one of the limits; ``mark`` is where it was crossed."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message, self.mark = message, mark


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents over the module's limits while composing them."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self._expanded = 0  # nodes composed so far, counting each alias as its whole subtree
        self._sizes: dict[int, int] = {}  # id(anchored node) -> its expanded size

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            return self._alias(parent, index)
        event = self.peek_event()
        if self._depth >= MAX_DEPTH:
            raise TooComplex(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        before = self._expanded
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        self._count(1, event.start_mark)
        if event.anchor is not None:
            self._sizes[id(node)] = self._expanded - before
        return node

    def _alias(self, parent: Any, index: Any) -> Any:
        mark = self.peek_event().start_mark
        self._aliases += 1
        if self._aliases > MAX_ALIASES:
            raise TooComplex(f"more than {MAX_ALIASES} aliases (*name)", mark)
        node = super().compose_node(parent, index)
        # a recursive alias (to a node still being composed) has no size yet: the builder
        # reports it; count it as one node
        self._count(self._sizes.get(id(node), 1), mark)
        return node

    def _count(self, nodes: int, mark: Any) -> None:
        self._expanded += nodes
        if self._expanded > MAX_EXPANDED_NODES:
            raise TooComplex(
                f"more than {MAX_EXPANDED_NODES} values once aliases are expanded (an alias bomb?)",
                mark,
            )
