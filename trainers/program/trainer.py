"""A user's training program as a trainer: :func:`run_trial` for requests with ``program`` set.

The program runs as ``wandb agent`` would run it (:mod:`trainers.program.command`), with the
trial's parameters on its command line and in ``wandb.config``: the trainer writes them where
the agent does, a YAML file named by ``WANDB_SWEEP_PARAM_PATH``, which ``wandb.init`` reads
(offline too) and locks against the program's own updates, as under the agent. Its parameters
are the trial's hyperparameters plus the stage's values under the names of
``program_parameters`` (``subset`` -> ``--train_samples=2000``, ``epochs``, ``seed``).

Its environment is the worker's, without ``WANDB_SERVICE`` (as the agent does), plus
``WANDB_MODE=offline``, ``WANDB_DIR`` = the log folder, ``RUNGS_SWEEP``, ``RUNGS_STAGE``,
``RUNGS_TRIAL``, ``RUNGS_SUBSET``, ``RUNGS_EPOCHS``, ``RUNGS_SEED``, then the request's
``extra_env`` over all of it (``CUDA_VISIBLE_DEVICES``; ``WANDB_MODE=disabled`` for no W&B
files and no W&B process, reports and ``wandb.config`` still work; ``online`` to sync).

Outcomes: every report is passed to the reporter (:mod:`trainers.program.reports` says how
iterations count); a NaN or infinite metric ends the run ``diverged``; a non-zero exit raises
:class:`ProgramFailed` with the end of stderr (``out of memory: ...`` when it was); an exit 0
that never reported the metric raises ``ProgramFailed("reported no <metric>...")``. When the
reporter raises (Ray stopping the trial), the program's whole process group is killed before
the exception goes on. ``checkpoint_dir``, ``resume_from`` and ``device`` do not apply.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from trainers.api import ProgramRequest, Reporter, Status, TrialOutcome, TrialRequest
from trainers.program.command import args_json, build_command, ordered
from trainers.program.failures import ProgramFailed, failure_reason
from trainers.program.process import RunningProgram, kill_leftover, launch
from trainers.program.reports import PREFIX, MetricTracker, ReportError

PARAMETER_KEYS = ("subset", "epochs", "seed")
SWEEP_CONFIG_FILE = "wandb_sweep_config.yaml"  # what WANDB_SWEEP_PARAM_PATH names
ARGS_JSON_FILE = "args.json"  # what ${args_json_file} names
_WANDB_LINES = ("wandb:",)  # W&B's own shutdown lines, left out of failure messages


def program_spec(request: TrialRequest) -> ProgramRequest:
    if request.program is None:
        raise ValueError(f"trial of model {request.model!r} has no program to run")
    return request.program


def program_parameters(request: TrialRequest) -> dict[str, Any]:
    """The trial's hyperparameters plus the stage's values under the program's names."""
    spec = program_spec(request)
    unknown = sorted(set(spec.program_parameters) - set(PARAMETER_KEYS))
    if unknown:
        raise ValueError(
            f"program_parameters: unknown key(s) {unknown}; valid: {', '.join(PARAMETER_KEYS)}"
        )
    stage_values = {"subset": request.subset_size, "epochs": request.epochs, "seed": request.seed}
    params = dict(request.hparams)
    for key, name in spec.program_parameters.items():
        if name in params:
            raise ValueError(
                f"program_parameters.{key} is {name!r}, which is also a searched parameter"
            )
        params[name] = stage_values[key]
    return params


def write_sweep_config(path: Path, params: Mapping[str, Any]) -> None:
    """The file ``wandb.init`` reads through ``WANDB_SWEEP_PARAM_PATH``, in the format the agent
    writes (``wandb_version: 1`` then ``name: {value: ...}``)."""
    document = {name: {"value": value} for name, value in ordered(params).items()}
    body = yaml.safe_dump(document, default_flow_style=False, allow_unicode=True, sort_keys=False)
    path.write_text("wandb_version: 1\n\n" + body if document else "wandb_version: 1")


def program_environment(
    request: TrialRequest, sweep_config: Path, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    spec = program_spec(request)
    env = dict(os.environ if base is None else base)
    env.pop("WANDB_SERVICE", None)  # the worker's own W&B service is not the program's
    env.update(
        {
            "WANDB_MODE": "offline",
            "WANDB_DIR": str(Path(spec.log_dir).resolve()),
            "WANDB_SWEEP_PARAM_PATH": str(sweep_config.resolve()),
            "RUNGS_SWEEP": spec.sweep,
            "RUNGS_STAGE": spec.stage,
            "RUNGS_TRIAL": spec.trial,
            "RUNGS_SUBSET": str(request.subset_size),
            "RUNGS_EPOCHS": str(request.epochs),
            "RUNGS_SEED": str(request.seed),
        }
    )
    env.update(spec.extra_env)
    return env


def command_line(
    spec: ProgramRequest, params: Mapping[str, Any], env: Mapping[str, str], args_file: Path
) -> list[str]:
    return build_command(
        spec.command,
        program=spec.program,
        params=params,
        interpreter=spec.interpreter or sys.executable,
        args_json_file=str(args_file.resolve()),
        environ=env,
    )


def run_trial(request: TrialRequest, reporter: Reporter) -> TrialOutcome:
    """Run the program once; see the module docstring."""
    spec = program_spec(request)
    log_dir = Path(spec.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    kill_leftover(log_dir, spec.grace_seconds)  # an earlier attempt whose worker died
    params = program_parameters(request)
    sweep_config, args_file = log_dir / SWEEP_CONFIG_FILE, log_dir / ARGS_JSON_FILE
    write_sweep_config(sweep_config, params)
    args_file.write_text(args_json(params))
    env = program_environment(request, sweep_config)
    argv = command_line(spec, params, env, args_file)
    tracker = MetricTracker(spec.metric, spec.goal)
    with launch(
        argv, cwd=spec.workdir, env=env, log_dir=log_dir, grace_seconds=spec.grace_seconds
    ) as program:
        try:
            for report in program.reports():
                reason = tracker.divergence(report)
                if reason is not None:  # leaving the with block kills the program
                    return _outcome(tracker, "diverged", reason)
                reporter.report(tracker.record(report))
        except ReportError as error:
            raise ProgramFailed(f"bad report: {error}") from None
    return _finished(program, tracker)


def _outcome(tracker: MetricTracker, status: Status, reason: str | None = None) -> TrialOutcome:
    return TrialOutcome(
        status,
        tracker.best,
        tracker.best_iteration,
        tracker.iterations,
        reason=reason,
        extra={"reports": tracker.reports},
    )


def _finished(program: RunningProgram, tracker: MetricTracker) -> TrialOutcome:
    returncode = program.wait()
    if returncode != 0:
        raise ProgramFailed(
            failure_reason(
                returncode,
                program.stderr_tail.text(ignore=_WANDB_LINES),
                program.stdout_tail.text(),
                more_output=program.stderr_tail.all_text() + program.stdout_tail.all_text(),
            )
        )
    if tracker.iterations == 0:
        raise ProgramFailed(
            f"reported no {tracker.metric}: the program exited 0 after {tracker.reports} "
            f"report(s) without it (log it with wandb.log, or print a line "
            f"'{PREFIX}{{\"{tracker.metric}\": ...}}')"
        )
    return _outcome(tracker, "completed")
