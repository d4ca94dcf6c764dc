"""The resolved sweep specification: plain frozen dataclasses, no YAML, no I/O.

``orchestrator.sweepfile`` (the sweep-file parser) turns a sweep YAML into a :class:`SweepSpec` (with located errors);
everything after that - the stage logic here, the Ray runner, the API - reads only these objects.
Keeping them pure lets stage logic be tested with hand-built specs in milliseconds.

Vocabulary:

* an *iteration* is one reported value of the metric (one epoch for our trainers), exactly as in
  W&B's hyperband, so ``min_iter: 3`` means "after the third report";
* a *stage* is one search on one data subset; it may have parallel *variants* that differ only in
  their early-termination rule (a researcher's DPRNN sweep on PolSESS ran its 8K stage twice,
  with hyperband and with median stopping: 36% vs 98% of runs finished, bests 4.08 vs 3.74 dB);
* *selection* picks the top-k configs, *validation* retrains them with several seeds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from stages.space import Space

Goal = Literal["maximize", "minimize"]
Method = Literal["grid", "random", "bayes"]
DatasetKind = Literal["demo", "manifest"]


@dataclass(frozen=True)
class Metric:
    name: str
    goal: Goal = "maximize"
    target: float | None = None


@dataclass(frozen=True)
class Hyperband:
    """W&B's ``early_terminate: {type: hyperband}``. Exactly one of min_iter/max_iter is set."""

    min_iter: int | None = None
    max_iter: int | None = None
    s: int | None = None
    eta: float = 3.0
    strict: bool = True  # W&B fills in strict=true by default (its sweep config schema)


@dataclass(frozen=True)
class MedianStopping:
    """Stop a trial whose best-so-far is worse than the median of the other trials' running
    averages at the same iteration (Ray Tune's MedianStoppingRule semantics)."""

    grace: int = 1
    min_samples: int = 3


EarlyTerminate = Hyperband | MedianStopping


@dataclass(frozen=True)
class Narrowing:
    """How a stage's space is derived from an earlier stage's top trials.

    ``top`` is a fraction of the finished trials (0 < top <= 1) unless ``top_count`` is given.
    ``margin`` widens the top trials' range by that fraction of its width, in the own scale.
    ``min_width`` keeps at least that fraction of the original width (never zero width).
    Ranges are always measured against the sweep's original space, so narrowing never compounds
    from stage to stage.

    The defaults are mild on purpose, like a researcher's own narrowing of a DPRNN sweep on
    PolSESS (stage 1 -> 2: LR [3e-4, 3e-3] -> [5e-4, 2e-3], weight decay [1e-6, 1e-4] ->
    [1e-6, 5e-5], i.e. 60% and 85% of each log range kept): on the calibrated simulator,
    narrowing to the top 25% with a 10% margin threw away the optimum before the last stage
    (benchmarks/results/RESULTS_sample_efficiency.md).

    ``enabled=False`` (YAML ``narrowing: false``) keeps the sweep's full space: the stage is
    still warm-started with ``narrow_from``'s best configs but may search everywhere again.

    ``min_agreement``: when the source stage was itself narrowed from an earlier stage, narrow
    only if the two rank configs alike (Spearman of :func:`stages.fidelity.rank_agreement` at
    least this); otherwise keep the full space, warm-started. None narrows regardless.

    ``trials_by_agreement``: where that agreement was measured, the stage runs only
    :func:`stages.fidelity.trial_share` of its trials: when the smaller subsets already rank
    configs alike, fewer trials on this bigger one.
    """

    top: float = 0.5
    top_count: int | None = None
    margin: float = 0.5
    min_width: float = 0.3
    min_categories: int = 2
    enabled: bool = True
    min_agreement: float | None = 0.5
    trials_by_agreement: bool = False


@dataclass(frozen=True)
class Variant:
    name: str
    early_terminate: EarlyTerminate | None
    trials: int


@dataclass(frozen=True)
class Stage:
    name: str
    subset: int
    trials: int
    epochs: int
    method: Method = "bayes"
    early_terminate: EarlyTerminate | None = None
    variants: tuple[Variant, ...] = ()
    narrow_from: str | None = None
    narrowing: Narrowing = field(default_factory=Narrowing)
    warm_start: bool = True

    def effective_variants(self) -> tuple[Variant, ...]:
        """A stage without explicit variants is one variant named ``main``."""
        if self.variants:
            return self.variants
        return (Variant(name="main", early_terminate=self.early_terminate, trials=self.trials),)

    @property
    def total_trials(self) -> int:
        return sum(v.trials for v in self.effective_variants())

    def with_trials(self, counts: Mapping[str, int]) -> Stage:
        """This stage with the trial counts of ``counts`` (variant name -> trials; a stage
        without variants is ``main``); variants not named keep theirs."""
        if not self.variants:
            return replace(self, trials=counts.get("main", self.trials))
        variants = tuple(replace(v, trials=counts.get(v.name, v.trials)) for v in self.variants)
        return replace(self, variants=variants)


