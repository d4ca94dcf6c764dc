"""The sweep report: the per-stage summary a researcher would otherwise write by hand after each
stage, built from the database.

:func:`build_report` reads one sweep through :class:`BaseStorage` and runs the pure stage logic
on it: the per-stage table (:func:`stages.analysis.stage_summary`), the diversity-aware top-k
(the stored picks once selection ran, else a labelled preview: :mod:`orchestrator.picks`), the
multi-seed validation ranking (:func:`stages.statistics.rank_validation`), hyperparameter correlations and
Optuna importances (:mod:`stages.analysis`), and findings in plain sentences.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from orchestrator.picks import TopK, pick_sources, selection_sources, top_k_of
from orchestrator.storage import BaseStorage
from orchestrator.stored_trials import load_spec, stage_kind, trials_by_stage
from stages.analysis import correlations, findings, hyperparameter_importance, stage_summary
from stages.export import frame_to_markdown
from stages.selection import pick_label
from stages.spec import Goal, SweepSpec
from stages.statistics import ValidationRanking, rank_validation
from stages.trials import TrialSummary


def validation_scores(validation: Sequence[TrialSummary]) -> dict[str, list[float]]:
    """Validation runs grouped by name (``config<rank>``: every seed of one pick carries its
    name) -> their finite best values."""
    scores: dict[str, list[float]] = {}
    for trial in validation:
        if trial.value is not None and math.isfinite(trial.value):
            scores.setdefault(trial.name, []).append(trial.value)
    return scores


def validation_ranking(
    spec: SweepSpec, by_stage: Mapping[str, Sequence[TrialSummary]]
) -> ValidationRanking | None:
    """The ranking of the ``validate`` stages' trials; None when none has a value yet."""
    validation = [
        t for trials in by_stage.values() if stage_kind(trials) == "validate" for t in trials
    ]
    scores = validation_scores(validation)
    return rank_validation(scores, spec.metric.goal) if scores else None


@dataclass(frozen=True)
class SweepReport:
    """Everything ``rungs report`` shows (importance: :func:`hyperparameter_importance`).
    ``picks`` is empty (with ``selection_note`` saying why) until a search stage has eligible
    trials; ``validation`` is None until validation runs."""

    sweep_id: int
    name: str
    state: str
    model: str
    metric: str
    goal: Goal
    stages: pd.DataFrame
    top: TopK
    validation: ValidationRanking | None
    correlations: pd.DataFrame
    importance: dict[str, float]
    findings: list[str]

    @property
    def picks(self) -> pd.DataFrame:
        """The top-k table: the stored picks once selection ran (:mod:`orchestrator.picks`)."""
        return self.top.frame

    @property
    def selection_note(self) -> str | None:
        """Why there is no top-k yet (None when there is one)."""
        return self.top.note

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (NaN -> null)."""
        return {
            "sweep": {"id": self.sweep_id, "name": self.name, "state": self.state},
            "model": self.model,
            "metric": {"name": self.metric, "goal": self.goal},
            "stages": _records(self.stages),
            "top_k": _records(self.picks),
            "top_k_source": self.top.source,
            "top_k_label": self.top.label,
            "selection_note": self.selection_note,
            "validation": self.validation.to_dict() if self.validation else None,
            "correlations": _records(self.correlations),
            "importance": self.importance,
            "findings": self.findings,
        }

    def to_markdown(self) -> str:
        parts = [
            f"# Sweep {self.sweep_id}: {self.name}\n",
            f"Model **{self.model}**, metric **{self.metric}** ({self.goal}), state {self.state}.\n",
            "## Stages\n",
            frame_to_markdown(self.stages),
            "## Top-k configurations\n",
            f"{self.top.label}\n",
            frame_to_markdown(self.picks) if len(self.picks) else f"{self.selection_note}\n",
            "## Validation\n",
            self.validation.to_markdown() if self.validation else "No validation results yet.\n",
            "## Hyperparameters\n",
            frame_to_markdown(self.correlations),
        ]
        if self.importance:
            rows = pd.DataFrame(list(self.importance.items()), columns=["parameter", "importance"])
            parts += ["\nImportance (Optuna PED-ANOVA):\n", frame_to_markdown(rows)]
        parts += ["## Findings\n", "".join(f"- {line}\n" for line in self.findings)]
        return "\n".join(parts)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return list(json.loads(frame.to_json(orient="records")))


def _stage_table(by_stage: Mapping[str, Sequence[TrialSummary]], goal: Goal) -> pd.DataFrame:
    """One row per stage, or per ``stage/variant`` for a stage run with several variants."""
    rows: dict[str, list[TrialSummary]] = {}
    for name, trials in by_stage.items():
        variants = list(dict.fromkeys(t.variant for t in trials))
        for trial in trials:
            rows.setdefault(name if len(variants) < 2 else f"{name}/{trial.variant}", []).append(
                trial
            )
    seconds = {
        k: sum(float(t.extra.get("compute_seconds", 0.0)) for t in v) for k, v in rows.items()
    }
    return stage_summary(rows, goal, seconds)


def build_report(storage: BaseStorage, sweep_id: int) -> SweepReport:
    """The report of one stored sweep (raises KeyError naming an unknown id)."""
    sweep = storage.get_sweep(sweep_id)
    spec = load_spec(storage, sweep_id)
    goal, metric = spec.metric.goal, spec.metric.name
    stages = storage.get_stages(sweep_id)
    by_stage = trials_by_stage(storage, sweep_id)
    # correlations and importance within the selection's stages: values from different subset
    # sizes are not comparable (stage 1's best is stage 3's worst)
    searched = [t for name in selection_sources(spec, by_stage) for t in by_stage.get(name, [])]
    corr = correlations(searched, spec.parameters, goal)
    importance = hyperparameter_importance(searched, spec.parameters, goal)
    ranking = validation_ranking(spec, by_stage)
    table = _stage_table(by_stage, goal)
    lines = findings(table, corr, importance, metric, goal)
    if ranking:
        best = pick_label(ranking.recommended, pick_sources(stages).get(ranking.recommended))
        lines.append(f"Validation recommends {best}. {ranking.verdict}")
    return SweepReport(
        sweep_id=sweep.id,
        name=sweep.name,
        state=sweep.state,
        model=spec.model.name,
        metric=metric,
        goal=goal,
        stages=table,
        top=top_k_of(spec, stages, by_stage),
        validation=ranking,
        correlations=corr,
        importance=importance,
        findings=lines,
    )
