"""Rungs' strategies run the way users run them: a sweep YAML, stored in a temporary SQLite
database and run by :func:`orchestrator.runner.pipeline.run_sweep` on the product's simulated
executor (:mod:`orchestrator.runner.simulated`). Nothing of the pipeline is re-wired here: the
stages, stopping rules, narrowing, warm starts, selection, validation (fixed or raced) and the
database are the product's. ``rungs run FILE --simulate`` on the same YAML writes the same rows
(tests/benchmarks/test_pipeline_runs.py).

* ``progressive``: the `rungs init` template of the benchmark's model, with its space replaced by
  the benchmark's, subsets and epochs scaled to the benchmark, trial counts x ``m`` and
  ``selection.k`` sized to the budget.
* ``flat``: one bayes + hyperband stage on the full subset (the template's rule and epochs),
  trials started until the search budget is spent, then the same selection and validation.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks.sample_efficiency.objectives import Benchmark
from orchestrator.runner.simulated import SimulatedExecutor
from stages.spec import SweepSpec
from trainers import model_entry

WORKERS = 4  # the template's max_concurrent
MIN_VARIANT_TRIALS = 4
TEMPLATE_EPOCHS = 40
SEED_BASE = 1  # sweep seed of world r: SEED_BASE + r (proposers and search trials differ per world)


@dataclass(frozen=True)
class Outcome:
    """A strategy's recommendation: its config, the compute spent, and how the validation did
    (``picked_best``: the validated winner is the truly best of the k; None without validation)."""

    config: Mapping[str, Any]
    compute: float
    trials: int
    k: int = 0
    picked_best: bool | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


def template_doc(bench: Benchmark, text: str | None = None) -> dict[str, Any]:
    """The template (or ``text``) as a YAML document, fitted to the benchmark."""
    from orchestrator.sweepfile import default_template

    doc = yaml.safe_load(text or default_template(bench.model))
    entry = model_entry(bench.model)  # a variant written for one model serves every benchmark
    doc.setdefault("model", {})["name"] = bench.model
    doc["metric"] = {"name": entry.metric, "goal": entry.goal}
    scale = bench.search_epochs / TEMPLATE_EPOCHS
    doc["parameters"] = copy.deepcopy(dict(bench.parameters))
    doc["wandb"] = False
    doc.setdefault("resources", {})["max_concurrent"] = WORKERS
    if bench.dataset is not None:
        doc["dataset"] = dict(bench.dataset)
    doc["epochs"] = max(1, round(doc.get("epochs", TEMPLATE_EPOCHS) * scale))
    _scale_rule(doc, scale)
    for stage in doc["stages"]:
        stage["subset"] = bench.scaled(stage["subset"])
        if "epochs" in stage:
            stage["epochs"] = max(1, round(stage["epochs"] * scale))
        _scale_rule(stage, scale)
        for variant in stage.get("variants", []):
            _scale_rule(variant, scale)
    validation = doc.setdefault("validation", {})
    validation.update(subset=bench.full_subset, epochs=bench.validation_epochs)
    return doc


def _scale_rule(block: dict[str, Any], scale: float) -> None:
    rule = block.get("early_terminate")
    if not isinstance(rule, dict):
        return
    for key in ("min_iter", "grace"):
        if rule.get(key) is not None:
            rule[key] = max(1, round(rule[key] * scale))


def parse(doc: Mapping[str, Any]) -> SweepSpec:
    from orchestrator.sweepfile import parse_spec

    return parse_spec(yaml.safe_dump(dict(doc), sort_keys=False), "benchmark.yaml").spec


def for_world(doc: dict[str, Any], bench: Benchmark, rep: int, name: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["name"] = f"{bench.name}-{name}-world{rep}"
    doc["seed"] = SEED_BASE + rep
    doc.setdefault("model", {})["fixed"] = bench.fixed(rep)
    return doc


def scale_trials(doc: dict[str, Any], m: float) -> dict[str, Any]:
    """Every stage's (and variant's) trial count x m, at least MIN_VARIANT_TRIALS."""
    doc = copy.deepcopy(doc)
    for stage in doc["stages"]:
        stage["trials"] = max(MIN_VARIANT_TRIALS, round(stage["trials"] * m))
        for variant in stage.get("variants", []):
            if "trials" in variant:
                variant["trials"] = max(MIN_VARIANT_TRIALS, round(variant["trials"] * m))
    return doc


def progressive_yaml(bench: Benchmark, rep: int, m: float, k: int, text: str | None = None) -> str:
    doc = for_world(scale_trials(template_doc(bench, text), m), bench, rep, "progressive")
    doc.setdefault("selection", {})["k"] = k
    return yaml.safe_dump(doc, sort_keys=False)


def flat_doc(bench: Benchmark, trials: int, k: int, text: str | None = None) -> dict[str, Any]:
    """One stage on the full subset with the template's top-level rule, epochs and method."""
    doc = template_doc(bench, text)
    last = doc["stages"][-1]
    stage = {"name": "flat", "subset": bench.full_subset, "trials": trials}
    if "epochs" in last:
        stage["epochs"] = last["epochs"]
    doc["stages"] = [stage]
    doc.setdefault("selection", {})["k"] = k
    doc["selection"].pop("from_stages", None)
    return doc


