"""Stages, defaults, warnings, the shipped files and the resolved plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.sweepfile import default_template, load_spec, parse_spec, plan_dict, render_plan
from orchestrator.sweepfile.serialize import spec_from_dict, spec_to_dict
from orchestrator.sweepfile.template import built_in_models
from stages.spec import Hyperband, MedianStopping, Metric, Model
from trainers.registry import MODELS

ROOT = Path(__file__).resolve().parents[3]

WANDB_SWEEP = """\
program: train.py
method: bayes
metric:
  name: val_si_sdr
  goal: maximize
parameters:
  lr:
    distribution: log_uniform_values
    min: 0.0003
    max: 0.003
  batch_size:
    values: [4, 8]
early_terminate:
  type: hyperband
  s: 2
  min_iter: 10
"""


def test_a_wandb_sweep_as_users_write_it_is_one_stage(parse) -> None:
    parsed = parse(WANDB_SWEEP)
    spec = parsed.spec
    (stage,) = spec.stages
    assert spec.metric == Metric("val_si_sdr", "maximize")
    assert stage.early_terminate == Hyperband(min_iter=10, s=2, eta=3.0)
    assert (stage.subset, stage.trials, stage.epochs, stage.method) == (2000, 20, 20, "bayes")
    assert spec.program is not None and spec.program.path == "train.py"
    assert spec.model.name == "program"
    warnings = [str(w) for w in parsed.warnings]
    assert any(
        w.startswith("t.yaml:15:3: warning: early_terminate.s: W&B ignores s when min_iter")
        for w in warnings
    )
    assert (
        "s is ignored by W&B"
        in plan_dict(spec)["stages"][0]["variants"][0]["early_terminate"]["note"]
    )


def test_one_stage_defaults_follow_run_cap_epochs_and_subset(parse) -> None:
    spec = parse(WANDB_SWEEP + "run_cap: 7\nepochs: 12\nsubset: 500\n").spec
    (stage,) = spec.stages
    assert (stage.trials, stage.epochs, stage.subset) == (7, 12, 500)
    assert spec.validation.subset == 16000


def test_constant_epochs_parameter_is_lifted_out(parse) -> None:
    parsed = parse("model: dprnn\nparameters:\n  epochs: {value: 30}\n  lr: {min: 0.1, max: 0.2}\n")
    assert "epochs" not in parsed.spec.parameters and parsed.spec.stages[0].epochs == 30
    assert any("lifted out" in w.message for w in parsed.warnings)


def test_epochs_fall_back_to_hyperband_max_iter(parse) -> None:
    text = "model: dprnn\nparameters: {lr: {min: 0.1, max: 0.2}}\nearly_terminate: {type: hyperband, max_iter: 27, s: 2}\n"
    assert parse(text).spec.stages[0].epochs == 27


def test_missing_model_defaults_to_dprnn_tiny_with_warning(parse) -> None:
    parsed = parse("parameters: {lr: {min: 0.1, max: 0.2}}\n")
    assert parsed.spec.model == Model("dprnn", "tiny")
    assert parsed.spec.metric == Metric("si_sdr", "maximize")  # the registry's metric
    assert any("no `model`" in w.message for w in parsed.warnings)


def test_stages_inherit_and_variants_override(parse) -> None:
    text = """\
model: {name: convtasnet, preset: paper, fixed: {grad_clip: 0.9}}
parameters: {lr: {min: 0.1, max: 0.2}}
epochs: 9
early_terminate: {type: hyperband, min_iter: 1}
stages:
  - {name: a, subset: 10, trials: 4}
  - {name: b, subset: 20, early_terminate: null, warm_start: false}
  - name: c
    subset: 40
    trials: 3
    narrow_from: a
    narrowing: {top_count: 2, margin: 0.2}
    variants:
      - {name: hb}
      - {name: med, trials: 5, early_terminate: {type: median, grace: 2}}
selection: {k: 8}
"""
    spec = parse(text).spec
    a, b, c = spec.stages
    assert spec.model.fixed == {"grad_clip": 0.9}
    assert a.early_terminate == Hyperband(min_iter=1) and a.narrow_from is None
    assert (
        b.early_terminate is None and b.narrow_from == "a" and not b.warm_start and b.trials == 20
    )
    assert c.narrow_from == "a" and c.narrowing.top_count == 2 and c.epochs == 9
    hb, med = c.variants
    assert (hb.trials, hb.early_terminate) == (3, Hyperband(min_iter=1))
    assert (med.trials, med.early_terminate) == (5, MedianStopping(grace=2, min_samples=3))
    assert c.total_trials == 8


def test_narrowing_false_keeps_the_warm_start_and_round_trips(parse) -> None:
    text = """\
