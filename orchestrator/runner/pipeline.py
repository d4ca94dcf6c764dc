"""Run a stored sweep's progressive pipeline: search stages -> select -> validate.

The two entry points: :func:`run_sweep` runs a sweep, :func:`resume_sweep` first checks that a
sweep may resume and then runs it the same way. Resuming needs no code of its own because every
step first reads what the database already holds: completed stages are skipped; an interrupted
stage continues (see :mod:`.history`); selection is recomputed only when its stage record is not
completed (its picks are stored in the summary, so validation re-runs exactly the same configs
under the same keys).

Stage records: search stages at positions 0..n-1 (kind ``search``, space stored), then
``select`` (kind ``select``) and ``validate`` (kind ``validate``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.paths import safe_child, slug
from orchestrator.runner.executor import RayExecutor
from orchestrator.runner.handoff import run_selection, run_validation
from orchestrator.runner.heartbeat import held_lease
from orchestrator.runner.jobs import Executor, SweepEnv, never, search_job, summaries
from orchestrator.storage.base import BaseStorage
from orchestrator.storage.records import StageRecord
from orchestrator.storage.retrying import failure_text, retrying
from orchestrator.storage.settings import data_dir
from orchestrator.sweepfile import spec_from_dict
from orchestrator.sweepfile.stage_blocks import DEFAULT_EPOCHS, DEFAULT_SUBSET, DEFAULT_TRIALS
from stages.fidelity import shared_trials, trial_share
from stages.narrowing import NarrowedSpace, narrow_for_stage
from stages.space import space_from_dict, space_to_dict
from stages.spec import Stage, SweepSpec
from stages.states import StageState, SweepState

WORKDIR_ENV = "RUNGS_WORKDIR"


def default_workdir() -> Path:
    """``$RUNGS_WORKDIR``, else ``<rungs data dir>/sweeps`` (next to the default database)."""
    if os.environ.get(WORKDIR_ENV):
        return Path(os.environ[WORKDIR_ENV]).expanduser().absolute()
    return data_dir() / "sweeps"


def sweep_folder(workdir: Path, sweep_id: int, name: str) -> Path:
    """``<workdir>/sweep-0007-<slug of the name>``: the id makes it unique, the slug readable.
    The name is the user's (the API's clients included): it never becomes a path."""
    return safe_child(workdir, f"sweep-{sweep_id:04d}-{slug(name)}")


def run_sweep(
    storage: BaseStorage,
    sweep_id: int,
    *,
    ray_address: str | None = None,
    progress: bool = True,
    workdir: str | Path | None = None,
    executor: Executor | None = None,
    num_cpus: int | None = None,
    owner: str | None = None,
) -> None:
    """Run (or continue) the sweep to the end; the sweep state ends ``completed``, ``failed``
    (the error stored, then re-raised), ``interrupted`` (Ctrl-C, SIGTERM) or ``cancelled``.

    The run holds the sweep's lease as ``owner`` (default ``host:pid``; see :mod:`.heartbeat`):
    it raises :class:`~orchestrator.runner.heartbeat.LeaseHeld` when another live process runs
    the sweep, stops when the lease is lost and then leaves the sweep's state to whoever moved
    it. Every database call waits out a short outage (:mod:`orchestrator.storage.retrying`)."""
    storage = retrying(storage)
    with held_lease(storage, sweep_id, owner) as lease:
        try:
            env = make_env(storage, sweep_id, workdir, progress, should_stop=lease.should_stop)
            run_pipeline(env, executor or RayExecutor(ray_address, num_cpus=num_cpus))
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            state = SweepState.INTERRUPTED if interrupted else SweepState.FAILED
            lease.finish(state, error=failure_text(exc))
            raise
        lease.finish(SweepState.CANCELLED if cancelled(env) else SweepState.COMPLETED)


def resume_sweep(
    storage: BaseStorage,
    sweep_id: int,
    *,
    ray_address: str | None = None,
    progress: bool = True,
    **kw: Any,
) -> None:
    """Continue a sweep that did not finish: :func:`run_sweep`, once the sweep's state allows
    the move to running (a completed sweep does not; a ``running`` one that a killed process
    left behind does, once its lease expired or its owner is a dead process of this host)."""
    sweep = storage.get_sweep(sweep_id)
    if not SweepState(sweep.state).can_become(SweepState.RUNNING):
        resumable = [s.value for s in SweepState.leading_to(SweepState.RUNNING)]
        raise ValueError(
            f"sweep {sweep_id} is {sweep.state}; only sweeps in {resumable} can resume"
        )
    run_sweep(storage, sweep_id, ray_address=ray_address, progress=progress, **kw)


def make_env(
    storage: BaseStorage,
    sweep_id: int,
    workdir: str | Path | None,
    progress: bool,
    should_stop: Callable[[], bool] = never,
) -> SweepEnv:
    sweep = storage.get_sweep(sweep_id)
    spec = spec_from_dict(sweep.spec)
    base = (
        Path(workdir).absolute()
        if workdir
        else stored_workdir(storage, sweep_id) or default_workdir()
    )
    folder = sweep_folder(base, sweep_id, sweep.name)
    folder.mkdir(parents=True, exist_ok=True)
    return SweepEnv(
        storage,
        sweep,
        spec,
        folder,
        cache_dir=base / "cache",
        progress=progress,
        should_stop=should_stop,
    )


def stored_workdir(storage: BaseStorage, sweep_id: int) -> Path | None:
    """The workdir an earlier run of this sweep used (kept in every stage plan), for resume."""
    for stage in storage.get_stages(sweep_id):
        if stage.plan.get("workdir"):
            return Path(stage.plan["workdir"])
    return None


def cancelled(env: SweepEnv) -> bool:
    return env.stopped()


def search_stages(spec: SweepSpec) -> tuple[Stage, ...]:
    """The spec's stages; a spec without any (hand-built: the parser always gives one) is one
    stage over the whole budget, with the parser's defaults."""
    if spec.stages:
        return spec.stages
    return (
        Stage(
            name="sweep",
            subset=DEFAULT_SUBSET,
            trials=spec.run_cap or DEFAULT_TRIALS,
            epochs=DEFAULT_EPOCHS,
            method=spec.method,
            early_terminate=spec.early_terminate,
        ),
    )


