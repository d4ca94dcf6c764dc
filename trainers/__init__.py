"""Trainers: one file per model, the shared training loop, losses and data.

The orchestrator's only entry point is :func:`run_trial`.
"""

from __future__ import annotations

from trainers.api import DataRequest, ListReporter, Reporter, TrialOutcome, TrialRequest
from trainers.registry import MODELS, load_model_module, model_entry

__all__ = [
    "MODELS",
    "DataRequest",
    "ListReporter",
    "Reporter",
    "TrialOutcome",
    "TrialRequest",
    "model_entry",
    "run_trial",
]


def run_trial(request: TrialRequest, reporter: Reporter) -> TrialOutcome:
    """Train one configuration, reporting every epoch; see :mod:`trainers.api`."""
    module = load_model_module(request.model)
    custom = getattr(module, "run_trial", None)
    if custom is not None:
        return custom(request, reporter)
    from trainers.loop import train  # torch is imported only when a neural model trains

    return train(request, reporter)
