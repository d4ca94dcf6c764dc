"""A stored sweep as the stage logic sees it: its frozen spec and its trials per stage.

The report (:mod:`orchestrator.reporting`) and the picks (:mod:`orchestrator.picks`) read a
sweep through these functions, so both see the same trials with the same budgets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from orchestrator.storage import BaseStorage
from orchestrator.storage.records import StageRecord, TrialRecord
from orchestrator.sweepfile import spec_from_dict
from stages.spec import SweepSpec
from stages.trials import TrialSummary


def load_spec(storage: BaseStorage, sweep_id: int) -> SweepSpec:
    """The sweep's frozen spec (stored as JSON in ``sweeps.spec``)."""
    return spec_from_dict(storage.get_sweep(sweep_id).spec)


def to_summary(record: TrialRecord, stage: StageRecord) -> TrialSummary:
    """Database trial -> the stage logic's view; the budget is the stage plan's ``budget``
    (None for a program sweep), else its ``epochs``; ``extra`` names the stage's kind
    (search, select or validate)."""
    max_epochs = stage.plan["budget"] if "budget" in stage.plan else stage.plan.get("epochs")
    budget = int(max_epochs) if max_epochs is not None else None
    return record.summary(budget, kind=stage.kind)


def trials_by_stage(storage: BaseStorage, sweep_id: int) -> dict[str, list[TrialSummary]]:
    """Every stage's trials, keyed by stage name, in stage order."""
    out: dict[str, list[TrialSummary]] = {}
    for stage in storage.get_stages(sweep_id):
        records = storage.get_trials(sweep_id, stage=stage.name)
        out[stage.name] = [to_summary(r, stage) for r in records]
    return out


def stage_kind(trials: Sequence[TrialSummary]) -> str:
    """``search``, ``select`` or ``validate``: the kind of the stage these trials ran in."""
    return str(trials[0].extra.get("kind", "search")) if trials else "search"


def search_stage_names(by_stage: Mapping[str, Sequence[TrialSummary]]) -> list[str]:
    """The search stages that have trials, in stage order."""
    return [name for name, trials in by_stage.items() if trials and stage_kind(trials) == "search"]
