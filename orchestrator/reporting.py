"""The sweep report: what the seed log wrote by hand after each stage, built from the database.

:func:`build_report` reads one sweep through :class:`BaseStorage` and runs the pure stage logic
on it: the per-stage table (:func:`stages.analysis.stage_summary`), the diversity-aware top-k
(:func:`stages.selection.select_top_k` with the spec's selection settings), the multi-seed
validation ranking (:func:`stages.statistics.rank_validation`), hyperparameter correlations and
Optuna importances, and findings in plain sentences.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from orchestrator.storage import BaseStorage
from orchestrator.storage.records import StageRecord, TrialRecord
from stages.analysis import correlations, findings, stage_summary
from stages.export import frame_to_markdown, picks_to_frame
from stages.selection import Pick, select_top_k
from stages.space import Categorical, Numeric, Space
from stages.spec import Goal, SweepSpec
from stages.statistics import ValidationRanking, rank_validation
from stages.trials import TrialSummary

# keys of a validation trial's config that vary per seed, not per config
_SEED_KEYS = ("seed",)


def load_spec(storage: BaseStorage, sweep_id: int) -> SweepSpec:
    """The sweep's frozen spec (stored as JSON in ``sweeps.spec``)."""
    from orchestrator.spec import spec_from_dict

    return spec_from_dict(storage.get_sweep(sweep_id).spec)


def to_summary(record: TrialRecord, stage: StageRecord) -> TrialSummary:
    """Database trial -> the stage logic's view; the budget is the stage plan's ``epochs``."""
    max_epochs = stage.plan.get("epochs")
    return TrialSummary(
        id=record.id,
        config=record.config,
        value=record.best_value,
        name=record.name,
        stage=record.stage_name,
        variant=record.variant,
        status=record.status,
        epochs=record.epochs,
        max_epochs=int(max_epochs) if max_epochs is not None else None,
        extra={"seed": record.seed, "kind": stage.kind, "compute_seconds": record.compute_seconds},
    )


def trials_by_stage(storage: BaseStorage, sweep_id: int) -> dict[str, list[TrialSummary]]:
    """Every stage's trials, keyed by stage name, in stage order."""
    out: dict[str, list[TrialSummary]] = {}
    for stage in storage.get_stages(sweep_id):
        records = storage.get_trials(sweep_id, stage=stage.name)
        out[stage.name] = [to_summary(r, stage) for r in records]
    return out


def _kind(trials: Sequence[TrialSummary]) -> str:
    return str(trials[0].extra.get("kind", "search")) if trials else "search"


def _search_stages(by_stage: Mapping[str, Sequence[TrialSummary]]) -> list[str]:
    return [name for name, trials in by_stage.items() if trials and _kind(trials) == "search"]


def _candidates(
    spec: SweepSpec, by_stage: Mapping[str, Sequence[TrialSummary]]
) -> list[TrialSummary]:
    names = list(spec.selection.from_stages) or _search_stages(by_stage)[-1:]
    return [t for name in names for t in by_stage.get(name, [])]


def select_for_sweep(
    spec: SweepSpec, by_stage: Mapping[str, Sequence[TrialSummary]], k: int | None = None
) -> list[Pick]:
    """The spec's selection (``k`` overrides its k) over its ``from_stages`` (default: the last
    search stage), normalised over the sweep's original parameters."""
    sel = spec.selection
    return select_top_k(
        _candidates(spec, by_stage),
        spec.parameters,
        k=k or sel.k,
        goal=spec.metric.goal,
        diversity=sel.diversity,
        balance_variants=sel.balance_variants,
        balance_tolerance=sel.balance_tolerance,
        require_full_budget=sel.require_full_budget,
    )


def top_k_for_sweep(
    storage: BaseStorage, sweep_id: int, k: int | None = None
) -> tuple[list[Pick], pd.DataFrame]:
    """Picks and their table (:func:`stages.export.picks_to_frame`) for a stored sweep."""
    spec = load_spec(storage, sweep_id)
    picks = select_for_sweep(spec, trials_by_stage(storage, sweep_id), k)
    return picks, picks_to_frame(picks, spec.parameters, metric=spec.metric.name)