@dataclass(frozen=True)
class Selection:
    k: int = 5
    diversity: float = 1.0
    balance_variants: bool = True
    balance_tolerance: float = 0.05
    from_stages: tuple[str, ...] = ()  # empty: the last search stage
    require_full_budget: bool = True


@dataclass(frozen=True)
class Validation:
    enabled: bool = True
    subset: int = 16000
    seeds: tuple[int, ...] = (42, 123, 456)
    epochs: int | None = None  # None: the last search stage's epochs
    # Race the seeds (stages.racing): drop picks a paired test says are worse at ``alpha``;
    # ``reinvest`` gives the runs a drop saves to the finalists as extra seeds.
    racing: bool = False
    alpha: float = 0.1
    reinvest: bool = False


@dataclass(frozen=True)
class Model:
    name: str
    preset: str = "tiny"
    fixed: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Program:
    """A user's own training script (W&B's ``program:``), run the way ``wandb agent`` runs it.

    ``path`` is as written in the sweep file (W&B's ``${program}``) and runs in ``workdir``,
    the absolute folder of the sweep file (or, over HTTP, of an allowed programs folder).
    ``command`` is W&B's command template (None: W&B's default). ``parameters`` names the
    program's arguments that receive each stage's values (``subset``, ``epochs``, ``seed``).
    ``nested`` maps a space name that came from W&B nested parameters (``optimizer.lr``) to its
    path (``("optimizer", "lr")``), so that the program gets a nested dict as under W&B while a
    dotted name written as such (``model.lr``) stays one flat key. ``grace_seconds`` is the time
    between SIGTERM and SIGKILL when a trial is stopped.
    """

    path: str
    workdir: str
    command: tuple[str, ...] | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    nested: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    grace_seconds: float = 3.0


@dataclass(frozen=True)
class Dataset:
    """``kind: demo`` synthesises the built-in corpus; ``kind: manifest`` reads LibriMix CSVs."""

    kind: DatasetKind = "demo"
    train_manifest: str | None = None
    valid_manifest: str | None = None
    valid_size: int = 200
    sample_rate: int = 8000
    segment_seconds: float = 2.0
    seed: int = 0


@dataclass(frozen=True)
class Resources:
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_concurrent: int | None = None


@dataclass(frozen=True)
class SweepSpec:
    name: str
    metric: Metric
    parameters: Space
    model: Model
    method: Method = "bayes"
    early_terminate: EarlyTerminate | None = None
    run_cap: int | None = None
    dataset: Dataset = field(default_factory=Dataset)
    resources: Resources = field(default_factory=Resources)
    stages: tuple[Stage, ...] = ()
    selection: Selection = field(default_factory=Selection)
    validation: Validation = field(default_factory=Validation)
    wandb: Mapping[str, Any] | None = field(default_factory=lambda: {"mode": "offline"})
    seed: int = 0
    program: Program | None = None  # set for a user's own training script (model "program")

    @property
    def search_trials(self) -> int:
        return sum(s.total_trials for s in self.stages)

    @property
    def validation_runs(self) -> int:
        """Top-k x seeds when validation is on, else 0."""
        return self.selection.k * len(self.validation.seeds) if self.validation.enabled else 0

    @property
    def total_trials(self) -> int:
        """What the sweep plans to train: the search trials plus the validation runs."""
        return self.search_trials + self.validation_runs

    def budget_epochs(self, stage: Stage) -> int | None:
        """The iterations a trial of ``stage`` runs when nothing stops it: the stage's epochs
        for a built-in model; None for a program, which decides itself how many values of
        the metric it logs (a program that ends on its own has spent its whole budget)."""
        return None if self.program is not None else stage.epochs

    def agreement_stage(self, stage: Stage) -> str | None:
        """The stage whose agreement with ``stage``'s source decides whether ``stage`` narrows
        (``Narrowing.min_agreement``): the source's own ``narrow_from``; None when no check
        applies (no source, narrowing off, the check off, or a source narrowed from nothing)."""
        nar = stage.narrowing
        if stage.narrow_from is None or not nar.enabled or nar.min_agreement is None:
            return None
        return self.stage(stage.narrow_from).narrow_from

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        valid = ", ".join(s.name for s in self.stages)
        raise KeyError(f"no stage named {name!r}; valid: {valid}")
