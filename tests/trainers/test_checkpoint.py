"""Checkpoint files: atomic writes, RNG round trips, safe loading."""

import random

import numpy as np
import pytest
import torch

from trainers import checkpoint as ckpt

torch.set_num_threads(1)


def _draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_rng_state_round_trip_through_a_file(tmp_path) -> None:
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    ckpt.save_checkpoint(tmp_path, {"rng": ckpt.capture_rng_state()})
    expected = _draws()
    _draws()  # move every generator on
    ckpt.restore_rng_state(ckpt.load_checkpoint(tmp_path)["rng"])
    assert _draws() == expected


def test_atomic_save_leaves_only_the_final_file(tmp_path) -> None:
    ckpt.save_checkpoint(tmp_path / "run", {"epoch": 1})
    ckpt.save_checkpoint(tmp_path / "run", {"epoch": 2})
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [ckpt.CHECKPOINT_FILE]
    assert ckpt.load_checkpoint(tmp_path / "run")["epoch"] == 2


def test_best_model_keeps_weights_config_and_score(tmp_path) -> None:
    model = torch.nn.Linear(3, 2)
    ckpt.save_best_model(
        tmp_path, model.state_dict(), config={"model": "x"}, epoch=4, metric="si_sdr", value=3.5
    )
    best = ckpt.load_best_model(tmp_path)
    assert (best["epoch"], best["metric"], best["value"]) == (4, "si_sdr", 3.5)
    torch.testing.assert_close(best["model"]["weight"], model.weight.detach())


def test_missing_checkpoint_says_where_it_looked(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="checkpoint.pt"):
        ckpt.load_checkpoint(tmp_path)


def test_cpu_copy_is_independent_of_later_updates() -> None:
    model = torch.nn.Linear(2, 2)
    snapshot = ckpt.cpu_copy({"model": model.state_dict(), "pairs": [(1, torch.ones(1))]})
    with torch.no_grad():
        model.weight.add_(1.0)
    assert not torch.equal(snapshot["model"]["weight"], model.weight)
    assert isinstance(snapshot["pairs"][0], tuple)
