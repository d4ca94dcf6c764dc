"""Hyperband with the data subset as the budget (BOHB-style), on the product's simulated clock.

Budgets are the pipeline's subsets plus the full one (2K, 4K, 8K, 16K: eta = 2). Brackets run in
Hyperband's order (most aggressive first) and repeat until the budget is spent; a bracket with
``s`` halvings samples ``ceil((s_max + 1) / (s + 1) * 2**s)`` configs, trains each for the
stage's epochs on its first subset, and re-trains the better half on the next subset (synchronous
successive halving; nested subsets do not let a run continue on more data). As in BOHB, new
configs come from a TPE model of the largest subset with at least d + 1 results (Rungs' own
TPE proposer, one per subset), else at random. The recommendation is the best value seen on the
largest subset reached. This does not fit the stage spec (it has no promotions), so it is
driven here directly with Rungs' proposers.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.sample_efficiency.sources import FixedRun, FixedSource
from benchmarks.sample_efficiency.strategies import (
    SEED_STRIDE,
    WORKERS,
    Outcome,
    Run,
    validation_cost,
    validation_k,
)
from orchestrator.runner.proposers import Proposer, RandomProposer, TPEProposer
from orchestrator.runner.simclock import Ledger, run_clock
from stages.trials import signed

ETA = 2


def subsets(run: Run) -> list[int]:
    """The search stages' subsets, then the full one (2K, 4K, 8K, 16K for the template)."""
    return sorted({s.subset for s in run.spec.stages} | {run.bench.full_subset})


def bracket_sizes(s: int, s_max: int) -> list[int]:
    """Configs per rung of the bracket with ``s`` halvings.

    >>> bracket_sizes(3, 3), bracket_sizes(0, 3)
    ([8, 4, 2, 1], [4])
    """
    n = math.ceil((s_max + 1) / (s + 1) * ETA**s)
    return [max(1, n // ETA**i) for i in range(s + 1)]


class SubsetModels:
    """One TPE model per subset; asks from the largest subset with enough results."""

    def __init__(self, run: Run, levels: int) -> None:
        goal, seed = run.spec.metric.goal, SEED_STRIDE * run.rep
        self.models = [TPEProposer(run.bench.space, goal, seed + i) for i in range(levels)]
        self.counts = [0] * levels
        self.random: Proposer = RandomProposer(run.bench.space, seed)
        self.needed = len(run.bench.space) + 1

    def ask(self) -> dict[str, Any]:
        for level in reversed(range(len(self.models))):
            if self.counts[level] >= self.needed:
                config = self.models[level].ask()
                assert config is not None
                return config
        config = self.random.ask()
        assert config is not None
        return config

    def tell(self, level: int, config: Mapping[str, Any], value: float) -> None:
        self.models[level].tell(config, value, "complete")
        self.counts[level] += 1


def subset_hyperband(run: Run) -> Outcome:
    levels = subsets(run)
    s_max = len(levels) - 1
    models = SubsetModels(run, len(levels))
    ledger, goal = Ledger(), run.spec.metric.goal
    seen: dict[int, list[tuple[float, Mapping[str, Any]]]] = {i: [] for i in range(len(levels))}
    bracket = 0
    while ledger.sample_epochs < run.budget:
        s = s_max - bracket % (s_max + 1)
        configs: Sequence[Mapping[str, Any]] = [
            models.ask() for _ in range(bracket_sizes(s, s_max)[0])
        ]
        for rung, size in enumerate(bracket_sizes(s, s_max)):
            level = s_max - s + rung
            results = _train(run, configs[:size], levels[level], ledger, f"b{bracket}r{rung}")
            for config, value in results:
                models.tell(level, config, value)
                seen[level].append((signed(value, goal), config))
            configs = [c for c, _ in sorted(results, key=lambda r: -signed(r[1], goal))]
            if ledger.sample_epochs >= run.budget:
                break
        bracket += 1
    top = max(level for level, values in seen.items() if values)
    return Outcome(max(seen[top], key=lambda r: r[0])[1], ledger.sample_epochs, ledger.trials)


def subset_hyperband_minus_validation(run: Run) -> Outcome:
    """Diagnostic: subset-hyperband with the search budget the default pipeline has left after
    its k x seeds validation (the same k). Subset-hyperband itself validates nothing, so this
    separates its search efficiency from the validation the default pays for."""
    fixed = validation_k(run.spec, run.budget) * validation_cost(run.spec)
    return subset_hyperband(dataclasses.replace(run, budget=max(0.0, run.budget - fixed)))


def _train(
    run: Run, configs: Sequence[Mapping[str, Any]], subset: int, ledger: Ledger, tag: str
) -> list[tuple[Mapping[str, Any], float]]:
    runs = [FixedRun(f"{tag}-{i}", c, run.spec.seed + run.rep) for i, c in enumerate(configs)]
    epochs = run.epochs
    source = FixedSource(
        runs, run.trainer(), subset, epochs, run.spec.metric.goal, budget=run.budget
    )
    run_clock(source, WORKERS, ledger)
    return [(r.config, source.results[r.key]) for r in runs if r.key in source.results]