def flat_yaml(bench: Benchmark, rep: int, trials: int, k: int, text: str | None = None) -> str:
    return yaml.safe_dump(for_world(flat_doc(bench, trials, k, text), bench, rep, "flat"))


def run_yaml(
    text: str,
    bench: Benchmark,
    rep: int,
    executor: SimulatedExecutor,
    keep: Path | None = None,
) -> Outcome:
    """Store the sweep, ``run_sweep`` it on ``executor``, read the recommendation back from the
    database. ``keep``: a folder to leave the YAML, database and sweep folder in."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        return _run_in(Path(keep), text, bench, rep, executor)
    with tempfile.TemporaryDirectory(prefix="rungs-bench-", dir=_fast_tmp()) as tmp:
        return _run_in(Path(tmp), text, bench, rep, executor)


def _fast_tmp() -> str | None:
    shm = Path("/dev/shm")  # a database in memory-backed files: no fsync per transaction
    return str(shm) if shm.is_dir() else None


def _run_in(
    folder: Path, text: str, bench: Benchmark, rep: int, executor: SimulatedExecutor
) -> Outcome:
    from orchestrator.runner.pipeline import run_sweep
    from orchestrator.storage import open_storage
    from orchestrator.sweepfile import parse_spec, spec_to_dict

    (folder / "sweep.yaml").write_text(text)
    spec = parse_spec(text, "sweep.yaml").spec
    storage = open_storage(f"sqlite:///{folder / 'rungs.db'}")
    try:
        sweep_id = storage.create_sweep(spec.name, spec_to_dict(spec), text, state="running")
        run_sweep(storage, sweep_id, workdir=folder / "work", executor=executor, progress=False)
        return read_outcome(storage, sweep_id, bench, rep, executor)
    finally:
        storage.close()


def read_outcome(
    storage: Any, sweep_id: int, bench: Benchmark, rep: int, executor: SimulatedExecutor
) -> Outcome:
    """The validated recommendation, as every surface reads it: the stored picks and ranking."""
    stages = {s.name: s for s in storage.get_stages(sweep_id)}
    picks = stages["select"].summary["picks"]
    ranking = stages["validate"].summary["ranking"]
    configs = {p["name"]: p["config"] for p in picks}
    winner = configs[ranking["recommended"]]
    detail: dict[str, Any] = dict(stages["validate"].summary.get("racing") or {})
    detail["validation_compute"] = _compute(storage, sweep_id, "validate", stages)
    picked = None
    if bench.cheap_truth:
        truth = {name: bench.true_quality(c, rep) for name, c in configs.items()}
        sign = 1.0 if bench.goal == "maximize" else -1.0
        best = max(sign * v for v in truth.values())
        picked = sign * truth[ranking["recommended"]] >= best
        detail["rank1_quality"] = truth[picks[0]["name"]]
    return Outcome(
        winner,
        executor.ledger.sample_epochs,
        executor.ledger.trials,
        len(picks),
        picked,
        detail,
    )


def _compute(storage: Any, sweep_id: int, stage: str, stages: Mapping[str, Any]) -> float:
    subset = stages[stage].plan["subset"]
    return float(sum(t.epochs * subset for t in storage.get_trials(sweep_id, stage=stage)))
