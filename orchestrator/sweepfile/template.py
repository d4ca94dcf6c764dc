"""The YAML that ``rungs init --model NAME`` writes: the progressive data-scaling pipeline
(2K -> 4K -> 8K x {hyperband, median} -> top-5 -> 16K x 3 seeds), commented block by block.
"""

from __future__ import annotations

from orchestrator.sweepfile.blocks import PROGRAM_MODEL
from trainers.hparams import accepted_hparams
from trainers.registry import MODELS

_TEMPLATE = """\
# Rungs sweep: progressive data scaling for {model}.
# Check it with `rungs validate {model}.yaml`, run it with `rungs run {model}.yaml`.
# Any plain W&B sweep key works (method, metric, parameters, early_terminate, run_cap);
# the blocks below `parameters` are Rungs' pipeline. Every number is a default you may change.

name: {model}-progressive
description: Progressive data-scaling sweep (2K -> 4K -> 8K subsets, top-5 x 3 seeds on 16K)

# What to train: a model from `rungs models`, its architecture preset (`tiny` trains on a CPU,
# `paper` is the published size) and hyperparameters fixed for every trial.
model:
  name: {model}
  preset: paper
  fixed: {{}}

# Which validation metric to optimise: {metric} is what {model} reports every epoch.
metric:
  name: {metric}
  goal: {goal}

# The search space, in W&B's format (every W&B distribution is accepted; log_uniform_values
# takes natural bounds, log_uniform takes natural-log exponents).
{parameters}
# Search defaults every stage inherits: TPE (bayes) and W&B hyperband. An iteration is one
# epoch, so min_iter 10 / eta 3 compares trials after epochs 10 and 30 and stops the worse 2/3.
method: bayes
epochs: 40
early_terminate:
  type: hyperband
  min_iter: 10
  eta: 3

# Where the data comes from: `demo` synthesises a small speech corpus offline; for LibriMix use
#   kind: manifest, train_manifest: data/train.csv, valid_manifest: data/dev.csv
dataset:
  kind: demo
  sample_rate: 8000
  segment_seconds: 2.0
  valid_size: 200

# Per-trial resources for Ray: two trials share a GPU. On a CPU: gpus_per_trial: 0.
resources:
  cpus_per_trial: 4
  gpus_per_trial: 0.5
  max_concurrent: 4

# The stages, in order, on growing nested subsets of the training data. A stage's space is
# narrowed from the top trials of `narrow_from` (default: the previous stage) and its search is
# warm-started with them (`narrowing: false` keeps the full space and only warm-starts).
stages:
  - name: wide                # stage 1: wide search on 2K samples
    subset: 2000
    trials: 60
  - name: narrowed            # stage 2: space narrowed around stage 1's top half
    subset: 4000
    trials: 40
    narrow_from: wide
    narrowing:
      top: 0.5                # fraction of finished trials that define the new ranges
      margin: 0.5             # widen their range by 50% of its width (log scale for log params)
      min_width: 0.3          # never narrower than 30% of the original range
                              # (mild on purpose: see BENCHMARKS.md, sample efficiency)
  - name: refine              # stage 3: two variants in parallel, same space and data
    subset: 8000
    trials: 30                # per variant
                              # narrowed from stage 2 only if stages 1 and 2 rank configs
                              # alike (narrowing.min_agreement, default 0.5); else the full
                              # space again, warm-started (BENCHMARKS.md, sample efficiency)
    variants:
      - name: hyperband       # aggressive: inherits the hyperband above
      - name: median          # conservative: lets slow starters finish
        early_terminate:
          type: median
          grace: 5            # never stop a trial before epoch 5
          min_samples: 3      # need 3 other trials at that epoch to compare

# Diversity-aware top-k over the last stage: best metric first, then configs far apart in the
# normalised space, balanced between the variants.
selection:
  k: 5
  diversity: 1.0
  balance_variants: true
  require_full_budget: true   # only trials that trained their whole budget

# Retrain the top-k with several seeds on more data, no early stopping, and rank by the mean.
validation:
  subset: 16000
  seeds: [42, 123, 456]
  epochs: 60
  racing: false               # true: seeds in rounds, picks a paired test finds worse dropped

# Log every trial to Weights & Biases (offline by default; `false` turns it off).
wandb:
  mode: offline

seed: 0
"""


_TRAINING_PARAMETERS = """\
parameters:
  lr:
    distribution: log_uniform_values
    min: 3.0e-4
    max: 3.0e-3
  weight_decay:
    distribution: log_uniform_values
    min: 1.0e-6
    max: 1.0e-4
  grad_clip:
    distribution: uniform
    min: 0.5
    max: 20.0
  lr_factor:          # ReduceLROnPlateau factor
    distribution: uniform
    min: 0.3
    max: 0.95
  lr_patience:        # ReduceLROnPlateau patience, in epochs
    distribution: int_uniform
    min: 1
    max: 5
"""


def _parameters(model: str) -> str:
    """The training loop's usual search space; a model without those hyperparameters (a
    closed-form benchmark such as mf-hartmann6) searches its own names over [0, 1]."""
    names = accepted_hparams(model) or frozenset()
    if {"lr", "weight_decay", "grad_clip", "lr_factor", "lr_patience"} <= names:
        return _TRAINING_PARAMETERS
    lines = [f"  {name}: {{distribution: uniform, min: 0.0, max: 1.0}}" for name in sorted(names)]
    return "parameters:\n" + "\n".join(lines) + "\n"


def built_in_models() -> list[str]:
    """The models Rungs ships (a user's own script is swept with ``program:`` instead)."""
    return sorted(name for name in MODELS if name != PROGRAM_MODEL)


def default_template(model: str) -> str:
    """The commented progressive template for ``model`` (validated by the test suite)."""
    if model not in MODELS or model == PROGRAM_MODEL:
        valid = ", ".join(built_in_models())
        raise KeyError(f"unknown model {model!r}; valid models: {valid}")
    entry = MODELS[model]
    return _TEMPLATE.format(
        model=model, metric=entry.metric, goal=entry.goal, parameters=_parameters(model)
    )
