"""Paths built from user strings: safe by construction.

Anything a user writes (a sweep name through the API, a stage name, a program path) can reach
the filesystem. Two rules keep it inside the folders Rungs owns:

* a *name* becomes a folder name only through :func:`slug`: letters, digits, ``.``, ``_`` and
  ``-``, never empty, never ``.`` or ``..``, never longer than :data:`SLUG_MAX`, so it can never
  be a path;
* a *relative path* is joined to its base only through :func:`safe_child`, which resolves it
  (``..`` and symlinks included) and refuses any result outside the base.

>>> slug("../../../tmp/x")
'tmp-x'
>>> safe_child(Path("/srv/sweeps"), "sweep-1/ray/stage1")
PosixPath('/srv/sweeps/sweep-1/ray/stage1')
"""

from __future__ import annotations

import re
from pathlib import Path

SLUG_MAX = 60
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")


class UnsafePath(ValueError):
    """A user-given path that would leave the folder it must stay in."""


def slug(text: str, *, fallback: str = "sweep", max_length: int = SLUG_MAX) -> str:
    """``text`` as one safe folder-name component (see the module docstring).

    Runs of other characters become one ``-``; leading and trailing ``.``/``-``/``_`` go, so
    the result is never ``.``, ``..`` or hidden; an empty result is ``fallback``.

    >>> slug("my sweep: lr × wd")
    'my-sweep-lr-wd'
    >>> slug("..")
    'sweep'
    """
    cleaned = _UNSAFE_RUN.sub("-", text)[:max_length].strip("._-")
    return cleaned or fallback


def safe_child(base: str | Path, relative: str | Path) -> Path:
    """``base / relative``, resolved, when it lies inside ``base``; else :class:`UnsafePath`.

    ``relative`` must be relative; ``..`` components and symlinks are followed before the check,
    so neither a crafted string nor a link planted in the tree can lead outside ``base``. The
    result may not exist yet (nothing is created).

    >>> safe_child("/srv/sweeps", "../etc")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    UnsafePath: '../etc' leads outside /srv/sweeps
    """
    root = Path(base).resolve()
    given = Path(relative)
    if given.is_absolute() or "\x00" in str(relative):
        raise UnsafePath(f"{str(relative)!r} must be a relative path inside {root}")
    target = (root / given).resolve()
    if target != root and root not in target.parents:
        raise UnsafePath(f"{str(relative)!r} leads outside {root}")
    return target
