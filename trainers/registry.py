"""Registry of trainable models: a dict of names to lazily imported modules.

A registered module is one of two kinds:

* a neural model (:mod:`trainers.models`, one file per model, e.g. ``trainers/models/dprnn.py``),
  trained by the shared loop, defines

  * ``Config`` - a dataclass of architecture hyperparameters (any field may be overridden, and
    so searched, from the sweep YAML),
  * ``PRESETS: dict[str, Config]`` - at least ``tiny`` (trains on 2 CPU cores) and ``paper``,
  * ``build(config) -> torch.nn.Module`` - the model;

* a learning-curve function (:mod:`trainers.curves`) defines
  ``run_trial(request, reporter) -> TrialOutcome`` and trains nothing;

* ``program`` (:mod:`trainers.program`) defines ``run_trial`` too: it runs a user's own
  training script, whose metric the sweep file names (its entry has no metric of its own).

Importing is lazy so that ``rungs --help`` and the API never pay for torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Literal


@dataclass(frozen=True)
class ModelEntry:
    name: str
    module: str
    task: str
    metric: str
    goal: Literal["maximize", "minimize"]
    description: str


def _separation(name: str, description: str) -> ModelEntry:
    return ModelEntry(
        name, f"trainers.models.{name}", "separation", "si_sdr", "maximize", description
    )


MODELS: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in (
        _separation("convtasnet", "Conv-TasNet (Luo & Mesgarani 2019), TCN masker"),
        _separation("dprnn", "Dual-path RNN (Luo et al. 2020)"),
        _separation("sepformer", "SepFormer (Subakan et al. 2021), dual-path transformer"),
        _separation("spmamba", "SPMamba (Li et al. 2024), dual-path bidirectional Mamba"),
        ModelEntry(
            "resnetse34v2",
            "trainers.models.resnetse34v2",
            "verification",
            "eer",
            "minimize",
            "ResNetSE34V2 (voxceleb_trainer H/ASP), speaker verification, AAM-softmax or triplet",
        ),
        ModelEntry(
            "deepspeech2",
            "trainers.models.deepspeech2",
            "ctc",
            "cer",
            "minimize",
            "DeepSpeech2 (Amodei et al. 2016), conv + bidirectional GRUs, character CTC",
        ),
        ModelEntry(
            "fastcnn",
            "trainers.models.fastcnn",
            "classification",
            "accuracy",
            "maximize",
            "LightweightCNNEncoder (voiceflow's fast_cnn), residual 1-D CNN speaker classifier",
        ),
        ModelEntry(
            "synthetic",
            "trainers.curves.synthetic",
            "synthetic",
            "score",
            "maximize",
            "a cheap learning-curve function of the hyperparameters, for tests and overhead benchmarks",
        ),
        ModelEntry(
            "sim-seed004",
            "trainers.curves.sim_seed004",
            "simulation",
            "si_sdr",
            "maximize",
            "learning-curve simulator of DPRNN calibrated to a PolSESS sweep log (sample-efficiency benchmark)",
        ),
        ModelEntry(
            "program",
            "trainers.program.trainer",
            "program",
            "",
            "maximize",
            "a user's own training script (program: in a W&B sweep file), run as wandb agent runs it",
        ),
        ModelEntry(
            "mf-hartmann6",
            "trainers.curves.mf_hartmann",
            "simulation",
            "neg_hartmann6",
            "maximize",
            "augmented Hartmann-6 multi-fidelity function (BoTorch), fidelity = subset fraction",
        ),
    )
}


def model_entry(name: str) -> ModelEntry:
    try:
        return MODELS[name]
    except KeyError:
        valid = ", ".join(sorted(MODELS))
        raise KeyError(f"unknown model {name!r}; valid models: {valid}") from None


def load_model_module(name: str) -> ModuleType:
    return importlib.import_module(model_entry(name).module)
