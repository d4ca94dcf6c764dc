import json

import pytest

from orchestrator.picks import top_k
from orchestrator.reporting import build_report
from orchestrator.storage import ResultRow, open_storage
from orchestrator.stored_trials import trials_by_stage
from orchestrator.sweepfile import spec_to_dict
from stages.space import Categorical, Constant, Numeric
from stages.spec import (
    Hyperband,
    MedianStopping,
    Metric,
    Model,
    Selection,
    Stage,
    SweepSpec,
    Validation,
    Variant,
)

SPACE = {
    "lr": Numeric(1e-4, 1e-2, log=True),
    "opt": Categorical(("adam", "sgd")),
    "batch": Constant(4),
}
VARIANTS = (Variant("hyperband", Hyperband(min_iter=1), 4), Variant("median", MedianStopping(), 2))
SPEC = SweepSpec(
    name="dprnn-hpo",
    metric=Metric("val_si_sdr", "maximize"),
    parameters=SPACE,
    model=Model("dprnn"),
    stages=(Stage("stage1", 2000, 6, 4), Stage("stage3", 8000, 6, 4, variants=VARIANTS)),
    selection=Selection(k=3, diversity=1.0, balance_tolerance=0.05),
    validation=Validation(subset=16000, seeds=(42, 123, 456)),
)
# (variant, name, lr, opt, status, epochs, value)
STAGE1 = [
    ("main", "s1-a", 1e-4, "sgd", "completed", 4, 1.0),
    ("main", "s1-b", 3e-4, "adam", "completed", 4, 1.5),
    ("main", "s1-c", 1e-3, "adam", "completed", 4, 1.75),
    ("main", "s1-d", 3e-3, "sgd", "early_stopped", 2, 0.5),
    ("main", "s1-e", 1e-2, "adam", "failed", 1, None),
]
# h4 is distant and slightly worse; m1 is the median-stopping variant's best
STAGE3 = [
    ("hyperband", "h1", 1e-3, "adam", "completed", 4, 4.0),
    ("hyperband", "h2", 1.05e-3, "adam", "completed", 4, 3.99),
    ("hyperband", "h3", 2e-3, "adam", "early_stopped", 2, 3.5),
    ("hyperband", "h4", 1e-4, "sgd", "completed", 4, 3.95),
    ("median", "m1", 3e-3, "adam", "completed", 4, 3.9),
    ("median", "m2", 5e-3, "sgd", "completed", 4, 3.0),
]
VALIDATION = {"h1": [4.1, 4.0, 4.05], "h4": [3.9, 3.95, 3.85], "m1": [3.7, 3.8, 3.75]}
# the runner names every validation run of a pick after the pick (the top-k order below)
PICK_NAMES = {"h1": "config1", "h4": "config2", "m1": "config3"}


def add_trials(storage, stage_id, rows):
    ids = {}
    for variant, name, lr, opt, status, epochs, value in rows:
        config = {"lr": lr, "opt": opt, "batch": 4}
        tid = storage.create_trial(stage_id, variant=variant, key=name, config=config, name=name)
        storage.update_trial(
            tid, status=status, best_value=value, epochs=epochs, compute_seconds=60.0, finished=True
        )
        ids[name] = tid
    return ids


def fill(storage, with_validation=True):
    sweep = storage.create_sweep(SPEC.name, spec_to_dict(SPEC), "name: dprnn-hpo\n")
    s1 = storage.upsert_stage(sweep, "stage1", position=0, kind="search", plan={"epochs": 4})
    s3 = storage.upsert_stage(sweep, "stage3", position=1, kind="search", plan={"epochs": 4})
    storage.upsert_stage(sweep, "select", position=2, kind="select", plan={"k": 3})
    v = storage.upsert_stage(sweep, "validate", position=3, kind="validate", plan={"epochs": 6})
    ids = add_trials(storage, s1, STAGE1)
    add_trials(storage, s3, STAGE3)
    rows = [ResultRow(ids["s1-c"], step, {"val_si_sdr": 0.5 * step}) for step in (1, 2, 3, 4)]
    storage.append_results(rows)
    if with_validation:
        add_validation(storage, v)
    return sweep


