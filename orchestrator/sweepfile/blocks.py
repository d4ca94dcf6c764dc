"""The small top-level blocks: ``metric``, ``model``, ``dataset``, ``resources``, ``wandb``.

Only :mod:`trainers.registry` is imported (never torch): model names and their metric are known
without loading a model. Defaults are the dataclasses' own (:mod:`stages.spec`; a field's class
attribute is its default): only the default model's name is the parser's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from typing import Any, get_args

from orchestrator.sweepfile.errors import unknown_name
from orchestrator.sweepfile.reader import Section, describe, is_json_safe
from stages.space import flatten
from stages.spec import Dataset, DatasetKind, Goal, Metric, Model, Resources
from trainers.hparams import accepted_hparams
from trainers.registry import MODELS, ModelEntry

DEFAULT_MODEL = "dprnn"
PROGRAM_MODEL = "program"  # the registry entry of a user's own script (``program:``)
# what every trainer reports each epoch besides its metric (trainers/api.py)
_EPOCH_METRICS = ("epoch", "train_loss", "lr", "grad_norm", "epoch_seconds", "samples_per_second")
_WANDB_MODES = ("offline", "online", "disabled")
# what each task's validation reports besides its metric (trainers/tasks/*.py)
_TASK_METRICS = {
    "separation": ("si_sdri",),
    "classification": ("valid_loss",),
    "ctc": ("wer", "valid_loss"),
}


def parse_model(root: Section) -> Model:
    """``model: dprnn`` or ``model: {name, preset, fixed}``; absent: dprnn/tiny with a warning."""
    node = root.get("model")
    if node is None:
        root.warn(None, f"no `model`: using {DEFAULT_MODEL} with preset {Model.preset}")
        return Model(name=DEFAULT_MODEL)
    if isinstance(node.value, str):
        return Model(name=_model_name(root, "model", node.value))
    sec = root.section("model")
    if sec is None:
        return Model(name=DEFAULT_MODEL)
    sec.check_keys(("name", "preset", "fixed"))
    if not sec.has("name"):
        sec.error(None, "needs `name`: one of " + ", ".join(sorted(MODELS)))
    name = _model_name(sec, "name", sec.string("name", DEFAULT_MODEL))
    return Model(name=name, preset=sec.string("preset", Model.preset), fixed=_fixed(sec))


def _model_name(sec: Section, key: str, name: str) -> str:
    if name == PROGRAM_MODEL:
        sec.error(key, "to sweep your own training script, write `program: train.py` instead")
        return DEFAULT_MODEL
    if name not in MODELS:
        sec.error(key, f"unknown model {name!r} (valid models: {', '.join(sorted(MODELS))})")
        return DEFAULT_MODEL
    return name


def _fixed(sec: Section) -> dict[str, Any]:
    """Fixed hyperparameters merged under every sampled config; nested maps are flattened."""
    value = sec.raw("fixed", {})
    if value is None:
        return {}
    if not isinstance(value, dict) or not is_json_safe(value):
        sec.error(
            "fixed", f"expected a mapping of names to plain values, but got {describe(value)}"
        )
        return {}
    return flatten(value)


def check_hparam_names(root: Section, model: Model, searched: Iterable[str]) -> None:
    """An unknown hyperparameter of a built-in model is a located error before anything runs
    (nested W&B parameters reach a built-in model as dotted names, so they are checked too)."""
    accepted = accepted_hparams(model.name)
    if accepted is None:  # a user's program takes any name
        return
    node = root.get("parameters")
    for name in sorted(set(searched) - accepted):
        top = name.split(".")[0]
        where = node.value[top].where if node and node.is_map and top in node.value else root.where
        nested = " (nested parameters reach only a program)" if "." in name else ""
        message = f"model {model.name}: " + unknown_name("hyperparameter", name, accepted) + nested
        root.diag.error(where, f"parameters.{name}", message)
    model_node = root.get("model")
    if model_node is None or not model_node.is_map:  # `model: dprnn` fixes nothing
        return
    sec = Section(root.diag, model_node, "model")
    for name in sorted(set(model.fixed) - accepted):
        sec.error("fixed", f"model {model.name}: " + unknown_name("hyperparameter", name, accepted))


def parse_metric(root: Section, model: str) -> Metric:
    """Defaults to the model's registry metric and goal (W&B's own goal default is minimize)."""
    entry = MODELS[model]
    sec = root.section("metric")
    if sec is None:
        if not entry.metric:  # a user's program: only its author knows what it logs
            root.error(None, "a program sweep needs `metric: {name: ..., goal: ...}`")
        return Metric(name=entry.metric, goal=entry.goal)
    sec.check_keys(("name", "goal", "target"), ignored=_METRIC_IGNORED)
    name = sec.string("name", entry.metric)
    if not name:
        sec.error(None, "needs `name`: the metric the program logs")
    goal = sec.string("goal", None, choices=get_args(Goal))
    if goal is None and not sec.has("goal"):
        goal = entry.goal if name == entry.metric else "minimize"
        sec.warn(
            None,
            f"no `goal`: using {goal} ({'the model default' if name == entry.metric else 'W&B default'})",
        )
    _check_reported(sec, name, entry)
    return Metric(name=name, goal=goal or entry.goal, target=sec.number("target", None))


_METRIC_IGNORED = {
    "impute": "ignored by Rungs: failed and stopped trials keep the values they reported",
    "impute_while_running": "ignored by Rungs: running trials are compared at their last report",
}


def _check_reported(sec: Section, name: str, entry: ModelEntry) -> None:
    if not entry.metric:  # a user's program reports whatever it logs
        return
    reported = {entry.metric, *_EPOCH_METRICS, *_TASK_METRICS.get(entry.task, ())}
    if name not in reported:  # every trial would end without a value: an error, before the run
        sec.error(
            "name",
            f"model {entry.name!r} does not report {name!r}; it reports {entry.metric!r} (also: {', '.join(sorted(reported - {entry.metric}))})",
        )


def parse_dataset(sec: Section | None) -> Dataset:
    if sec is None:
        return Dataset()
    sec.check_keys(tuple(f.name for f in fields(Dataset)))
    kind = sec.string("kind", Dataset.kind, choices=get_args(DatasetKind))
    if kind == "manifest" and not sec.has("train_manifest"):
        sec.error("kind", "kind: manifest needs `train_manifest` (a LibriMix-style CSV)")
    return Dataset(
        kind=kind,
        train_manifest=sec.string("train_manifest", Dataset.train_manifest),
        valid_manifest=sec.string("valid_manifest", Dataset.valid_manifest),
        valid_size=sec.integer("valid_size", Dataset.valid_size, minimum=1),
        sample_rate=sec.integer("sample_rate", Dataset.sample_rate, minimum=1),
        segment_seconds=sec.number("segment_seconds", Dataset.segment_seconds, above=0.0),
        seed=sec.integer("seed", Dataset.seed),
    )


def parse_resources(sec: Section | None) -> Resources:
    if sec is None:
        return Resources()
    sec.check_keys(tuple(f.name for f in fields(Resources)))
    return Resources(
        cpus_per_trial=sec.number("cpus_per_trial", Resources.cpus_per_trial, above=0.0),
        gpus_per_trial=sec.number("gpus_per_trial", Resources.gpus_per_trial, minimum=0.0),
        max_concurrent=sec.integer("max_concurrent", Resources.max_concurrent, minimum=1),
    )


def parse_wandb(root: Section) -> dict[str, Any] | None:
    """``wandb: false`` (off), ``true`` (offline) or ``{mode, project, entity, group}``."""
    value = root.raw("wandb", {})
    if value is False or value is None:
        return None
    if value is True:
        return {"mode": "offline"}
    sec = root.section("wandb")
    if sec is None:
        return {"mode": "offline"}
    sec.check_keys(("mode", "project", "entity", "group"))
    out = {"mode": sec.string("mode", "offline", choices=_WANDB_MODES)}
    for key in ("project", "entity", "group"):
        if sec.has(key):
            out[key] = sec.string(key, None)
    return out
