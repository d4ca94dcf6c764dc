"""The experiment: every strategy x budget fraction x repetition, budgets relative to the flat
sweep's.

The flat sweep's budget ``B_flat`` is measured in a pilot: one bayes + hyperband stage on the
full subset with as many search trials as the template's pipeline (60 + 40 + 2 x 30 = 160),
plus the template's 5 x 3-seed validation; its median compute over the pilot repetitions. The
progressive pipeline's search cost per unit of ``m`` (template trial counts x m) is measured in
the same pilot, so that at a budget ``b`` it runs with ``m = (b - k V1) / cost(m=1)``. Pilot
repetitions use worlds that the measured repetitions never use.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from benchmarks.sample_efficiency.objectives import make_benchmark
from benchmarks.sample_efficiency.simulate import Ledger
from benchmarks.sample_efficiency.strategies import (
    STRATEGIES,
    Run,
    flat_spec,
    progressive,
    search_stages,
    select_and_validate,
    template_spec,
    validation_cost,
    validation_k,
)

PILOT_WORLD = 10_000
MIN_M = 0.05


@dataclass(frozen=True)
class Plan:
    benchmark: str
    flat_budget: float  # B_flat (sample-epochs)
    progressive_search_cost: float  # search sample-epochs of the template at m = 1
    flat_trials: int


def flat_reference(run: Run, trials: int) -> float:
    """Compute of the flat sweep with ``trials`` search trials and the template's validation."""
    ledger = Ledger()
    scaled = dataclasses.replace(run, spec=flat_spec(run.spec, run.bench, trials))
    candidates, space = search_stages(scaled, ledger)
    select_and_validate(scaled, candidates, space, run.spec.selection.k, ledger)
    return ledger.sample_epochs


def pilot(benchmark: str, reps: int, template: str | None = None) -> Plan:
    """B_flat from the default template's trial count; the search cost from ``template``."""
    bench = make_benchmark(benchmark)
    default = template_spec(bench)
    trials = sum(s.total_trials for s in default.stages)
    flat_costs = [
        flat_reference(Run(bench, PILOT_WORLD + i, math.inf, default), trials) for i in range(reps)
    ]
    return Plan(
        benchmark, statistics.median(flat_costs), search_cost(benchmark, reps, template), trials
    )


def search_cost(benchmark: str, reps: int, template: str | None) -> float:
    """Median search compute (validation excluded) of the progressive template at m = 1."""
    bench = make_benchmark(benchmark)
    spec = template_spec(bench, template)
    costs = []
    for i in range(reps):
        out = progressive(Run(bench, PILOT_WORLD + i, math.inf, spec))
        costs.append(out.compute - out.k * validation_cost(spec))
    return statistics.median(costs)


@dataclass(frozen=True)
class Task:
    plan: Plan
    strategy: str
    fraction: float
    rep: int
    template: str | None = None


def run_task(task: Task) -> dict[str, Any]:
    bench = make_benchmark(task.plan.benchmark)
    spec = template_spec(bench, task.template)
    budget = task.fraction * task.plan.flat_budget
    m = 1.0
    if task.strategy.startswith("progressive"):
        k = validation_k(spec, budget)
        m = max(MIN_M, (budget - k * validation_cost(spec)) / task.plan.progressive_search_cost)
    fn = STRATEGIES["progressive" if task.strategy.startswith("progressive") else task.strategy]
    out = fn(Run(bench, task.rep, budget, spec, m=m))
    return {
        "benchmark": bench.name,
        "strategy": task.strategy,
        "fraction": task.fraction,
        "rep": task.rep,
        "budget": budget,
        "compute": out.compute,
        "compute_fraction": out.compute / task.plan.flat_budget,
        "quality": bench.true_quality(out.config, task.rep),
        "k": out.k,
        "m": m,
        "picked_best": out.picked_best,
        "trials": out.trials,
        "rank1_quality": out.detail.get("rank1_quality"),
    }


def run_all(tasks: Sequence[Task], jobs: int) -> list[dict[str, Any]]:
    if jobs <= 1:
        return [run_task(t) for t in tasks]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(run_task, tasks, chunksize=1))
