"""The strategies compared, each run on the simulated clock under a compute budget.

* ``progressive`` - Rungs' default pipeline: the `rungs init` template's stages (2K -> 4K -> 8K
  x {hyperband, median}), narrowing, warm starts, diversity top-k and k x 3-seed validation,
  run through the product's own pieces (parse_spec, make_proposer, make_stopping_rule,
  narrow_for_stage, warm_configs, select_top_k, rank_validation). Its trial counts are the
  template's x ``m``, with ``m`` solved from the budget (:func:`validation_k`, pilot cost).
* ``flat`` - what W&B users do: one bayes + hyperband stage on the full subset, then the same
  selection and validation.
* ``asha`` - Ray Tune's recommended default: random search + ASHA on the full subset; the
  recommendation is Ray's best result (best last value).
* ``optuna`` - Optuna in-process: TPE + HyperbandPruner on the full subset; ``best_trial``.
* ``subset-hb`` - Hyperband with the data subset as the budget (BOHB-style, eta = 2 over the
  2K..16K subsets, one TPE model per subset); best value on the largest subset reached.

Validation scaling (``progressive`` and ``flat``): k = clamp(floor(budget / 2 / V1), 1, 5)
configs x the template's seeds, V1 being the cost of validating one config, so validation never
takes more than half of a budget unless k = 1.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.sample_efficiency.objectives import Benchmark
from benchmarks.sample_efficiency.simulate import Ledger, run_clock
from benchmarks.sample_efficiency.sources import (
    AshaSource,
    FixedRun,
    FixedSource,
    OptunaSource,
    StageSource,
    Trainer,
    VariantState,
)
from stages.space import Space
from stages.spec import Hyperband, MedianStopping, Stage, SweepSpec
from stages.trials import TrialSummary, signed

WORKERS = 4  # the template's max_concurrent
SEED_STRIDE = 100_003  # proposer seeds of repetition r are offset by r x this
MIN_VARIANT_TRIALS = 4
TEMPLATE_EPOCHS = 40


@dataclass(frozen=True)
class Outcome:
    """A strategy's recommendation: its config, the compute spent, and how the validation did
    (``picked_best``: the validated winner is the truly best of the k; None without validation)."""

    config: Mapping[str, Any]
    compute: float
    trials: int
    k: int = 0
    picked_best: bool | None = None
    detail: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """One strategy run: the benchmark, repetition (world), budget and plan knobs."""

    bench: Benchmark
    rep: int
    budget: float
    spec: SweepSpec  # the template spec, scaled to the benchmark (:func:`template_spec`)
    m: float = 1.0  # progressive: template trial counts x m

    def trainer(self) -> Trainer:
        bench, rep = self.bench, self.rep
        return lambda config, subset, epochs, seed: bench.curve(config, subset, epochs, seed, rep)


def template_spec(bench: Benchmark, text: str | None = None) -> SweepSpec:
    """The `rungs init` template (or ``text``) for the benchmark's model: its space replaced by
    the benchmark's, subsets and epochs scaled to the benchmark."""
    from orchestrator.sweepfile import default_template, parse_spec

    spec = parse_spec(text or default_template(bench.model), "template.yaml").spec
    scale = bench.search_epochs / TEMPLATE_EPOCHS
    stages = tuple(_scale_stage(s, bench, scale) for s in spec.stages)
    validation = dataclasses.replace(
        spec.validation, subset=bench.full_subset, epochs=bench.validation_epochs
    )
    return dataclasses.replace(
        spec,
        parameters=dict(bench.space),
        stages=stages,
        validation=validation,
        early_terminate=_scale_rule(spec.early_terminate, scale),
    )


def _scale_rule(rule: Any, scale: float) -> Any:
    if isinstance(rule, Hyperband) and rule.min_iter is not None:
        return dataclasses.replace(rule, min_iter=max(1, round(rule.min_iter * scale)))
    if isinstance(rule, MedianStopping):
        return dataclasses.replace(rule, grace=max(1, round(rule.grace * scale)))
    return rule


def _scale_stage(stage: Stage, bench: Benchmark, scale: float) -> Stage:
    variants = tuple(
        dataclasses.replace(v, early_terminate=_scale_rule(v.early_terminate, scale))
        for v in stage.variants
    )
    return dataclasses.replace(
        stage,
        subset=bench.scaled(stage.subset),
        epochs=max(1, round(stage.epochs * scale)),
        early_terminate=_scale_rule(stage.early_terminate, scale),
        variants=variants,
    )


