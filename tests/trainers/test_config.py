"""Config resolution: hparams split into the model's Config and the loop's, errors that list the
valid names, and the sample-rate check for models with a spectrogram front end."""

import pytest

from trainers.api import DataRequest, TrialRequest
from trainers.config import LoopConfig, resolve_config
from trainers.registry import load_model_module


def resolve(model: str, preset: str = "tiny", data_rate: int = 8000, **hparams: object):
    data = DataRequest(sample_rate=data_rate)
    request = TrialRequest(model, preset, hparams, data, subset_size=8, epochs=1)
    return resolve_config(request, load_model_module(model))


def test_architecture_and_training_keys_go_to_their_own_config() -> None:
    model, loop = resolve("dprnn", hidden=8, lr=0.01, optimizer="adamw")
    preset = load_model_module("dprnn").PRESETS["tiny"]
    assert model.hidden == 8 and model.layers == preset.layers
    assert loop == LoopConfig(lr=0.01, optimizer="adamw")


def test_unknown_hparam_lists_valid_names() -> None:
    with pytest.raises(ValueError, match=r"\['learning_rate'\].*hidden.*lr"):
        resolve("dprnn", learning_rate=1e-3)


def test_unknown_optimizer_and_preset_list_valid_names() -> None:
    with pytest.raises(ValueError, match=r"valid: \['adam', 'adamw'\]"):
        resolve("dprnn", optimizer="sgd")
    with pytest.raises(ValueError, match="valid: asteroid, paper, tiny"):
        resolve("dprnn", preset="huge")


def test_a_model_that_declares_its_sample_rate_must_match_the_data() -> None:
    with pytest.raises(ValueError, match="expects 8000 Hz audio, but the data request is 16000"):
        resolve("fastcnn", data_rate=16000)
    model, _ = resolve("fastcnn", data_rate=16000, sample_rate=16000)  # the hparam fixes it
    assert model.sample_rate == 16000
    model, _ = resolve("dprnn", data_rate=16000)  # separation models declare no rate
    assert not hasattr(model, "sample_rate")