def run_pipeline(env: SweepEnv, executor: Executor) -> None:
    stages = search_stages(env.spec)
    for position, stage in enumerate(stages):
        run_search_stage(env, executor, position, stage)
        if cancelled(env):
            return
    picks = run_selection(env, position=len(stages))
    if env.spec.validation.enabled and picks and not cancelled(env):
        run_validation(env, executor, picks, stages, position=len(stages) + 1)


def run_search_stage(env: SweepEnv, executor: Executor, position: int, stage: Stage) -> None:
    record = _stage_record(env, stage.name)
    if record is not None and record.state == StageState.COMPLETED:
        return
    derived = stage_space(env, stage, record)
    if env.progress and derived.summary and record is None:
        print(f"[{stage.name}] {derived.summary}", file=sys.stderr, flush=True)
    space = derived.space
    planned = planned_trials(stage, record, derived)
    if env.progress and record is None and planned.total_trials != stage.total_trials:
        print(
            f"[{stage.name}] {planned.total_trials} of {stage.total_trials} trials: "
            f"{derived.agreement.describe() if derived.agreement else ''} (trials_by_agreement)",
            file=sys.stderr,
            flush=True,
        )
    stage = planned
    plan = stage_plan(env, stage, derived)
    stage_id = env.storage.upsert_stage(
        env.sweep.id,
        stage.name,
        position=position,
        kind="search",
        plan=plan,
        space=space_to_dict(space),
        state=StageState.RUNNING,
    )
    env.storage.set_stage_state(stage_id, StageState.RUNNING)  # stamps started_at
    warm = _source_trials(env, stage) if stage.narrow_from else []
    job = search_job(env, position, stage, stage_id, space, warm)
    executor.execute(job)
    if cancelled(env):
        env.storage.set_stage_state(stage_id, StageState.CANCELLED)
        return
    summary = stage_summary(env, stage.name)
    env.storage.set_stage_state(stage_id, StageState.COMPLETED, summary=summary)