def scale_trials(spec: SweepSpec, m: float) -> SweepSpec:
    """Every stage's (and variant's) trial count x m, at least MIN_VARIANT_TRIALS."""

    def n(trials: int) -> int:
        return max(MIN_VARIANT_TRIALS, round(trials * m))

    stages = tuple(
        dataclasses.replace(
            s,
            trials=n(s.trials),
            variants=tuple(dataclasses.replace(v, trials=n(v.trials)) for v in s.variants),
        )
        for s in spec.stages
    )
    return dataclasses.replace(spec, stages=stages)


def validation_cost(spec: SweepSpec) -> float:
    """V1: sample-epochs to validate one config (every seed, no early stopping)."""
    epochs = spec.validation.epochs or spec.stages[-1].epochs
    return float(len(spec.validation.seeds) * spec.validation.subset * epochs)


def validation_k(spec: SweepSpec, budget: float) -> int:
    """clamp(floor(budget / 2 / V1), 1, k of the spec); the spec's k for an unlimited budget."""
    if math.isinf(budget):
        return spec.selection.k
    return max(1, min(spec.selection.k, math.floor(budget / 2 / validation_cost(spec))))


# --- Rungs' stages ---------------------------------------------------------------------------


def run_stage(
    run: Run,
    position: int,
    stage: Stage,
    space: Space,
    warm: Sequence[TrialSummary],
    ledger: Ledger,
    budget: float = math.inf,
) -> list[TrialSummary]:
    """One search stage, wired as ``orchestrator.runner.jobs.search_job`` wires it."""
    from orchestrator.runner.jobs import warm_configs
    from orchestrator.runner.proposers import make_proposer
    from stages.stopping_rules import make_stopping_rule

    goal, spec = run.spec.metric.goal, run.spec
    variants = []
    stage_variants = stage.effective_variants()
    for index, variant in enumerate(stage_variants):
        seed = spec.seed + 1000 * position + index + SEED_STRIDE * run.rep
        proposer = make_proposer(stage.method, space, goal, seed)
        if stage.warm_start and warm:
            for config in warm_configs(warm, goal, index, len(stage_variants), variant.trials):
                proposer.enqueue({k: v for k, v in config.items() if k in space})
        rule = make_stopping_rule(variant.early_terminate, goal, stage.epochs)
        variants.append(VariantState(variant.name, variant.trials, proposer, rule))
    source = StageSource(
        stage.name,
        variants,
        run.trainer(),
        stage.subset,
        stage.epochs,
        spec.seed + run.rep,
        goal,
        budget=budget,
    )
    run_clock(source, WORKERS, ledger)
    return source.trials


def search_stages(
    run: Run, ledger: Ledger, budget: float = math.inf
) -> tuple[list[TrialSummary], Space]:
    """Every search stage of the spec in order: narrowing from ``narrow_from``, warm starts."""
    from stages.narrowing import narrow_for_stage

    spaces: dict[str, Space] = {}
    trials: dict[str, list[TrialSummary]] = {}
    for position, stage in enumerate(run.spec.stages):
        space, warm = dict(run.spec.parameters), []
        if stage.narrow_from:
            source = stage.narrow_from
            earlier = run.spec.agreement_stage(stage)
            # as the runner does: against the original space, and only where subsets agree
            narrowed = narrow_for_stage(
                dict(run.spec.parameters),
                trials[source],
                trials[earlier] if earlier else [],
                stage.narrowing,
                run.spec.metric.goal,
            )
            space, warm = narrowed.space, trials[source]
        spaces[stage.name] = space
        trials[stage.name] = run_stage(run, position, stage, space, warm, ledger, budget)
    last = run.spec.stages[-1].name
    return trials[last], spaces[last]


