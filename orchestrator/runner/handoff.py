"""The hand-off after the search: diversity-aware top-k selection, then multi-seed validation.

Selection reads the chosen stages' trials from the database (default: the last search stage,
both variants), writes ``top<k>_configs_for_validation.csv`` into the sweep folder and stores its
picks in the ``select`` stage's summary. Validation re-trains each pick with every seed on the
validation subset with no early stopping; the runs are keyed ``config<rank>-seed<seed>`` and
named ``config<rank>`` so results group per selected config. The ranking (stages.statistics)
goes into the ``validate`` stage's summary and into ``validation_ranking.{csv,json,md}``.
With ``validation.racing`` the seeds run in rounds and confidently worse picks stop early
(:mod:`orchestrator.runner.racing`); the race's drops and savings go into the summary too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from orchestrator.picks import (
    SELECT,
    picks_table,
    select_picks,
    selection_sources,
    stored_from_picks,
)
from orchestrator.reporting import validation_scores
from orchestrator.runner.jobs import Executor, SweepEnv, summaries, validation_job
from orchestrator.runner.racing import run_race
from orchestrator.runner.searchers import QueuedTrial
from orchestrator.stored_trials import trials_by_stage
from stages.racing import race_caveats
from stages.selection import pick_name
from stages.spec import Stage
from stages.states import StageState

VALIDATE = "validate"


def run_selection(env: SweepEnv, position: int) -> list[dict[str, Any]]:
    """The picks (stored ones when selection already ran), best first. Selection is
    :func:`orchestrator.picks.select_picks`, the rule every surface's preview uses too."""
    from stages.export import write_csv

    record = _record(env, SELECT)
    if record is not None and record.state == StageState.COMPLETED and record.summary:
        return list(record.summary["picks"])
    sel = env.spec.selection
    by_stage = trials_by_stage(env.storage, env.sweep.id)
    picks = select_picks(env.spec, env.storage.get_stages(env.sweep.id), by_stage)
    csv = write_csv(
        picks_table(picks, env.spec), env.sweep_dir / f"top{sel.k}_configs_for_validation.csv"
    )
    sources = selection_sources(env.spec, by_stage)
    plan = {
        "k": sel.k,
        "from_stages": sources,
        "candidates": sum(len(by_stage.get(name, [])) for name in sources),
        "workdir": str(env.sweep_dir.parent),
    }
    stage_id = env.storage.upsert_stage(
        env.sweep.id, SELECT, position=position, kind="select", plan=plan, state=StageState.RUNNING
    )
    stored = stored_from_picks(picks)
    summary = {"picks": stored, "csv": str(csv)}
    env.storage.set_stage_state(stage_id, StageState.COMPLETED, summary=summary)
    return stored


def validation_runs(picks: Sequence[dict[str, Any]], seeds: Sequence[int]) -> list[QueuedTrial]:
    """Every pick x every seed, with stable keys (the same after a resume)."""
    return [
        QueuedTrial(
            key=f"{pick_name(p['rank'])}-seed{seed}",
            config=p["config"],
            seed=seed,
            group=pick_name(p["rank"]),
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
    if record is not None and record.state == StageState.COMPLETED and record.summary:
        return dict(record.summary)
    val = env.spec.validation
    epochs = val.epochs or stages[-1].epochs
    runs = validation_runs(picks, val.seeds)
    plan = {
        "subset": val.subset,
        "epochs": epochs,
        "seeds": list(val.seeds),
        "trials": len(runs),
        "configs": {pick_name(p["rank"]): p["config"] for p in picks},
        "workdir": str(env.sweep_dir.parent),
    }
    stage_id = env.storage.upsert_stage(
        env.sweep.id,
        VALIDATE,
        position=position,
        kind="validate",
        plan=plan,
        state=StageState.RUNNING,
    )
    env.storage.set_stage_state(stage_id, StageState.RUNNING)
    race = None
    if val.racing:  # seeds in rounds, confidently worse picks dropped (orchestrator.runner.racing)
        shape = (val.subset, epochs)
        race = run_race(env, executor, (VALIDATE, stage_id), picks, shape, validation_runs)
    else:
        executor.execute(validation_job(env, VALIDATE, stage_id, runs, val.subset, epochs))
    if env.stopped() or (val.racing and race is None):
        env.storage.set_stage_state(stage_id, StageState.CANCELLED)
        return None
    caveats = race_caveats(race) if race else []
    ranking = rank(env, [pick_name(p["rank"]) for p in picks], caveats)
    if race is not None:
        ranking["racing"] = race.to_dict()
    env.storage.set_stage_state(stage_id, StageState.COMPLETED, summary=ranking)
    return ranking


def rank(env: SweepEnv, groups: Sequence[str], caveats: Sequence[str] = ()) -> dict[str, Any]:
    """Rank the validation runs by config; writes the CSV, JSON and Markdown files."""
    from stages.statistics import rank_validation

    runs = summaries(env.storage.get_trials(env.sweep.id, stage=VALIDATE), None)
    scores = {g: v for g, v in validation_scores(runs).items() if g in groups}
    ranking = rank_validation(scores, env.goal)
    ranking = replace(ranking, caveats=(*ranking.caveats, *caveats))
    paths = {ext: env.sweep_dir / f"validation_ranking.{ext}" for ext in ("csv", "json", "md")}
    ranking.to_frame().to_csv(paths["csv"], index=False)
    paths["json"].write_text(json.dumps(ranking.to_dict(), indent=2))
    paths["md"].write_text(ranking.to_markdown())
    return {"ranking": ranking.to_dict(), "files": {k: str(p) for k, p in paths.items()}}


def _record(env: SweepEnv, name: str) -> Any:
    return next((s for s in env.storage.get_stages(env.sweep.id) if s.name == name), None)
