"""SMAC3's ``MultiFidelityFacade`` (smac 2.4.1: Hyperband + a random-forest model), as shipped,
through its ask/tell interface with the data-subset size as the budget (eta = 2 over the
2K..16K subsets). The recommendation is SMAC's incumbent (on the highest budget it observed)."""

from __future__ import annotations

import tempfile
from typing import Any

from benchmarks.sample_efficiency.peer_runs import levels, run_peer, signed_cost, to_configspace
from benchmarks.sample_efficiency.pipeline_runs import Outcome
from benchmarks.sample_efficiency.strategies import SEED_STRIDE, Run

ETA = 2


def smac_hyperband(run: Run) -> Outcome:
    from smac import MultiFidelityFacade, Scenario
    from smac.runhistory.dataclasses import TrialValue

    budgets, seed = levels(run), SEED_STRIDE * run.rep % 2**31
    with tempfile.TemporaryDirectory(prefix="smac-") as out:
        scenario = Scenario(
            to_configspace(run.bench.space, seed),
            deterministic=True,  # one evaluation per config and budget, as the others get
            n_trials=10**7,  # the compute budget ends the run, not a trial count
            min_budget=budgets[0],
            max_budget=budgets[-1],
            seed=seed,
            output_directory=out,
        )
        smac = MultiFidelityFacade(
            scenario,
            target_function=_never_called,
            intensifier=MultiFidelityFacade.get_intensifier(scenario, eta=ETA),
            overwrite=True,
            logging_level=40,
        )

        def ask() -> tuple[Any, dict[str, Any], int]:
            info = smac.ask()
            return info, dict(info.config), round(info.budget)

        def tell(info: Any, value: float) -> None:
            smac.tell(info, TrialValue(cost=signed_cost(value, run.bench.goal)))

        return run_peer(run, ask, tell, lambda: dict(smac.intensifier.get_incumbent()))


def _never_called(config: Any, seed: int = 0, budget: float = 0.0) -> float:
    raise AssertionError("ask/tell: SMAC never calls the target function itself")
