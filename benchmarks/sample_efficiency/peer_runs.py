"""What the external peers share: their ask/tell loop on the product's simulated clock, with the
data-subset size as the budget, and a record of what they ran.

An evaluation trains the asked config for the search epochs on the subset the optimiser asked
for (the pipeline's subsets 2K, 4K, 8K and the full one: eta = 2) and tells back its best value
(a larger subset is a new training run, as in subset-hyperband: nested subsets do not let a run
continue on more data). Evaluations start on 4 workers while the compute budget remains.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from benchmarks.sample_efficiency.pipeline_runs import WORKERS, Outcome
from benchmarks.sample_efficiency.sources import CurveSource, Trainer, best_value, launch
from benchmarks.sample_efficiency.strategies import SEED_STRIDE, Run
from orchestrator.runner.simclock import Ledger, Running, run_clock
from stages.space import Categorical, Numeric, Space
from stages.spec import Goal

# () -> (the optimiser's handle, config, subset), or None when it has nothing to run now
Ask = Callable[[], tuple[Any, Mapping[str, Any], int] | None]
Tell = Callable[[Any, float], None]  # (handle, best value in natural units)


def levels(run: Run) -> list[int]:
    """The budgets: the search stages' subsets, then the full one (2K, 4K, 8K, 16K)."""
    return sorted({s.subset for s in run.spec.stages} | {run.bench.full_subset})


@dataclass
class PeerSource(CurveSource):
    ask: Ask
    tell: Tell
    train: Trainer
    epochs: int
    seed: int
    goal: Goal
    budget: float
    budgets: Counter[int] = field(default_factory=Counter)  # evaluations per subset

    def next_trial(self, ledger: Ledger) -> Running | None:
        if ledger.sample_epochs >= self.budget:
            return None
        asked = self.ask()
        if asked is None:
            return None
        handle, config, subset = asked
        self.budgets[subset] += 1
        values = self.train(config, subset, self.epochs, self.seed)
        key = f"peer-{sum(self.budgets.values()):05d}"
        return launch(key, config, subset, values, handle=handle)

    def on_end(self, trial: Running, stopped: bool) -> None:
        self.tell(trial.state.extra["handle"], best_value(trial, self.goal))


def run_peer(run: Run, ask: Ask, tell: Tell, recommend: Callable[[], Mapping[str, Any]]) -> Outcome:
    """The peer's loop under the run's budget; ``detail["peer"]`` says what it really ran."""
    source = PeerSource(
        ask, tell, run.trainer(), run.epochs, SEED_STRIDE * run.rep, run.bench.goal, run.budget
    )
    ledger = Ledger()
    run_clock(source, WORKERS, ledger)
    ran = {"evaluations": ledger.trials, "budgets": dict(sorted(source.budgets.items()))}
    return Outcome(dict(recommend()), ledger.sample_epochs, ledger.trials, detail={"peer": ran})


def to_configspace(space: Space, seed: int) -> Any:
    """The space in ConfigSpace's terms (SMAC, DEHB)."""
    from ConfigSpace import Categorical as CSCategorical
    from ConfigSpace import ConfigurationSpace, Float, Integer

    cs = ConfigurationSpace(seed=seed)
    for name, param in space.items():
        if isinstance(param, Numeric) and param.integer:
            cs.add(Integer(name, (int(param.low), int(param.high)), log=param.log))
        elif isinstance(param, Numeric):
            cs.add(Float(name, (float(param.low), float(param.high)), log=param.log))
        elif isinstance(param, Categorical):
            cs.add(CSCategorical(name, list(param.values)))
    return cs


def signed_cost(value: float, goal: Goal) -> float:
    """What a minimiser is told: the value, sign-flipped when the goal is to maximise."""
    return -value if goal == "maximize" else value
