"""SweepSpec <-> JSON-safe dict (stored in the database with every sweep); an exact round trip:
``spec_from_dict(spec_to_dict(spec)) == spec``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from stages.space import space_from_dict, space_to_dict
from stages.spec import (
    Dataset,
    EarlyTerminate,
    Hyperband,
    MedianStopping,
    Metric,
    Model,
    Narrowing,
    Program,
    Resources,
    Selection,
    Stage,
    SweepSpec,
    Validation,
    Variant,
)

FORMAT_VERSION = 1


def early_terminate_to_dict(et: EarlyTerminate | None) -> dict[str, Any] | None:
    if et is None:
        return None
    kind = "hyperband" if isinstance(et, Hyperband) else "median"
    return {"type": kind, **asdict(et)}


def early_terminate_from_dict(data: Mapping[str, Any] | None) -> EarlyTerminate | None:
    if data is None:
        return None
    fields = {k: v for k, v in data.items() if k != "type"}
    if data["type"] == "hyperband":
        return Hyperband(**fields)
    if data["type"] == "median":
        return MedianStopping(**fields)
    raise ValueError(f"unknown early_terminate type {data['type']!r}; valid: hyperband, median")


def _stage_to_dict(stage: Stage) -> dict[str, Any]:
    return {
        "name": stage.name,
        "subset": stage.subset,
        "trials": stage.trials,
        "epochs": stage.epochs,
        "method": stage.method,
        "early_terminate": early_terminate_to_dict(stage.early_terminate),
        "variants": [
            {
                "name": v.name,
                "trials": v.trials,
                "early_terminate": early_terminate_to_dict(v.early_terminate),
            }
            for v in stage.variants
        ],
        "narrow_from": stage.narrow_from,
        "narrowing": asdict(stage.narrowing),
        "warm_start": stage.warm_start,
    }


def _stage_from_dict(data: Mapping[str, Any]) -> Stage:
    variants = tuple(
        Variant(
            name=v["name"],
            trials=v["trials"],
            early_terminate=early_terminate_from_dict(v["early_terminate"]),
        )
        for v in data["variants"]
    )
    return Stage(
        name=data["name"],
        subset=data["subset"],
        trials=data["trials"],
        epochs=data["epochs"],
        method=data["method"],
        early_terminate=early_terminate_from_dict(data["early_terminate"]),
        variants=variants,
        narrow_from=data["narrow_from"],
        narrowing=Narrowing(**data["narrowing"]),
        warm_start=data["warm_start"],
    )


def program_to_dict(program: Program | None) -> dict[str, Any] | None:
    if program is None:
        return None
    return {
        "path": program.path,
        "workdir": program.workdir,
        "command": list(program.command) if program.command is not None else None,
        "parameters": dict(program.parameters),
        "nested": {name: list(path) for name, path in program.nested.items()},
        "grace_seconds": program.grace_seconds,
    }


def program_from_dict(data: Mapping[str, Any] | None) -> Program | None:
    """Inverse of :func:`program_to_dict`; specs stored before programs existed have none."""
    if data is None:
        return None
    command = data.get("command")
    return Program(
        path=data["path"],
        workdir=data["workdir"],
        command=tuple(command) if command is not None else None,
        parameters=dict(data.get("parameters", {})),
        nested={name: tuple(path) for name, path in data.get("nested", {}).items()},
        grace_seconds=data.get("grace_seconds", Program.grace_seconds),
    )


def spec_to_dict(spec: SweepSpec) -> dict[str, Any]:
    """JSON-safe: only dicts, lists, strings, numbers, booleans and None."""
    return {
        "format_version": FORMAT_VERSION,
        "name": spec.name,
        "metric": asdict(spec.metric),
        "parameters": space_to_dict(spec.parameters),
        "model": {
            "name": spec.model.name,
            "preset": spec.model.preset,
            "fixed": dict(spec.model.fixed),
        },
        "method": spec.method,
        "early_terminate": early_terminate_to_dict(spec.early_terminate),
        "run_cap": spec.run_cap,
        "dataset": asdict(spec.dataset),
        "resources": asdict(spec.resources),
        "stages": [_stage_to_dict(s) for s in spec.stages],
        "selection": {**asdict(spec.selection), "from_stages": list(spec.selection.from_stages)},
        "validation": {**asdict(spec.validation), "seeds": list(spec.validation.seeds)},
        "wandb": dict(spec.wandb) if spec.wandb is not None else None,
        "seed": spec.seed,
        "program": program_to_dict(spec.program),
    }


def spec_from_dict(data: Mapping[str, Any]) -> SweepSpec:
    """Inverse of :func:`spec_to_dict`."""
    version = data.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ValueError(
            f"unsupported spec format_version {version!r}; this Rungs reads {FORMAT_VERSION}"
        )
    selection, validation = data["selection"], data["validation"]
    return SweepSpec(
        name=data["name"],
        metric=Metric(**data["metric"]),
        parameters=space_from_dict(data["parameters"]),
        model=Model(**data["model"]),
        method=data["method"],
        early_terminate=early_terminate_from_dict(data["early_terminate"]),
        run_cap=data["run_cap"],
        dataset=Dataset(**data["dataset"]),
        resources=Resources(**data["resources"]),
        stages=tuple(_stage_from_dict(s) for s in data["stages"]),
        selection=Selection(**{**selection, "from_stages": tuple(selection["from_stages"])}),
        validation=Validation(**{**validation, "seeds": tuple(validation["seeds"])}),
        wandb=dict(data["wandb"]) if data["wandb"] is not None else None,
        seed=data["seed"],
        program=program_from_dict(data.get("program")),
    )