def add_validation(storage, stage_id):
    configs = {name: {"lr": lr, "opt": opt, "batch": 4} for _, name, lr, opt, *_ in STAGE3}
    for name, values in VALIDATION.items():
        for seed, value in zip((42, 123, 456), values, strict=True):
            config = {**configs[name], "seed": seed}
            key, group = f"{name}-{seed}", PICK_NAMES[name]
            tid = storage.create_trial(
                stage_id, variant="main", key=key, config=config, seed=seed, name=group
            )
            storage.update_trial(tid, status="completed", best_value=value, epochs=6)
    crashed = {**configs["m1"], "seed": 7}
    tid = storage.create_trial(
        stage_id, variant="main", key="m1-7", config=crashed, seed=7, name="config3"
    )
    storage.update_trial(tid, status="failed", epochs=1)


@pytest.fixture
def storage(tmp_path):
    return open_storage(f"sqlite:///{tmp_path / 'rungs.db'}")


def test_trials_take_their_budget_from_the_stage_plan(storage):
    sweep = fill(storage)
    by_stage = trials_by_stage(storage, sweep)
    assert list(by_stage) == ["stage1", "stage3", "select", "validate"]
    h1, h2, h3 = by_stage["stage3"][:3]
    assert (h1.name, h1.max_epochs, h1.reached_full_budget) == ("h1", 4, True)
    assert not h3.reached_full_budget
    assert by_stage["validate"][0].extra["kind"] == "validate"


def test_top_k_uses_the_spec_selection_with_diversity_and_balance(storage):
    sweep = fill(storage)
    top = top_k(storage, sweep)  # the select stage has not completed: a preview
    # h4 is picked for its distance, m1 keeps the median-stopping variant in the top-k
    assert top.source == "preview"
    assert [p.trial.name for p in top.picks] == ["h1", "h4", "m1"]
    assert list(top.frame["source"]) == ["h1", "h4", "m1"]
    assert list(top.frame["name"]) == ["config1", "config2", "config3"]
    assert top.frame["val_si_sdr"].tolist() == [4.0, 3.95, 3.9]
    assert {"lr", "opt", "batch", "distance_to_nearest"} <= set(top.frame.columns)
    assert len(top_k(storage, sweep, k=1).picks) == 1


def test_report_ranks_validation_groups_by_config_without_seed(storage):
    report = build_report(storage, fill(storage))
    ranking = report.validation
    assert ranking is not None and ranking.recommended == "config1"
    assert [r.config for r in ranking.rows] == ["config1", "config2", "config3"]
    assert [r.n for r in ranking.rows] == [3, 3, 3]  # the failed seed has no value
    assert report.stages["stage"].tolist() == [
        "stage1", "stage3/hyperband", "stage3/median", "validate"
    ]  # fmt: skip
    hb = report.stages.set_index("stage").loc["stage3/hyperband"]
    assert hb.trials == 4 and hb.best == 4.0 and hb.compute_seconds == 240.0
    assert hb.improvement == pytest.approx(2.25)


def test_report_findings_and_exports(storage):
    report = build_report(storage, fill(storage))
    text = " ".join(report.findings)
    assert "lr has the strongest negative correlation with val_si_sdr (Spearman rho = -0.77" in text
    assert "Validation recommends config1" in text
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["metric"] == {"name": "val_si_sdr", "goal": "maximize"}
    assert data["validation"]["recommended"] == "config1"
    assert [row["source"] for row in data["top_k"]] == ["h1", "h4", "m1"]
    assert data["top_k_source"] == "preview" and data["top_k_label"].startswith("Preview")
    markdown = report.to_markdown()
    for heading in ("# Sweep", "## Stages", "## Top-k", "## Validation", "## Findings"):
        assert heading in markdown
    assert "| stage3/median |" in markdown


def test_report_before_any_result_says_why_there_is_no_top_k(storage):
    sweep = storage.create_sweep(SPEC.name, spec_to_dict(SPEC), "")
    storage.upsert_stage(sweep, "stage1", position=0, kind="search", plan={"epochs": 4})
    report = build_report(storage, sweep)
    assert len(report.picks) == 0 and "no candidates" in (report.selection_note or "")
    assert report.validation is None and report.importance == {}
    assert "No validation results yet" in report.to_markdown()


def test_unknown_sweep_raises_key_error(storage):
    with pytest.raises(KeyError):
        build_report(storage, 99)
