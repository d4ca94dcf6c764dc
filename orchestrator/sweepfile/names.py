"""What a sweep name may be: shown everywhere, stored, never a path.

The name is free text for people (``"DPRNN lr x wd, 2K -> 8K"`` is fine). It reaches the
filesystem only as a slug (:func:`orchestrator.paths.slug`), so slashes and dots are harmless;
what is refused is what breaks storage or display: control and format characters (a NUL byte
fails on PostgreSQL; a newline or a bidi override forges log lines and table rows) and more
characters than the database column holds.
"""

from __future__ import annotations

import unicodedata

NAME_MAX = 200  # the width of ``sweeps.name`` (orchestrator.storage.models)
# Unicode categories refused: controls, format characters (bidi overrides, zero-width),
# line and paragraph separators, surrogates, private use.
_REFUSED = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co"}


def name_problem(name: str, max_length: int = NAME_MAX) -> str | None:
    """Why ``name`` cannot be a sweep name, or None when it can.

    >>> name_problem("dprnn 2K -> 8K") is None
    True
    >>> name_problem("a\\x00b")
    "must not contain control or format characters, but got '\\\\x00' at position 2"
    """
    if not name.strip():
        return "must not be blank"
    if len(name) > max_length:
        return f"must be at most {max_length} characters, but got {len(name)}"
    for position, char in enumerate(name, start=1):
        if unicodedata.category(char) in _REFUSED:
            return (
                "must not contain control or format characters, "
                f"but got {char!r} at position {position}"
            )
    return None
