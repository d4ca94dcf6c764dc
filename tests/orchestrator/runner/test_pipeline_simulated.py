"""The whole progressive pipeline, Ray-free: stage sequencing, narrowing, variants, stop reasons,
selection -> validation hand-off and resume, driven by the simulated executor (conftest)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from orchestrator.runner.pipeline import resume_sweep, run_sweep
from stages.space import Numeric, space_from_dict


def _run(storage, sweep_id, tmp_path, executor):
    run_sweep(storage, sweep_id, workdir=tmp_path / "w", executor=executor, progress=False)


def test_pipeline_runs_every_stage_in_order_and_hands_off(storage, make_sweep, tmp_path, request):
    sim_cls = request.getfixturevalue("sim_executor_cls")
    sweep_id = make_sweep()
    executor = sim_cls(tmp_path)
    _run(storage, sweep_id, tmp_path, executor)

    assert executor.executed == ["stage1", "stage2", "stage3", "validate"]
    assert storage.get_sweep(sweep_id).state == "completed"
    stages = {s.name: s for s in storage.get_stages(sweep_id)}
    assert [s.name for s in storage.get_stages(sweep_id)] == [
        "stage1",
        "stage2",
        "stage3",
        "select",
        "validate",
    ]
    assert all(s.state == "completed" for s in stages.values())

    # stage 2's space lies inside stage 1's, and is narrower for lr
    s1, s2 = space_from_dict(stages["stage1"].space), space_from_dict(stages["stage2"].space)
    for name, p2 in s2.items():
        if isinstance(p2, Numeric):
            assert s1[name].low <= p2.low and p2.high <= s1[name].high  # type: ignore[union-attr]
    assert (s2["lr"].high / s2["lr"].low) < (s1["lr"].high / s1["lr"].low)  # type: ignore[union-attr]

    # every trial budget spent; both stage-3 variants ran their trials
    assert storage.count_trials(sweep_id, stage="stage1") == 10
    variants = Counter(t.variant for t in storage.get_trials(sweep_id, stage="stage3"))
    assert variants == {"hyperband": 5, "conservative": 5}

    # stopped trials say why, in the StopDecision format
    stopped = storage.get_trials(sweep_id, status="early_stopped")
    assert stopped, "hyperband with min_iter=2, eta=2 must stop some of 10 trials"
    for t in stopped:
        assert {"rule", "rung", "threshold", "value"} <= set(t.stop_reason or {})
        assert len(storage.get_results(t.id)) == t.epochs < 6

    # selection: CSV with k rows; validation: k x seeds runs grouped by config, ranking stored
    picks = stages["select"].summary["picks"]
    assert [p["rank"] for p in picks] == [1, 2]
    rows = list(csv.DictReader(Path(stages["select"].summary["csv"]).read_text().splitlines()))
    assert len(rows) == 2 and {r["variant"] for r in rows} <= {"hyperband", "conservative"}
    val = storage.get_trials(sweep_id, stage="validate")
    assert sorted(t.key for t in val) == sorted(
        f"config{r}-seed{s}" for r in (1, 2) for s in (42, 123)
    )
    assert {t.name for t in val} == {"config1", "config2"}
    assert all(t.status == "completed" and t.epochs == 6 for t in val)
    ranking = stages["validate"].summary["ranking"]
    assert {c["config"] for c in ranking["configs"]} == {"config1", "config2"}
    assert Path(stages["validate"].summary["files"]["json"]).exists()


def test_interrupted_stage_resumes_without_losing_or_duplicating(
    storage, make_sweep, tmp_path, request
):
    sim_cls = request.getfixturevalue("sim_executor_cls")
    sweep_id = make_sweep()
    with pytest.raises(KeyboardInterrupt):
        _run(
            storage,
            sweep_id,
            tmp_path,
            sim_cls(tmp_path, interrupt_stage="stage2", interrupt_after=3),
        )
    assert storage.get_sweep(sweep_id).state == "interrupted"
    stage1_before = [
        (t.id, t.key, t.status, t.best_value) for t in storage.get_trials(sweep_id, stage="stage1")
    ]
    cut = storage.get_trials(sweep_id, stage="stage2", status="running")
    assert len(cut) == 1 and len(storage.get_results(cut[0].id)) == 1

    resumed = sim_cls(tmp_path)
    resume_sweep(storage, sweep_id, workdir=tmp_path / "w", executor=resumed, progress=False)

    assert resumed.executed == ["stage2", "stage3", "validate"]  # stage 1 not rerun
    stage1_after = [
        (t.id, t.key, t.status, t.best_value) for t in storage.get_trials(sweep_id, stage="stage1")
    ]
    assert stage1_after == stage1_before
    stage2 = storage.get_trials(sweep_id, stage="stage2")
    assert len(stage2) == 6 and len({t.key for t in stage2}) == 6
    assert all(t.status in ("completed", "early_stopped") for t in stage2)
    rerun = storage.get_trial(cut[0].id)  # same row, same key, re-run to its end
    assert rerun.config == cut[0].config and rerun.status in ("completed", "early_stopped")
    for t in storage.get_trials(sweep_id):
        steps = [r.step for r in storage.get_results(t.id)]
        assert steps == list(range(1, t.epochs + 1)), (t.key, steps)
    assert storage.get_sweep(sweep_id).state == "completed"
    with pytest.raises(ValueError, match="is completed; only sweeps in .* can resume"):
        resume_sweep(storage, sweep_id, workdir=tmp_path / "w", executor=sim_cls(tmp_path))


def test_faulty_trials_are_recorded_and_the_sweep_goes_on(
    storage, make_sweep, tmp_path, request, quick_yaml
):
    sim_cls = request.getfixturevalue("sim_executor_cls")
    text = quick_yaml.replace(
        "  optimizer: {values: [adam, sgd]}",
        "  optimizer: {values: [adam, sgd]}\n  crash_at_epoch: {values: [0, 0, 3]}\n  nan_at_epoch: {values: [0, 0, 2]}",
    )
    sweep_id = make_sweep(text)
    _run(storage, sweep_id, tmp_path, sim_cls(tmp_path))
    trials = storage.get_trials(sweep_id)
    failed = [t for t in trials if t.status == "failed"]
    diverged = [t for t in trials if t.status == "diverged"]
    assert failed and all("synthetic crash at epoch 3" in t.stop_reason["message"] for t in failed)
    assert diverged and all("NaN at epoch 2" in t.stop_reason["message"] for t in diverged)
    assert storage.get_sweep(sweep_id).state == "completed"


def test_status_command_and_final_text(storage, make_sweep, tmp_path, request, capsys):
    import json

    from orchestrator.cli import main
    from orchestrator.cli.run_commands import final_text

    sim_cls = request.getfixturevalue("sim_executor_cls")
    sweep_id = make_sweep()
    _run(storage, sweep_id, tmp_path, sim_cls(tmp_path))
    assert (
        main(["status", str(sweep_id), "--db", f"sqlite:///{tmp_path / 'rungs.db'}", "--json"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["state"] == "completed"
    assert [s["name"] for s in data["stages"]] == [
        "stage1",
        "stage2",
        "stage3",
        "select",
        "validate",
    ]
    assert sum(data["stages"][0]["trials"].values()) == 10
    text = final_text(storage, sweep_id)
    assert (
        "top-k configs:" in text
        and "recommended: config" in text
        and "validation_ranking.csv" in text
    )
    assert main(["status", "999", "--db", f"sqlite:///{tmp_path / 'rungs.db'}"]) == 2
    db = f"sqlite:///{tmp_path / 'rungs.db'}"
    assert main(["resume", str(sweep_id), "--db", db]) == 0  # completed: nothing to run
    assert "already completed" in capsys.readouterr().err
    assert main(["resume", "999", "--db", db]) == 2


def test_shipped_quick_sweep_runs_through_the_pipeline(storage, make_sweep, tmp_path, request):
    sim_cls = request.getfixturevalue("sim_executor_cls")
    text = (Path(__file__).parents[3] / "search_spaces" / "synthetic_quick.yaml").read_text()
    sweep_id = make_sweep(text)
    _run(storage, sweep_id, tmp_path, sim_cls(tmp_path))
    stages = {s.name: s for s in storage.get_stages(sweep_id)}
    assert storage.get_sweep(sweep_id).state == "completed"
    assert len(stages["select"].summary["picks"]) == 3
    assert storage.count_trials(sweep_id, stage="validate") == 9


def test_narrowing_off_searches_the_full_space_warm_started(
    storage, make_sweep, quick_yaml, tmp_path, request
):
    sim_cls = request.getfixturevalue("sim_executor_cls")
    text = quick_yaml.replace(
        "  - {name: stage2, subset: 4000, trials: 6}",
        "  - {name: stage2, subset: 4000, trials: 6, narrowing: false}",
    )
    assert text != quick_yaml
    sweep_id = make_sweep(text)
    _run(storage, sweep_id, tmp_path, sim_cls(tmp_path))

    stages = {s.name: s for s in storage.get_stages(sweep_id)}
    assert space_from_dict(stages["stage2"].space) == space_from_dict(stages["stage1"].space)
    notes = stages["stage2"].plan["narrowing_notes"]
    assert set(notes) == {"lr", "weight_decay", "optimizer"}
    assert all("narrowing is off" in n for n in notes.values())
    assert stages["stage2"].plan["space_summary"] == (
        "full space, warm-started from stage1 (narrowing off)"
    )
    # warm start: stage 2 first re-trains stage 1's two best completed configs
    names = ("lr", "weight_decay", "optimizer")
    finished = [t for t in storage.get_trials(sweep_id, stage="stage1") if t.status == "completed"]
    best = sorted(finished, key=lambda t: -t.best_value)[:2]
    first = sorted(storage.get_trials(sweep_id, stage="stage2"), key=lambda t: t.id)[:2]
    assert [{k: t.config[k] for k in names} for t in first] == [
        {k: t.config[k] for k in names} for t in best
    ]
    # stage 3 narrows from stage 2 as usual: its lr range is inside the original one
    s3 = space_from_dict(stages["stage3"].space)
    assert s3["lr"].high / s3["lr"].low < 100  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("min_agreement", "narrowed"), [(1.0, False), (-1.0, True)], ids=["unmet", "met"]
)
def test_stage3_narrows_only_if_stages_1_and_2_agree(
    storage, make_sweep, quick_yaml, tmp_path, request, min_agreement, narrowed
):
    sim_cls = request.getfixturevalue("sim_executor_cls")
    text = quick_yaml.replace(
        "  - {name: stage2, subset: 4000, trials: 6}",
        "  - {name: stage2, subset: 4000, trials: 10}",
    ).replace(
        "    subset: 8000\n",
        f"    subset: 8000\n    narrowing: {{top: 0.25, margin: 0.0, min_agreement: {min_agreement}}}\n",
    )
    assert text.count("trials: 10}") == 2 and "min_agreement" in text
    sweep_id = make_sweep(text)
    _run(storage, sweep_id, tmp_path, sim_cls(tmp_path))

    stages = {s.name: s for s in storage.get_stages(sweep_id)}
    s1, s3 = (space_from_dict(stages[n].space) for n in ("stage1", "stage3"))
    note = stages["stage3"].plan["narrowing_notes"]["lr"]
    assert "rank agreement" in note and "over 10 trials" in note
    summary = stages["stage3"].plan["space_summary"]
    if narrowed:
        assert "stage2 ranks configs like stage1" in note
        assert summary.startswith("narrowed from stage2 (") and "ranks configs like" in summary
        assert s3["lr"] != s1["lr"]
    else:
        assert "stage2 ranks configs unlike stage1" in note and "below min_agreement 1" in note
        assert summary.startswith("full space, warm-started: stage2 ranks configs unlike stage1")
        assert s3 == s1


AGREEMENT_CUT = (
    "    subset: 8000\n    narrowing: {min_agreement: -1.0, trials_by_agreement: true}\n"
)


def test_trials_by_agreement_cuts_the_stage_and_a_resume_keeps_the_cut(
    storage, make_sweep, quick_yaml, tmp_path, request, monkeypatch
):
    """Stage 3 runs trial_share(rho) of its trials (forced to 0.4 here: the rule itself is
    tested in tests/stages/test_fidelity.py); interrupted half-way, the resumed run keeps the
    stored counts even where the share would now come out differently."""
    import orchestrator.runner.pipeline as pipeline

    sim_cls = request.getfixturevalue("sim_executor_cls")
    text = quick_yaml.replace(
        "  - {name: stage2, subset: 4000, trials: 6}",
        "  - {name: stage2, subset: 4000, trials: 10}",
    ).replace("    subset: 8000\n", AGREEMENT_CUT)
    assert AGREEMENT_CUT in text and "trials: 10}" in text
    sweep_id = make_sweep(text)
    monkeypatch.setattr(pipeline, "trial_share", lambda rho: 0.4)
    with pytest.raises(KeyboardInterrupt):
        _run(storage, sweep_id, tmp_path, sim_cls(tmp_path, "stage3", interrupt_after=2))
    stage3 = next(s for s in storage.get_stages(sweep_id) if s.name == "stage3")
    assert stage3.plan["variants"] == [
        {"name": "hyperband", "trials": 2},  # round(5 x 0.4)
        {"name": "conservative", "trials": 2},
    ]
    assert stage3.plan["trials"] == 4

    monkeypatch.setattr(pipeline, "trial_share", lambda rho: 1.0)
    resume_sweep(storage, sweep_id, workdir=tmp_path / "w", executor=sim_cls(tmp_path))

    trials = storage.get_trials(sweep_id, stage="stage3")
    assert Counter(t.variant for t in trials) == {"hyperband": 2, "conservative": 2}
    assert len(storage.get_trials(sweep_id, stage="stage2")) == 10  # not cut: nothing to compare
    assert storage.get_sweep(sweep_id).state == "completed"
