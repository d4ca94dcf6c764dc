"""The strategies compared, each run under a compute budget on the product's simulated clock.

* ``progressive`` - Rungs' default pipeline, run as users run it: the `rungs init` template's
  sweep YAML (2K -> 4K -> 8K x {hyperband, median}, narrowing, warm starts, diversity top-k,
  validation) through ``run_sweep`` on the simulated executor (:mod:`.pipeline_runs`). Its trial
  counts are the template's x ``m``, with ``m`` solved from the budget (pilot cost).
* ``flat`` - what W&B users do: one bayes + hyperband stage on the full subset, run the same
  way, then the same selection and validation.
* ``asha`` - Ray Tune's recommended default: random search + ASHA on the full subset; the
  recommendation is Ray's best result (best last value).
* ``optuna`` - Optuna in-process: TPE + HyperbandPruner on the full subset; ``best_trial``.
* ``subset-hb`` - Hyperband with the data subset as the budget (BOHB-style, eta = 2 over the
  2K..16K subsets, one TPE model per subset); best value on the largest subset reached.
* ``smac``, ``dehb``, ``syne-tune`` - the external multi-fidelity optimisers through their own
  packages, the data subset as the budget (:mod:`.peers`; the ``bench`` extra).

Validation scaling (``progressive`` and ``flat``): k = clamp(floor(budget / 2 / V1), 1, 5)
configs x the template's seeds, V1 being the cost of validating one config, so validation never
takes more than half of a budget unless k = 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from benchmarks.sample_efficiency.objectives import Benchmark
from benchmarks.sample_efficiency.pipeline_runs import (
    WORKERS,
    Outcome,
    flat_yaml,
    parse,
    progressive_yaml,
    run_yaml,
    template_doc,
)
from benchmarks.sample_efficiency.sources import AshaSource, OptunaSource, Trainer
from orchestrator.runner.simclock import Ledger, run_clock
from orchestrator.runner.simulated import SimulatedExecutor
from stages.spec import SweepSpec

SEED_STRIDE = 100_003  # seeds of the non-Rungs strategies in repetition r are offset by r x this
FLAT_TRIALS = 10**6  # the flat sweep starts trials until its search budget is spent

__all__ = ["Outcome", "Run", "WORKERS"]


@dataclass(frozen=True)
class Run:
    """One strategy run: the benchmark, repetition (world), budget and plan knobs."""

    bench: Benchmark
    rep: int
    budget: float
    template: str | None = None  # a variant's sweep YAML; None: the `rungs init` template
    m: float = 1.0  # progressive: template trial counts x m
    keep: Path | None = None  # leave the pipeline's YAML and database here

    def trainer(self) -> Trainer:
        bench, rep = self.bench, self.rep
        return lambda config, subset, epochs, seed: bench.curve(config, subset, epochs, seed, rep)

    @cached_property
    def spec(self) -> SweepSpec:
        """The template spec fitted to the benchmark (trial counts as the template's)."""
        return parse(template_doc(self.bench, self.template))

    @property
    def epochs(self) -> int:
        """Epochs of a full-subset search trial: the template's last stage's."""
        return self.spec.stages[-1].epochs


def validation_cost(spec: SweepSpec) -> float:
    """V1: sample-epochs to validate one config (every seed, no early stopping)."""
    epochs = spec.validation.epochs or spec.stages[-1].epochs
    return float(len(spec.validation.seeds) * spec.validation.subset * epochs)


def validation_k(spec: SweepSpec, budget: float) -> int:
    """clamp(floor(budget / 2 / V1), 1, k of the spec); the spec's k for an unlimited budget."""
    if math.isinf(budget):
        return spec.selection.k
    return max(1, min(spec.selection.k, math.floor(budget / 2 / validation_cost(spec))))


def executor(run: Run, search_budget: float | None = None) -> SimulatedExecutor:
    steps = run.bench.steps(run.rep) if run.bench.steps is not None else None
    return SimulatedExecutor(WORKERS, search_budget=search_budget, steps=steps)


def progressive(run: Run) -> Outcome:
    k = validation_k(run.spec, run.budget)
    text = progressive_yaml(run.bench, run.rep, run.m, k, run.template)
    return run_yaml(text, run.bench, run.rep, executor(run), run.keep)


def flat(run: Run, trials: int = FLAT_TRIALS) -> Outcome:
    """Search until the budget minus k validations is spent, then select and validate."""
    k = validation_k(run.spec, run.budget)
    search_budget = None
    if math.isfinite(run.budget):
        search_budget = run.budget - k * validation_cost(run.spec)
    text = flat_yaml(run.bench, run.rep, trials, k, run.template)
    return run_yaml(text, run.bench, run.rep, executor(run, search_budget), run.keep)


def asha(run: Run) -> Outcome:
    ledger = Ledger()
    source = AshaSource(
        run.bench.space,
        run.trainer(),
        run.bench.full_subset,
        run.epochs,
        SEED_STRIDE * run.rep,
        run.spec.metric.goal,
        run.budget,
    )
    run_clock(source, WORKERS, ledger)
    return Outcome(source.best_config(), ledger.sample_epochs, ledger.trials)


def optuna_hb(run: Run) -> Outcome:
    ledger = Ledger()
    source = OptunaSource(
        run.bench.space,
        run.trainer(),
        run.bench.full_subset,
        run.epochs,
        SEED_STRIDE * run.rep,
        run.spec.metric.goal,
        run.budget,
    )
    run_clock(source, WORKERS, ledger)
    return Outcome(source.best_config(), ledger.sample_epochs, ledger.trials)
