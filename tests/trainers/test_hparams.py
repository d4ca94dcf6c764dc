"""The names a model accepts, read without torch, are the names its trainer accepts."""

from __future__ import annotations

import dataclasses
import importlib

import pytest

from trainers.config import LOOP_KEYS
from trainers.hparams import accepted_hparams
from trainers.registry import MODELS

NEURAL = sorted(name for name, e in MODELS.items() if e.module.startswith("trainers.models."))


@pytest.mark.parametrize("model", NEURAL)
def test_a_neural_model_accepts_its_config_and_the_loops_fields(model: str) -> None:
    module = importlib.import_module(MODELS[model].module)
    config = {field.name for field in dataclasses.fields(module.Config)}
    assert accepted_hparams(model) == config | LOOP_KEYS


def test_curve_models_name_their_own_and_a_program_takes_any() -> None:
    assert accepted_hparams("mf-hartmann6") == {f"x{i}" for i in range(1, 7)}
    assert {"lr", "noise", "sleep_per_epoch"} <= (accepted_hparams("synthetic") or set())
    assert accepted_hparams("program") is None
