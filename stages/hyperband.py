"""W&B hyperband early termination, reproduced exactly (see wandb/sweeps hyperband_stopping.py).

W&B's hyperband is a *stopping rule* only: nothing is paused or resumed. It computes "bands"
(rungs) in iterations, where an iteration is one reported value of the metric:

* with ``max_iter``: bands are ``int(max_iter / eta**k)`` for k = 1..s;
* with ``min_iter``: bands are ``int(min_iter * eta**k)`` for k = 0..99, and ``s`` is ignored.
"""

from __future__ import annotations

from stages.spec import Hyperband

# W&B builds 100 bands from min_iter; beyond any real run length they never matter.
_WANDB_MIN_ITER_BANDS = 100


def hyperband_rungs(hb: Hyperband, max_epochs: int | None = None) -> list[int]:
    """The iterations at which W&B's hyperband compares runs, ascending, deduplicated.

    ``max_epochs`` (the stage's budget) drops rungs a trial can never reach.

    >>> hyperband_rungs(Hyperband(min_iter=3, eta=3), max_epochs=30)
    [3, 9, 27]
    >>> hyperband_rungs(Hyperband(max_iter=27, s=2, eta=3))
    [3, 9]
    """
    if hb.min_iter is not None:
        bands = [int(hb.min_iter * hb.eta**k) for k in range(_WANDB_MIN_ITER_BANDS)]
        if max_epochs is not None:
            bands = [b for b in bands if b <= max_epochs]
        else:
            bands = bands[:1]  # without a budget only the first band is meaningful to show
    elif hb.max_iter is not None:
        s = hb.s if hb.s is not None else 0
        bands = [int(hb.max_iter / hb.eta**k) for k in range(1, s + 1)]
        if max_epochs is not None:
            bands = [b for b in bands if b <= max_epochs]
    else:
        raise ValueError("hyperband needs min_iter or max_iter")
    return sorted({b for b in bands if b >= 1})
