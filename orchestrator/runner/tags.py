"""Reserved keys the runner adds to a Ray trial's config and final result.

Ray only knows a trial by its config; these tags carry what the database needs (which variant,
which stable key, which seed) through Ray without touching the user's hyperparameters. Every key
starts with ``__`` so it can never collide with a (dotted) W&B parameter name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stages.states import TrialState

VARIANT = "__variant"
KEY = "__key"
SEED = "__seed"
GROUP = "__group"  # validation: the selected config a seed run belongs to
# The trainable's last report carries the TrialOutcome (status, reason) under these names.
FINAL = "__final"
STATUS = "__status"
REASON = "__reason"
# The statuses a trainer may end a trial with by itself besides completed (its stopping rule or
# divergence check): stored as reported, told to the proposers as pruned.
TRAINER_STOPS = frozenset({TrialState.DIVERGED, TrialState.EARLY_STOPPED})


def strip(config: Mapping[str, Any]) -> dict[str, Any]:
    """The user's hyperparameters only (what is stored and what the trainer sees)."""
    return {k: v for k, v in config.items() if not k.startswith("__")}