model: dprnn
parameters: {lr: {min: 0.1, max: 0.2}}
stages:
  - {name: a, subset: 10}
  - {name: b, subset: 20, narrowing: false}
  - {name: c, subset: 40, narrowing: {top: 0.25}}
"""
    parsed = parse(text)
    spec = parsed.spec
    a, b, c = spec.stages
    assert (b.narrow_from, b.narrowing.enabled, b.warm_start) == ("a", False, True)
    assert c.narrowing.enabled and c.narrowing.top == 0.25
    assert spec_from_dict(spec_to_dict(spec)) == spec
    lines = render_plan(parsed).splitlines()
    assert any(
        "b: subset 20" in x and "full space (narrowing off), warm-started from a" in x
        for x in lines
    )
    assert any("c: subset 40" in x and "space narrowed from b (top 25%" in x for x in lines)


def test_min_agreement_is_read_and_shown_where_it_applies(parse) -> None:
    text = """\
model: dprnn
parameters: {lr: {min: 0.1, max: 0.2}}
stages:
  - {name: a, subset: 10}
  - {name: b, subset: 20}
  - {name: c, subset: 40, narrowing: {min_agreement: 0.7}}
  - {name: d, subset: 80, narrowing: {min_agreement: null}}
"""
    parsed = parse(text)
    b, c, d = parsed.spec.stages[1:]
    assert (b.narrowing.min_agreement, c.narrowing.min_agreement, d.narrowing.min_agreement) == (
        0.5,
        0.7,
        None,
    )
    plan = plan_dict(parsed.spec)
    # b narrows from the first stage: nothing to compare with; c narrows from b if b ranks
    # configs like a; d has the check off
    assert [s["narrowing"] and s["narrowing"]["agreement_with"] for s in plan["stages"]] == [
        None,
        None,
        "a",
        None,
    ]
    (line,) = [x for x in render_plan(parsed).splitlines() if x.startswith("stage 3")]
    assert "from b (top 50%, margin 0.5, min width 0.3) if it ranks configs like a" in line
    assert "(rank agreement >= 0.7, else the full space)" in line


def test_min_agreement_out_of_range_is_located(errors) -> None:
    text = "model: dprnn\nparameters: {lr: {min: 0.1, max: 0.2}}\nstages:\n  - {name: a}\n  - {name: b, narrowing: {min_agreement: 2}}\n"
    assert errors(text) == [
        "t.yaml:5:27: stages[1].narrowing.min_agreement: must be <= 1.0, but got 2"
    ]


def test_narrowing_false_without_a_source_warns(parse) -> None:
    text = "model: dprnn\nparameters: {lr: {min: 0.1, max: 0.2}}\nstages:\n  - {name: a, narrowing: false}\n"
    (warning,) = parse(text).warnings
    assert str(warning) == (
        "t.yaml:4:15: warning: stages[0].narrowing: narrowing is unused: this stage has no narrow_from"
    )


def test_stored_specs_from_before_the_narrowing_flag_still_load(parse) -> None:
    data = spec_to_dict(parse_spec(default_template("dprnn")).spec)
    for stage in data["stages"]:
        del stage["narrowing"]["enabled"]  # what a sweep stored before 2026-11-22 holds
    assert all(s.narrowing.enabled for s in spec_from_dict(data).stages)


def test_rungs_beyond_the_epochs_warn(parse) -> None:
    text = "model: dprnn\nparameters: {lr: {min: 0.1, max: 0.2}}\nepochs: 5\nearly_terminate: {type: hyperband, min_iter: 10}\n"
    (warning,) = parse(text).warnings
    assert str(warning).startswith(
        "t.yaml:4:1: warning: early_terminate: the first hyperband rung (min_iter=10) is beyond"
    )
    text = "model: dprnn\nparameters: {lr: {min: 0.1, max: 0.2}}\nepochs: 5\nearly_terminate: {type: hyperband, max_iter: 27, s: 2}\n"
    (warning,) = parse(text).warnings
    assert "rungs [9] are beyond the stage's 5 epochs" in warning.message


@pytest.mark.parametrize(
    "path", sorted((ROOT / "search_spaces").glob("*.yaml")), ids=lambda p: p.name
)
def test_shipped_search_spaces_validate_without_warnings(path: Path) -> None:
    parsed = load_spec(path)
    assert parsed.warnings == []
    assert [s.subset for s in parsed.spec.stages] == sorted({s.subset for s in parsed.spec.stages})


def test_shipped_files_cover_every_separation_model() -> None:
    names = {p.stem for p in (ROOT / "search_spaces").glob("*.yaml")}
    assert names >= {"convtasnet", "dprnn", "sepformer", "spmamba", "quickstart"}


@pytest.mark.parametrize("model", built_in_models())
def test_init_template_validates_for_every_model(model: str) -> None:
    parsed = parse_spec(default_template(model), f"{model}.yaml")
    spec = parsed.spec
    assert parsed.warnings == []
    assert spec.model.name == model and spec.metric.name == MODELS[model].metric
    assert [s.subset for s in spec.stages] == [2000, 4000, 8000]
    assert [v.name for v in spec.stages[2].variants] == ["hyperband", "median"]
    # stage 3 narrows from stage 2 only where stages 1 and 2 rank configs alike
    assert [(s.narrow_from, s.narrowing.min_agreement) for s in spec.stages[1:]] == [
        ("wide", 0.5),
        ("narrowed", 0.5),
    ]
    assert (spec.selection.k, spec.validation.subset, spec.validation.seeds) == (
        5,
        16000,
        (42, 123, 456),
    )
    if model == "mf-hartmann6":  # a closed-form benchmark searches its own six coordinates
        assert set(spec.parameters) == {f"x{i}" for i in range(1, 7)}
        return
    lr = spec.parameters["lr"]
    assert (lr.low, lr.high, lr.log) == (3e-4, 3e-3, True)  # type: ignore[union-attr]


def test_default_template_rejects_unknown_models() -> None:
    with pytest.raises(KeyError, match="valid models: convtasnet"):
        default_template("resnet")


def test_plan_budget_and_rungs() -> None:
    plan = plan_dict(parse_spec(default_template("dprnn")).spec)
    assert [s["trials"] for s in plan["stages"]] == [60, 40, 60]
    assert plan["stages"][0]["variants"][0]["early_terminate"]["rungs"] == [10, 30]
    assert plan["stages"][1]["narrowing"]["from"] == "wide"
    assert plan["validation"]["runs"] == 15 and plan["validation"]["epochs"] == 60
    search = 2000 * 40 * 60 + 4000 * 40 * 40 + 8000 * 40 * 60
    assert plan["budget"] == {
        "search_trials": 160,
        "validation_runs": 15,
        "total_trials": 175,
        "sample_epochs": search + 16000 * 60 * 15,
    }
    assert plan["space"]["lr"]["scale"] == "log" and plan["space"]["lr_patience"]["integer"]


def test_render_plan_names_every_step() -> None:
    text = render_plan(parse_spec(default_template("dprnn"), "dprnn.yaml"))
    for needle in (
        "stage 3  refine: subset 8000",
        "median stopping (grace 5",
        "-> rungs 10, 30",
        "top-5 from refine",
        "5 configs x 3 seeds",
        "175 trials",
    ):
        assert needle in text


def test_sweep_name_and_small_blocks(parse) -> None:
    text = """\