def select_and_validate(
    run: Run, candidates: Sequence[TrialSummary], space: Space, k: int, ledger: Ledger
) -> tuple[Mapping[str, Any], bool | None, dict[str, Any]]:
    """Diversity top-k, then k x seeds on the full subset, ranked by rank_validation."""
    from stages.selection import Pick, select_top_k
    from stages.statistics import rank_validation

    sel, goal = run.spec.selection, run.spec.metric.goal

    def pick(require_full_budget: bool) -> list[Pick]:
        return select_top_k(
            candidates,
            space,
            k=k,
            goal=goal,
            diversity=sel.diversity,
            balance_variants=sel.balance_variants,
            balance_tolerance=sel.balance_tolerance,
            require_full_budget=require_full_budget,
        )

    try:
        picks = pick(sel.require_full_budget)
    except ValueError:  # no trial trained its whole budget (tiny budgets): take what there is
        picks = pick(False)
    configs = {f"config{p.rank}": dict(p.trial.config) for p in picks}
    runs = [
        FixedRun(f"{g}-seed{s}", c, s)
        for g, c in configs.items()
        for s in run.spec.validation.seeds
    ]
    epochs = run.spec.validation.epochs or run.spec.stages[-1].epochs
    source = FixedSource(runs, run.trainer(), run.spec.validation.subset, epochs, goal)
    run_clock(source, WORKERS, ledger)
    scores = {
        g: [source.results[f"{g}-seed{s}"] for s in run.spec.validation.seeds] for g in configs
    }
    winner = rank_validation(scores, goal, n_bootstrap=1000).recommended
    if not run.bench.cheap_truth:
        return configs[winner], None, {}
    truth = {g: signed(run.bench.true_quality(c, run.rep), goal) for g, c in configs.items()}
    best_search = picks[0].trial.config
    detail = {"rank1_quality": run.bench.true_quality(best_search, run.rep)}
    return configs[winner], truth[winner] >= max(truth.values()), detail


def progressive(run: Run) -> Outcome:
    ledger = Ledger()
    spec = scale_trials(run.spec, run.m)
    k = validation_k(spec, run.budget)
    scaled = dataclasses.replace(run, spec=spec)
    candidates, space = search_stages(scaled, ledger)
    config, picked, detail = select_and_validate(scaled, candidates, space, k, ledger)
    return Outcome(config, ledger.sample_epochs, ledger.trials, k, picked, detail)


def flat_spec(spec: SweepSpec, bench: Benchmark, trials: int) -> SweepSpec:
    """One bayes + hyperband stage (the template's rule and epochs) on the full subset."""
    last = spec.stages[-1]
    stage = Stage(
        name="flat",
        subset=bench.full_subset,
        trials=trials,
        epochs=last.epochs,
        method=spec.method,
        early_terminate=spec.early_terminate,
    )
    return dataclasses.replace(spec, stages=(stage,))


def flat(run: Run) -> Outcome:
    """Search until the budget minus k validations is spent, then select and validate."""
    ledger = Ledger()
    k = validation_k(run.spec, run.budget)
    search_budget = run.budget - k * validation_cost(run.spec)
    spec = flat_spec(run.spec, run.bench, trials=10**6)
    scaled = dataclasses.replace(run, spec=spec)
    candidates, space = search_stages(scaled, ledger, budget=search_budget)
    config, picked, detail = select_and_validate(scaled, candidates, space, k, ledger)
    return Outcome(config, ledger.sample_epochs, ledger.trials, k, picked, detail)


def asha(run: Run) -> Outcome:
    ledger = Ledger()
    source = AshaSource(
        run.bench.space,
        run.trainer(),
        run.bench.full_subset,
        run.spec.stages[-1].epochs,
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
        run.spec.stages[-1].epochs,
        SEED_STRIDE * run.rep,
        run.spec.metric.goal,
        run.budget,
    )
    run_clock(source, WORKERS, ledger)
    return Outcome(source.best_config(), ledger.sample_epochs, ledger.trials)


STRATEGIES: dict[str, Callable[[Run], Outcome]] = {
    "progressive": progressive,
    "flat": flat,
    "asha": asha,
    "optuna": optuna_hb,
}


# Runs that explain a result rather than compete: selectable with --strategies, not run by default.
DIAGNOSTICS: dict[str, Callable[[Run], Outcome]] = {}


def strategy(name: str) -> Callable[[Run], Outcome]:
    return {**STRATEGIES, **DIAGNOSTICS}[name]


def register_subset_hb() -> None:
    from benchmarks.sample_efficiency.subset_hb import (
        subset_hyperband,
        subset_hyperband_minus_validation,
    )

    STRATEGIES["subset-hb"] = subset_hyperband
    DIAGNOSTICS["subset-hb-minus-validation"] = subset_hyperband_minus_validation


register_subset_hb()
