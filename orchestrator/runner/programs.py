"""Trials of a user's own training script (``program:`` in the sweep file).

The trainer (:mod:`trainers.program`) runs the script the way ``wandb agent`` does; this module
gives it what only the runner knows:

* the trial's :class:`~trainers.api.ProgramRequest`: its log folder
  ``<sweep folder>/logs/<stage>/<trial key>/`` (stdout.log, stderr.log, the pid file, W&B's
  offline files), ``RUNGS_CPUS`` and ``CUDA_VISIBLE_DEVICES`` from what Ray assigned, and the
  sweep's ``wandb`` block as the program's ``WANDB_*`` variables;
* W&B's nested parameters as nested dicts (:func:`program_hparams`);
* :class:`MetricReports`: only reports holding the sweep metric go to Ray (the other keys
  logged since ride along with the next one), so one stored step is one iteration, as in
  W&B's hyperband;
* :func:`kill_leftovers`: what a killed run left running, before a stage continues;
* :func:`first_command`: the command line of the sweep's first trial, for the plan.
"""

from __future__ import annotations

import math
import os
import shlex
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from orchestrator.paths import safe_child, slug
from stages.spec import Goal, Program, SweepSpec
from trainers.api import DataRequest, ProgramRequest, Reporter, TrialRequest
from trainers.program.process import kill_leftover
from trainers.program.trainer import (
    ARGS_JSON_FILE,
    SWEEP_CONFIG_FILE,
    command_line,
    program_environment,
    program_parameters,
)

LOGS = "logs"
_WANDB_VARIABLES = {
    "project": "WANDB_PROJECT",
    "entity": "WANDB_ENTITY",
    "group": "WANDB_RUN_GROUP",
}


def trial_log_dir(sweep_dir: str | Path, stage: str, key: str) -> Path:
    """``<sweep folder>/logs/<stage>/<trial key>``; names pass through :func:`slug`."""
    return safe_child(
        sweep_dir, Path(LOGS, slug(stage, fallback="stage"), slug(key, fallback="trial"))
    )


def program_hparams(program: Program, flat: Mapping[str, Any]) -> dict[str, Any]:
    """The trial's parameters as W&B gives them to a program: a nested parameter
    (``optimizer.lr`` from ``optimizer: {parameters: {lr: ...}}``) inside a dict under its
    top-level name, a dotted name written as such unchanged."""
    out: dict[str, Any] = {}
    for name, value in flat.items():
        path = program.nested.get(name)
        if path is None:
            out[name] = value
            continue
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def wandb_environment(block: Mapping[str, Any] | None) -> dict[str, str]:
    """The program's W&B variables from the sweep's ``wandb`` block: its mode (``offline``
    unless the file says otherwise; ``wandb: false`` is ``disabled``: ``wandb.init`` and
    ``wandb.config`` still work, nothing is written), project, entity and group."""
    if block is None:
        return {"WANDB_MODE": "disabled"}
    env = {"WANDB_MODE": str(block.get("mode", "offline"))}
    env |= {var: str(block[key]) for key, var in _WANDB_VARIABLES.items() if block.get(key)}
    return env


def resource_environment(cpus: float, gpus: float, gpu_ids: Sequence[Any]) -> dict[str, str]:
    """What Ray assigned the trial: its CPUs, and its GPUs as ``CUDA_VISIBLE_DEVICES`` (empty
    for a CPU trial, so a program never takes a GPU nobody gave it). Fractional GPUs share an
    id: several programs on one GPU."""
    return {
        "RUNGS_CPUS": f"{cpus:g}",
        "CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in gpu_ids) if gpus > 0 else "",
    }


