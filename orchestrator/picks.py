"""The top-k that every surface shows: once selection has run, its stored picks.

Selection (:mod:`orchestrator.runner.handoff`) stores its picks in the ``select`` stage's
summary, and from then on they are the truth: the CSV file it writes, ``rungs top``, ``GET
/api/sweeps/{id}/top`` and ``/top.csv``, the dashboard and the report show these picks, in the
same order, under the same names (``config1`` ..., the names of the validation runs, from
:func:`stages.selection.pick_name`), with the search trial each came from beside it (``source``).

Any other top-k says what it is (:attr:`TopK.source`):

* ``preview``: selection has not run yet. Computed now exactly as selection will compute it,
  so it may change as trials finish.
* ``recomputed``: another k on a sweep whose selection ran. Never the validated set: rows that
  are stored picks keep their names, the others have none.

Selection and every re-computation measure diversity in the same space: the stored space of the
last stage selected from (narrowed, in a progressive sweep). The table's columns are the sweep's
parameters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from orchestrator.storage import BaseStorage
from orchestrator.storage.records import StageRecord
from orchestrator.stored_trials import load_spec, search_stage_names, trials_by_stage
from stages.export import picks_to_frame
from stages.selection import Pick, select_top_k
from stages.space import Space, space_from_dict
from stages.spec import SweepSpec
from stages.states import StageState
from stages.trials import TrialSummary

PickSource = Literal["stored", "recomputed", "preview"]
SELECT = "select"
TrialsByStage = Mapping[str, Sequence[TrialSummary]]


def selection_sources(spec: SweepSpec, by_stage: TrialsByStage) -> list[str]:
    """The stages selection picks from: the spec's ``from_stages``, else the last search stage
    (of the spec, else the last one with trials)."""
    if spec.selection.from_stages:
        return list(spec.selection.from_stages)
    if spec.stages:
        return [spec.stages[-1].name]
    return search_stage_names(by_stage)[-1:]


def selection_space(
    spec: SweepSpec, stages: Sequence[StageRecord], sources: Sequence[str]
) -> Space:
    """Where distances are measured: the stored space of the last source stage, else the
    sweep's parameters."""
    record = next((s for s in stages if sources and s.name == sources[-1]), None)
    return space_from_dict(record.space) if record and record.space else dict(spec.parameters)


def select_picks(
    spec: SweepSpec, stages: Sequence[StageRecord], by_stage: TrialsByStage, k: int | None = None
) -> list[Pick]:
    """The spec's selection (``k`` overrides its k); raises ValueError when no trial is
    eligible yet."""
    sel = spec.selection
    sources = selection_sources(spec, by_stage)
    return select_top_k(
        [t for name in sources for t in by_stage.get(name, [])],
        selection_space(spec, stages, sources),
        k=k or sel.k,
        goal=spec.metric.goal,
        diversity=sel.diversity,
        balance_variants=sel.balance_variants,
        balance_tolerance=sel.balance_tolerance,
        require_full_budget=sel.require_full_budget,
    )


def picks_table(
    picks: Sequence[Pick], spec: SweepSpec, names: Sequence[str | None] | None = None
) -> pd.DataFrame:
    """The one table of picks (:func:`stages.export.picks_to_frame` over the sweep's parameters)."""
    return picks_to_frame(picks, spec.parameters, metric=spec.metric.name, names=names)


def stored_from_picks(picks: Sequence[Pick]) -> list[dict[str, Any]]:
    """What the ``select`` stage's summary keeps of each pick (JSON-safe)."""
    return [
        {
            "rank": p.rank,
            "name": p.name,
            "source": p.trial.name,
            "trial_id": p.trial.id,
            "stage": p.trial.stage,
            "variant": p.trial.variant,
            "value": p.trial.value,
            "config": dict(p.trial.config),
            "distance_to_nearest": p.distance_to_nearest,
            "score": p.score if math.isfinite(p.score) else None,
        }
        for p in picks
    ]


def picks_from_stored(stored: Sequence[Mapping[str, Any]]) -> list[Pick]:
    """The inverse of :func:`stored_from_picks` (summaries stored before ``source`` existed
    kept the trial's name in ``name``)."""
    return [
        Pick(
            rank=int(d["rank"]),
            trial=TrialSummary(
                id=d["trial_id"],
                config=d["config"],
                value=d["value"],
                name=str(d.get("source", d["name"])),
                stage=d["stage"],
                variant=d["variant"],
            ),
            distance_to_nearest=d["distance_to_nearest"],
            score=math.nan if d.get("score") is None else float(d["score"]),
        )
        for d in stored
    ]


def stored_picks(stages: Sequence[StageRecord]) -> list[Pick] | None:
    """The picks a completed ``select`` stage stored, best first; None before selection ran."""
    record = next((s for s in stages if s.name == SELECT), None)
    if record is None or record.state != StageState.COMPLETED or not record.summary:
        return None
    return picks_from_stored(record.summary["picks"])


def pick_sources(stages: Sequence[StageRecord]) -> dict[str, str]:
    """Stored pick name -> the search trial it came from (``{"config1": "hyperband-004"}``)."""
    return {p.name: p.trial.name for p in stored_picks(stages) or []}


@dataclass(frozen=True)
class TopK:
    """A top-k and where it came from; ``note`` says why ``frame`` is empty."""

    source: PickSource
    k: int
    picks: list[Pick]
    frame: pd.DataFrame
    note: str | None = None

    @property
    def label(self) -> str:
        """What a reader must know about these rows, in one sentence."""
        if self.source == "stored":
            return "Stored picks of the selection stage: the configs validation runs."
        if self.source == "preview":
            return "Preview: selection has not run yet; these picks may change as trials finish."
        return (
            f"Recomputed for k={self.k}: not the validated set. "
            "Rows that are stored picks keep their names; the others have none."
        )


def top_k_of(
    spec: SweepSpec, stages: Sequence[StageRecord], by_stage: TrialsByStage, k: int | None = None
) -> TopK:
    """The stored picks when selection ran and ``k`` is the sweep's (or None), else a preview
    or a re-computation (module docs)."""
    stored = stored_picks(stages)
    if stored is not None and k in (None, spec.selection.k):
        return TopK("stored", spec.selection.k, stored, picks_table(stored, spec))
    source: PickSource = "preview" if stored is None else "recomputed"
    wanted = k or spec.selection.k
    try:
        picks = select_picks(spec, stages, by_stage, wanted)
    except ValueError as exc:  # no eligible trial yet
        return TopK(source, wanted, [], picks_table([], spec), note=f"No top-k yet: {exc}.")
    names = None
    if stored is not None:
        validated = {p.trial.id: p.name for p in stored}
        names = [validated.get(p.trial.id) for p in picks]
    return TopK(source, wanted, picks, picks_table(picks, spec, names))


def top_k(storage: BaseStorage, sweep_id: int, k: int | None = None) -> TopK:
    """:func:`top_k_of` for a stored sweep (raises KeyError naming an unknown id)."""
    spec = load_spec(storage, sweep_id)
    return top_k_of(spec, storage.get_stages(sweep_id), trials_by_stage(storage, sweep_id), k)
