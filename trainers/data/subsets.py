"""Nested training subsets: the 2K subset lies inside the 4K, inside the 8K, inside the 16K.

Progressive data scaling only compares stages fairly when a larger stage sees every clip a
smaller stage saw, so a subset is a prefix of one seeded permutation of the whole set.
"""

from __future__ import annotations

import numpy as np


def nested_subset(n_total: int, size: int, seed: int) -> list[int]:
    """``size`` distinct indices into ``range(n_total)``, deterministic for ``(n_total, seed)``.

    For ``a < b`` the subset of size ``a`` is a prefix of the subset of size ``b`` (same
    ``n_total`` and ``seed``). Raises ``ValueError`` when ``size`` is negative or larger than
    ``n_total``.

    >>> nested_subset(10, 3, seed=0) == nested_subset(10, 6, seed=0)[:3]
    True
    """
    if n_total < 0:
        raise ValueError(f"n_total must be >= 0, but got {n_total=}")
    if size < 0:
        raise ValueError(f"subset size must be >= 0, but got {size=}")
    if size > n_total:
        raise ValueError(
            f"cannot take a subset of {size} clips from a set of only {n_total} clips "
            f"({size=} > {n_total=})"
        )
    order = np.random.default_rng(seed).permutation(n_total)
    return [int(i) for i in order[:size]]
