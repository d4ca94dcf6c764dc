"""The hand-off after the search: diversity-aware top-k selection, then multi-seed validation.

Selection reads the chosen stages' trials from the database (default: the last search stage,
both variants), writes ``top<k>_configs_for_validation.csv`` into the sweep folder and stores its
picks in the ``select`` stage's summary. Validation re-trains each pick with every seed on the
validation subset with no early stopping; the runs are keyed ``config<rank>-seed<seed>`` and
named ``config<rank>`` so results group per selected config. The ranking (stages.statistics)
goes into the ``validate`` stage's summary and into ``validation_ranking.{csv,json,md}``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from orchestrator.runner.jobs import Executor, SweepEnv, summaries, validation_job
from orchestrator.runner.searchers import QueuedTrial
from stages.space import Space, space_from_dict
from stages.spec import Stage

SELECT, VALIDATE = "select", "validate"


def run_selection(env: SweepEnv, stages: Sequence[Stage], position: int) -> list[dict[str, Any]]:
    """The picks (stored ones when selection already ran), best first."""
    from stages.export import picks_to_frame, write_csv
    from stages.selection import select_top_k

    record = _record(env, SELECT)
    if record is not None and record.state == "completed" and record.summary:
        return list(record.summary["picks"])
    sel = env.spec.selection
    sources = list(sel.from_stages) or [stages[-1].name]
    by_name = {s.name: s for s in stages}
    candidates = [
        t
        for name in sources
        for t in summaries(env.storage.get_trials(env.sweep.id, stage=name), by_name[name].epochs)
    ]
    space = _stage_space(env, sources[-1])
    picks = select_top_k(
        candidates,
        space,
        k=sel.k,
        goal=env.goal,
        diversity=sel.diversity,
        balance_variants=sel.balance_variants,
        balance_tolerance=sel.balance_tolerance,
        require_full_budget=sel.require_full_budget,
    )
    csv = write_csv(
        picks_to_frame(picks, space, env.metric),
        env.sweep_dir / f"top{sel.k}_configs_for_validation.csv",
    )
    stored = [
        {
            "rank": p.rank,
            "trial_id": p.trial.id,
            "name": p.trial.name,
            "stage": p.trial.stage,
            "variant": p.trial.variant,
            "value": p.trial.value,
            "config": dict(p.trial.config),
            "distance_to_nearest": p.distance_to_nearest,
            "score": _finite_or_none(p.score),
        }
        for p in picks
    ]
    plan = {
        "k": sel.k,
        "from_stages": sources,
        "candidates": len(candidates),
        "workdir": str(env.sweep_dir.parent),
    }
    stage_id = env.storage.upsert_stage(
        env.sweep.id, SELECT, position=position, kind="select", plan=plan, state="running"
    )
    env.storage.set_stage_state(stage_id, "completed", summary={"picks": stored, "csv": str(csv)})
    return stored


def validation_runs(picks: Sequence[dict[str, Any]], seeds: Sequence[int]) -> list[QueuedTrial]:
    """Every pick x every seed, with stable keys (the same after a resume)."""
    return [
        QueuedTrial(
            key=f"config{p['rank']}-seed{seed}",
            config=p["config"],
            seed=seed,
            group=f"config{p['rank']}",
        )
        for p in picks
        for seed in seeds
    ]


def run_validation(
    env: SweepEnv,
    executor: Executor,
    picks: Sequence[dict[str, Any]],
    stages: Sequence[Stage],
    position: int,
) -> dict[str, Any] | None:
    """Train the picks with every seed, rank them; returns the ranking dict (None if cancelled)."""
    record = _record(env, VALIDATE)
    if record is not None and record.state == "completed" and record.summary:
        return dict(record.summary)
    val = env.spec.validation
    epochs = val.epochs or stages[-1].epochs
    runs = validation_runs(picks, val.seeds)
    plan = {
        "subset": val.subset,
        "epochs": epochs,
        "seeds": list(val.seeds),
        "trials": len(runs),
        "configs": {f"config{p['rank']}": p["config"] for p in picks},
        "workdir": str(env.sweep_dir.parent),
    }
    stage_id = env.storage.upsert_stage(
        env.sweep.id, VALIDATE, position=position, kind="validate", plan=plan, state="running"
    )
    env.storage.set_stage_state(stage_id, "running")
    executor.execute(validation_job(env, VALIDATE, stage_id, runs, val.subset, epochs))
    if env.storage.get_sweep(env.sweep.id).state == "cancelled":
        env.storage.set_stage_state(stage_id, "cancelled")
        return None
    ranking = rank(env, [f"config{p['rank']}" for p in picks])
    env.storage.set_stage_state(stage_id, "completed", summary=ranking)
    return ranking


def rank(env: SweepEnv, groups: Sequence[str]) -> dict[str, Any]:
    """Rank the validation runs by config; writes the CSV, JSON and Markdown files."""
    from stages.statistics import rank_validation

    scores: dict[str, list[float]] = {g: [] for g in groups}
    for trial in env.storage.get_trials(env.sweep.id, stage=VALIDATE):
        if (
            trial.name in scores
            and trial.best_value is not None
            and math.isfinite(trial.best_value)
        ):
            scores[trial.name].append(trial.best_value)
    ranking = rank_validation({g: v for g, v in scores.items() if v}, env.goal)
    paths = {ext: env.sweep_dir / f"validation_ranking.{ext}" for ext in ("csv", "json", "md")}
    ranking.to_frame().to_csv(paths["csv"], index=False)
    paths["json"].write_text(json.dumps(ranking.to_dict(), indent=2))
    paths["md"].write_text(ranking.to_markdown())
    return {"ranking": ranking.to_dict(), "files": {k: str(p) for k, p in paths.items()}}


def _stage_space(env: SweepEnv, name: str) -> Space:
    record = _record(env, name)
    return space_from_dict(record.space) if record and record.space else dict(env.spec.parameters)


def _record(env: SweepEnv, name: str) -> Any:
    return next((s for s in env.storage.get_stages(env.sweep.id) if s.name == name), None)


def _finite_or_none(x: float) -> float | None:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None