@dataclass(frozen=True)
class ProgramTrials:
    """What every program trial of one stage shares (part of the stage's TrialContext)."""

    program: Program
    sweep_dir: str
    metric: str
    goal: Goal
    sweep: str
    stage: str
    wandb_env: Mapping[str, str] = field(default_factory=dict)
    cpus: float = 1.0
    gpus: float = 0.0
    # the program's folder reached the nodes as Ray's working_dir: it runs in the worker's copy
    shipped: bool = False

    def request(self, base: TrialRequest, key: str, gpu_ids: Sequence[Any] = ()) -> TrialRequest:
        """``base`` (the trial's flat hparams, subset, epochs, seed) with its program to run."""
        log_dir = trial_log_dir(self.sweep_dir, self.stage, key)
        extra_env = {
            **self.wandb_env,
            **resource_environment(self.cpus, self.gpus, gpu_ids),
        }
        program = ProgramRequest(
            program=self._path(),
            workdir=os.getcwd() if self.shipped else self.program.workdir,
            metric=self.metric,
            goal=self.goal,
            log_dir=str(log_dir),
            command=self.program.command,
            program_parameters=dict(self.program.parameters),
            grace_seconds=self.program.grace_seconds,
            extra_env=extra_env,
            sweep=self.sweep,
            stage=self.stage,
            trial=key,
        )
        hparams = program_hparams(self.program, base.hparams)
        return replace(base, hparams=hparams, program=program, checkpoint_dir=None)

    def _path(self) -> str:
        """``program`` as written, except that an absolute one inside the shipped folder names
        the node's copy (the original path exists only on the machine that submitted it)."""
        path, folder = self.program.path, self.program.workdir
        if self.shipped and os.path.isabs(path) and Path(folder) in Path(path).parents:
            return os.path.relpath(path, folder)
        return path


class MetricReports:
    """Passes on only the reports that hold ``metric``, each with the other keys logged since
    the previous one (a program that logs its loss every batch and its metric every epoch gives
    one report per epoch). What follows the last metric report is dropped: it is no iteration."""

    def __init__(self, inner: Reporter, metric: str) -> None:
        self.inner, self.metric = inner, metric
        self.pending: dict[str, float] = {}

    def report(self, metrics: Mapping[str, float], checkpoint_dir: Path | None = None) -> None:
        self.pending.update(metrics)
        if self.metric in metrics:
            merged, self.pending = self.pending, {}
            self.inner.report(merged, checkpoint_dir)


def kill_leftovers(log_dirs: Iterable[Path], grace_seconds: float) -> list[Path]:
    """Kill what earlier runs of these trials left running (a ``kill -9`` of ``rungs run``
    leaves a program whose launcher died); the folders where something was killed."""
    return [folder for folder in log_dirs if kill_leftover(folder, grace_seconds)]


def first_command(spec: SweepSpec, sweep_dir: str = "/<sweep folder>") -> list[str]:
    """The command line of the sweep's first trial (the first proposal of stage 1's first
    variant, as the searcher picks them), built as a trial builds it; only
    ``${args_json_file}`` names a placeholder folder."""
    from orchestrator.runner.proposers import make_proposer

    assert spec.program is not None, "first_command needs a program sweep"
    stage = spec.stages[0]
    variants = stage.effective_variants()
    variant = max(variants, key=lambda v: v.trials)  # the searcher's first pick
    seed = spec.seed + variants.index(variant)  # the proposer seed of stage 1's variant
    proposer = make_proposer(stage.method, dict(spec.parameters), spec.metric.goal, seed)
    trials = ProgramTrials(
        spec.program,
        sweep_dir,
        spec.metric.name,
        spec.metric.goal,
        spec.name,
        stage.name,
        wandb_environment(spec.wandb),
        spec.resources.cpus_per_trial,
        spec.resources.gpus_per_trial,
    )
    base = TrialRequest(
        model=spec.model.name,
        preset=spec.model.preset,
        hparams={**spec.model.fixed, **(proposer.ask() or {})},
        data=DataRequest(),
        subset_size=stage.subset,
        epochs=stage.epochs,
        seed=spec.seed,
    )
    request = trials.request(base, f"{variant.name}-000", gpu_ids=[0] * math.ceil(trials.gpus))
    assert request.program is not None
    log_dir = Path(request.program.log_dir)
    env = program_environment(request, log_dir / SWEEP_CONFIG_FILE)
    params = program_parameters(request)
    return command_line(request.program, params, env, log_dir / ARGS_JSON_FILE)


def plan_lines(spec: SweepSpec) -> list[str]:
    """What ``rungs validate`` prints about a program sweep."""
    assert spec.program is not None
    program = spec.program
    line = shlex.join(first_command(spec))
    return [
        f"program {program.path} in {program.workdir}",
        f"  first trial: {line}",
        f"  (the trainer's Python: {sys.executable}; logs in <sweep folder>/{LOGS}/<stage>/<trial>)",
    ]