def _distribution(param: Numeric | Categorical, values: list[Any]) -> Any:
    """stages.space -> an Optuna distribution wide enough for every observed value."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(param, Categorical):
        return CategoricalDistribution(tuple(dict.fromkeys([*param.values, *values])))
    numbers = [float(v) for v in values]
    low, high = min([param.low, *numbers]), max([param.high, *numbers])
    if param.integer and all(x.is_integer() for x in numbers):
        return IntDistribution(int(math.floor(low)), int(math.ceil(high)), log=param.log)
    return FloatDistribution(low, high, log=param.log)


def _usable(param: Numeric | Categorical, value: Any) -> bool:
    if isinstance(param, Categorical):
        return value is None or isinstance(value, (bool, int, float, str))
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    return numeric and math.isfinite(value) and (not param.log or value > 0)


def _importance_inputs(
    trials: Sequence[TrialSummary], space: Space
) -> tuple[dict[str, Any], list[TrialSummary]]:
    params = {n: p for n, p in space.items() if isinstance(p, (Numeric, Categorical))}
    # an in-memory study needs valid values: keep trials that have every parameter, usable
    scored = [
        t
        for t in trials
        if t.value is not None
        and math.isfinite(t.value)
        and all(n in t.config and _usable(p, t.config[n]) for n, p in params.items())
    ]
    dists = {n: _distribution(p, [t.config[n] for t in scored]) for n, p in params.items()}
    return dists, scored


def hyperparameter_importance(
    trials: Sequence[TrialSummary], space: Space, goal: Goal
) -> dict[str, float]:
    """Optuna's default importances (PED-ANOVA: deterministic, no scikit-learn, which fANOVA
    needs), summing to 1, most important first, over trials that have a finite value and every
    searchable parameter. Empty with fewer than 2 such trials, no searchable parameter, or a
    metric that never varies. PED-ANOVA asks what sets the goal's best trials apart, so the
    goal matters."""
    import optuna

    dists, scored = _importance_inputs(trials, space)
    if len(scored) < 2 or not dists or len({t.value for t in scored}) < 2:
        return {}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # "A new study created" is noise here
    try:
        study = optuna.create_study(direction=goal)
        for t in scored:
            params = {n: t.config[n] for n in dists}
            study.add_trial(
                optuna.trial.create_trial(params=params, distributions=dists, value=t.value)
            )
        result = optuna.importance.get_param_importances(study)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return {name: float(v) for name, v in result.items() if math.isfinite(v)}


def _config_key(config: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in config.items() if k not in _SEED_KEYS}, sort_keys=True)


def _label(config: Mapping[str, Any], named: Sequence[TrialSummary], space: Space, i: int) -> str:
    """The name of the search trial whose searchable values this config repeats."""
    keys = [n for n, p in space.items() if isinstance(p, (Numeric, Categorical))]
    for trial in named:
        if trial.name and all(trial.config.get(k) == config.get(k) for k in keys):
            return trial.name
    return f"config {i}"


def validation_scores(
    validation: Sequence[TrialSummary], named: Sequence[TrialSummary], space: Space
) -> dict[str, list[float]]:
    """Validation trials grouped by config (without the seed) -> their finite best values,
    labelled with the search trial they validate (first match in ``named``)."""
    groups: dict[str, list[TrialSummary]] = {}
    for trial in validation:
        groups.setdefault(_config_key(trial.config), []).append(trial)
    scores: dict[str, list[float]] = {}
    for i, members in enumerate(groups.values(), start=1):
        values = [t.value for t in members if t.value is not None and math.isfinite(t.value)]
        if values:
            scores[_label(members[0].config, named, space, i)] = values
    return scores


def validation_ranking(
    spec: SweepSpec, by_stage: Mapping[str, Sequence[TrialSummary]], picks: Sequence[Pick]
) -> ValidationRanking | None:
    """The ranking of the ``validate`` stages' trials; None when none has a value yet."""
    validation = [t for trials in by_stage.values() if _kind(trials) == "validate" for t in trials]
    named = [p.trial for p in picks] + [t for n in _search_stages(by_stage) for t in by_stage[n]]
    scores = validation_scores(validation, named, spec.parameters)
    return rank_validation(scores, spec.metric.goal) if scores else None


@dataclass(frozen=True)
class SweepReport:
    """Everything ``rungs report`` shows (importance: :func:`hyperparameter_importance`). ``picks`` is empty (with ``selection_note`` saying why)
    until a search stage has eligible trials; ``validation`` is None until validation runs."""

    sweep_id: int
    name: str
    state: str
    model: str
    metric: str
    goal: Goal
    stages: pd.DataFrame
    picks: pd.DataFrame
    selection_note: str | None
    validation: ValidationRanking | None
    correlations: pd.DataFrame
    importance: dict[str, float]
    findings: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (NaN -> null)."""
        return {
            "sweep": {"id": self.sweep_id, "name": self.name, "state": self.state},
            "model": self.model,
            "metric": {"name": self.metric, "goal": self.goal},
            "stages": _records(self.stages),
            "top_k": _records(self.picks),
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


def _selection(
    spec: SweepSpec, by_stage: Mapping[str, Sequence[TrialSummary]]
) -> tuple[list[Pick], str | None]:
    try:
        return select_for_sweep(spec, by_stage), None
    except ValueError as exc:  # no eligible candidates yet
        return [], f"No top-k yet: {exc}."


def build_report(storage: BaseStorage, sweep_id: int) -> SweepReport:
    """The report of one stored sweep (raises KeyError naming an unknown id)."""
    sweep = storage.get_sweep(sweep_id)
    spec = load_spec(storage, sweep_id)
    goal, metric = spec.metric.goal, spec.metric.name
    by_stage = trials_by_stage(storage, sweep_id)
    picks, note = _selection(spec, by_stage)
    # correlations and importance within the selection's stages: values from different subset
    # sizes are not comparable (stage 1's best is stage 3's worst)
    searched = _candidates(spec, by_stage)
    corr = correlations(searched, spec.parameters, goal)
    importance = hyperparameter_importance(searched, spec.parameters, goal)
    ranking = validation_ranking(spec, by_stage, picks)
    table = _stage_table(by_stage, goal)
    lines = findings(table, corr, importance, metric, goal)
    if ranking:
        lines.append(f"Validation recommends {ranking.recommended}. {ranking.verdict}")
    return SweepReport(
        sweep_id=sweep.id,
        name=sweep.name,
        state=sweep.state,
        model=spec.model.name,
        metric=metric,
        goal=goal,
        stages=table,
        picks=picks_to_frame(picks, spec.parameters, metric=metric),
        selection_note=note,
        validation=ranking,
        correlations=corr,
        importance=importance,
        findings=lines,
    )