def planned_trials(stage: Stage, record: StageRecord | None, derived: NarrowedSpace) -> Stage:
    """The stage with the trial counts it runs: those stored when it ran before (a resume
    keeps a cut it made), else, with ``narrowing.trials_by_agreement`` and a measured
    agreement, its counts x :func:`stages.fidelity.trial_share`."""
    stored = (record.plan or {}).get("variants") if record is not None else None
    if stored:
        return stage.with_trials({v["name"]: int(v["trials"]) for v in stored})
    if stage.narrowing.trials_by_agreement and derived.agreement is not None:
        counts = {v.name: v.trials for v in stage.effective_variants()}
        return stage.with_trials(shared_trials(counts, trial_share(derived.agreement.rho)))
    return stage


def stage_space(env: SweepEnv, stage: Stage, record: StageRecord | None) -> NarrowedSpace:
    """The stored space when the stage ran before (resume), else narrowed from ``narrow_from``'s
    trials (:func:`stages.narrowing.narrow_for_stage`), else the sweep's full space.

    Narrowing is always measured against the sweep's *original* space (margins and the minimum
    width are fractions of the original ranges), not the source stage's already narrowed one:
    narrowing a narrowed space compounds (stage 3 ends at a few percent of each range), which
    loses ~0.3 dB on the ``sim-seed004`` simulator: the optimum ends up outside stage 3's space
    (benchmarks/results/RESULTS_sample_efficiency.md)."""
    if record is not None and record.space:
        plan = record.plan or {}
        return NarrowedSpace(
            space_from_dict(record.space),
            dict(plan.get("narrowing_notes", {})),
            summary=plan.get("space_summary", ""),
        )
    if not stage.narrow_from:
        return NarrowedSpace(dict(env.spec.parameters), {})
    source = _stage_record(env, stage.narrow_from)
    if source is None or not source.space:
        raise RuntimeError(
            f"stage {stage.name!r} narrows from {stage.narrow_from!r}, which has not run"
        )
    earlier = env.spec.agreement_stage(stage)
    return narrow_for_stage(
        dict(env.spec.parameters),
        _source_trials(env, stage),
        _trials_of(env, earlier) if earlier else [],
        stage.narrowing,
        env.goal,
        names=(stage.narrow_from, earlier or ""),
    )


def _source_trials(env: SweepEnv, stage: Stage) -> list[Any]:
    assert stage.narrow_from is not None
    return _trials_of(env, stage.narrow_from)


def _trials_of(env: SweepEnv, name: str) -> list[Any]:
    budget = env.spec.budget_epochs(env.spec.stage(name))
    return summaries(env.storage.get_trials(env.sweep.id, stage=name), budget)


def stage_plan(env: SweepEnv, stage: Stage, derived: NarrowedSpace) -> dict[str, Any]:
    variants = [{"name": v.name, "trials": v.trials} for v in stage.effective_variants()]
    return {
        "subset": stage.subset,
        "epochs": stage.epochs,
        "budget": env.spec.budget_epochs(stage),  # None: a program decides its iterations
        "method": stage.method,
        "trials": stage.total_trials,
        "variants": variants,
        "narrow_from": stage.narrow_from,
        "narrowing_notes": derived.notes,
        "space_summary": derived.summary,
        "workdir": str(env.sweep_dir.parent),
        "sweep_dir": str(env.sweep_dir),
    }


def stage_summary(env: SweepEnv, stage: str) -> dict[str, Any]:
    trials = env.storage.get_trials(env.sweep.id, stage=stage)
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.status] = counts.get(t.status, 0) + 1
    values = [t.best_value for t in trials if t.best_value is not None]
    best = (max if env.goal == "maximize" else min)(values) if values else None
    return {"trials": len(trials), "statuses": counts, "best_value": best}


def _stage_record(env: SweepEnv, name: str) -> StageRecord | None:
    return next((s for s in env.storage.get_stages(env.sweep.id) if s.name == name), None)