name: my-sweep
description: accepted silently
model: sepformer
parameters: {lr: {min: 0.1, max: 0.2}}
dataset: {kind: manifest, train_manifest: tr.csv, valid_manifest: cv.csv, segment_seconds: 4}
resources: {cpus_per_trial: 2, gpus_per_trial: 0.25, max_concurrent: 8}
wandb: false
seed: 7
"""
    parsed = parse(text)
    spec = parsed.spec
    assert (spec.name, spec.model, spec.wandb, spec.seed) == (
        "my-sweep",
        Model("sepformer", "tiny"),
        None,
        7,
    )
    assert (spec.dataset.kind, spec.dataset.train_manifest, spec.dataset.segment_seconds) == (
        "manifest",
        "tr.csv",
        4,
    )
    assert (spec.resources.gpus_per_trial, spec.resources.max_concurrent) == (0.25, 8)
    assert parsed.warnings == []
    assert parse_spec("parameters: {lr: {value: 1}}\n", "dir/plain.yaml").spec.name == "plain"


def test_trials_by_agreement_is_read_and_off_by_default(parse, errors) -> None:
    text = """\
model: dprnn
parameters: {lr: {min: 0.1, max: 0.2}}
stages:
  - {name: a, subset: 10}
  - {name: b, subset: 20}
  - {name: c, subset: 40, narrowing: {trials_by_agreement: true}}
"""
    parsed = parse(text)
    b, c = parsed.spec.stages[1:]
    assert (b.narrowing.trials_by_agreement, c.narrowing.trials_by_agreement) == (False, True)
    (line,) = [x for x in render_plan(parsed).splitlines() if x.startswith("stage 3")]
    assert "trials x min(1, 2 (1 - agreement))" in line
    unmeasured = text.replace(
        "{trials_by_agreement: true}", "{trials_by_agreement: true, min_agreement: null}"
    )
    assert unmeasured != text
    assert any(
        "trials_by_agreement: has no effect with min_agreement: null" in str(w)
        for w in parse(unmeasured).warnings
    )
    bad = text.replace("trials_by_agreement: true", "trials_by_agreement: 3")
    [error] = errors(bad)
    assert error.startswith("t.yaml:6:") and "stages[2].narrowing.trials_by_agreement" in error
