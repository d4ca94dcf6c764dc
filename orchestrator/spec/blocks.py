"""The small top-level blocks: ``metric``, ``model``, ``dataset``, ``resources``, ``wandb``.

Only :mod:`trainers.registry` is imported (never torch): model names and their metric are known
without loading a model.
"""

from __future__ import annotations

from typing import Any

from orchestrator.spec.reader import Section, describe, is_json_safe
from stages.space import flatten
from stages.spec import Dataset, Metric, Model, Resources
from trainers.registry import MODELS, ModelEntry

DEFAULT_MODEL = "dprnn"
DEFAULT_PRESET = "tiny"
GOALS = ("maximize", "minimize")
# what every trainer reports each epoch besides its metric (trainers/api.py)
_EPOCH_METRICS = ("epoch", "train_loss", "lr", "grad_norm", "epoch_seconds", "samples_per_second")
_WANDB_MODES = ("offline", "online", "disabled")


def parse_model(root: Section) -> Model:
    """``model: dprnn`` or ``model: {name, preset, fixed}``; absent: dprnn/tiny with a warning."""
    node = root.get("model")
    if node is None:
        root.warn(None, f"no `model`: using {DEFAULT_MODEL} with preset {DEFAULT_PRESET}")
        return Model(name=DEFAULT_MODEL, preset=DEFAULT_PRESET)
    if isinstance(node.value, str):
        return Model(name=_model_name(root, "model", node.value), preset=DEFAULT_PRESET)
    sec = root.section("model")
    if sec is None:
        return Model(name=DEFAULT_MODEL, preset=DEFAULT_PRESET)
    sec.check_keys(("name", "preset", "fixed"))
    if not sec.has("name"):
        sec.error(None, "needs `name`: one of " + ", ".join(sorted(MODELS)))
    name = _model_name(sec, "name", sec.string("name", DEFAULT_MODEL))
    return Model(name=name, preset=sec.string("preset", DEFAULT_PRESET), fixed=_fixed(sec))


def _model_name(sec: Section, key: str, name: str) -> str:
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


def parse_metric(root: Section, model: str) -> Metric:
    """Defaults to the model's registry metric and goal (W&B's own goal default is minimize)."""
    entry = MODELS[model]
    sec = root.section("metric")
    if sec is None:
        return Metric(name=entry.metric, goal=entry.goal)
    sec.check_keys(("name", "goal", "target"), ignored=_METRIC_IGNORED)
    name = sec.string("name", entry.metric)
    goal = sec.string("goal", None, choices=GOALS)
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
    reported = {entry.metric, *_EPOCH_METRICS} | (
        {"si_sdri"} if entry.task == "separation" else set()
    )
    if name not in reported:
        sec.warn(
            "name",
            f"model {entry.name!r} does not report {name!r}; it reports {entry.metric!r} (also: {', '.join(sorted(reported - {entry.metric}))})",
        )


def parse_dataset(sec: Section | None) -> Dataset:
    if sec is None:
        return Dataset()
    sec.check_keys(
        (
            "kind",
            "train_manifest",
            "valid_manifest",
            "valid_size",
            "sample_rate",
            "segment_seconds",
            "seed",
        )
    )
    kind = sec.string("kind", "demo", choices=("demo", "manifest"))
    if kind == "manifest" and not sec.has("train_manifest"):
        sec.error("kind", "kind: manifest needs `train_manifest` (a LibriMix-style CSV)")
    return Dataset(
        kind=kind,
        train_manifest=sec.string("train_manifest", None),
        valid_manifest=sec.string("valid_manifest", None),
        valid_size=sec.integer("valid_size", 200, minimum=1),
        sample_rate=sec.integer("sample_rate", 8000, minimum=1),
        segment_seconds=sec.number("segment_seconds", 2.0, above=0.0),
        seed=sec.integer("seed", 0),
    )


def parse_resources(sec: Section | None) -> Resources:
    if sec is None:
        return Resources()
    sec.check_keys(("cpus_per_trial", "gpus_per_trial", "max_concurrent"))
    return Resources(
        cpus_per_trial=sec.number("cpus_per_trial", 1.0, above=0.0),
        gpus_per_trial=sec.number("gpus_per_trial", 0.0, minimum=0.0),
        max_concurrent=sec.integer("max_concurrent", None, minimum=1),
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
