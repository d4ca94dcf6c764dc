"""Validation as a race through the whole pipeline (simulated executor): rounds, stable keys,
the finalists' seeds, the stored summary, and resume in the middle of a race."""

from __future__ import annotations

import pytest

from orchestrator.runner.pipeline import resume_sweep, run_sweep

RACE = "validation: {subset: 16000, seeds: [42, 123, 456, 789], racing: true, alpha: 0.2}"


def _racing_yaml(quick_yaml: str) -> str:
    text = quick_yaml.replace("validation: {subset: 16000, seeds: [42, 123]}", RACE)
    text = text.replace("selection: {k: 2,", "selection: {k: 4, diversity: 3.0,")
    assert RACE in text and "k: 4" in text
    return text


def _validation(storage, sweep_id):
    stage = next(s for s in storage.get_stages(sweep_id) if s.name == "validate")
    runs = storage.get_trials(sweep_id, stage="validate")
    return stage, {(t.name, t.seed) for t in runs}, runs


def test_a_race_drops_worse_picks_and_finalists_run_every_seed(
    storage, make_sweep, quick_yaml, tmp_path, sim_executor_cls
):
    sweep_id = make_sweep(_racing_yaml(quick_yaml))
    executor = sim_executor_cls(tmp_path)
    run_sweep(storage, sweep_id, workdir=tmp_path / "w", executor=executor, progress=False)
    assert storage.get_sweep(sweep_id).state == "completed"
    stage, ran, runs = _validation(storage, sweep_id)
    race = stage.summary["racing"]
    assert race["dropped"], "a diverse top-4 on the synthetic model has a clearly worse pick"
    seeds = (42, 123, 456, 789)
    for name, drop in race["dropped"].items():  # a dropped pick ran the seeds before its drop
        assert {s for n, s in ran if n == name} == set(seeds[: drop["after_seeds"]])
    for name in race["survivors"]:
        assert {s for n, s in ran if n == name} == set(seeds)
    assert race["runs"] == len(runs) and race["runs_fixed"] == 16
    assert race["runs_saved"] == 16 - len(runs) > 0
    assert all(t.key == f"{t.name}-seed{t.seed}" for t in runs)
    # the validation rounds ran as separate jobs of the same stage
    assert executor.executed.count("validate") >= 3
    caveats = " ".join(stage.summary["ranking"]["caveats"])
    assert "left the race after" in caveats


def test_an_interrupted_race_resumes_with_the_same_decisions(
    storage, make_sweep, quick_yaml, tmp_path, sim_executor_cls
):
    text = _racing_yaml(quick_yaml)
    whole_id = make_sweep(text)
    run_sweep(storage, whole_id, workdir=tmp_path / "a", executor=sim_executor_cls(tmp_path))
    cut_id = make_sweep(text)
    killed = sim_executor_cls(tmp_path, interrupt_stage="validate", interrupt_after=9)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(storage, cut_id, workdir=tmp_path / "b", executor=killed, progress=False)
    resume_sweep(storage, cut_id, workdir=tmp_path / "b", executor=sim_executor_cls(tmp_path))
    whole, cut = _validation(storage, whole_id), _validation(storage, cut_id)
    assert whole[1] == cut[1]
    assert whole[0].summary["racing"] == cut[0].summary["racing"]
