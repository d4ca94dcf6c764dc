"""Every check produces a located error (exact line:column) and all errors come at once."""

from __future__ import annotations

import pytest

from orchestrator.sweepfile import SpecErrors, parse_spec
from trainers.registry import MODELS

HEAD = "model: dprnn\nparameters:\n  lr: {min: 0.001, max: 0.01}\n"  # lines 1-3


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # bad bounds, for a plain and a *_values distribution
        (
            "  wd:\n    distribution: log_uniform_values\n    min: 0.01\n    max: 0.003\n",
            "t.yaml:6:5: parameters.wd.min: min (0.01) must be below max (0.003)",
        ),
        (
            "  wd: {distribution: log_uniform_values, min: 0, max: 1}\n",
            "t.yaml:4:42: parameters.wd.min: min (0) must be > 0: log_uniform_values bounds are values on a log scale",
        ),
        (
            "  wd: {distribution: int_uniform, min: 1.5, max: 3}\n",
            "t.yaml:4:35: parameters.wd.min: int_uniform needs integer bounds, but got 1.5 (a number)",
        ),
        (
            "  wd: {distribution: uniform, min: x, max: 3}\n",
            "t.yaml:4:31: parameters.wd.min: expected a number, but got 'x' (a string)",
        ),
        (
            "  wd: {distribution: normal, sigma: 0}\n",
            "t.yaml:4:30: parameters.wd.sigma: must be > 0.0, but got 0",
        ),
        (
            "  wd: {distribution: q_uniform, min: 0, max: 1, q: 0}\n",
            "t.yaml:4:49: parameters.wd.q: must be > 0.0, but got 0",
        ),
        (
            "  wd: {values: [1, 2], probabilities: [0.5, 0.4]}\n",
            "t.yaml:4:24: parameters.wd.probabilities: must sum to 1, but they sum to 0.9",
        ),
        (
            "  wd: {values: [1, 2], probabilities: [1.0]}\n",
            "t.yaml:4:24: parameters.wd.probabilities: has 1 entries but `values` has 2",
        ),
        (
            "  wd: {values: []}\n",
            "t.yaml:4:8: parameters.wd.values: expected a non-empty list, but got [] (a list)",
        ),
        ("  wd: {mu: 1}\n", "t.yaml:4:3: parameters.wd: cannot infer the distribution"),
        (
            "  wd: 0.5\n",
            "t.yaml:4:3: parameters.wd: a parameter must be a mapping such as {values: [...]}",
        ),
        ("  wd: {min: 1, max: 2, q: 1}\n", "t.yaml:4:24: parameters.wd.q: unknown key 'q'"),
        (
            "  wd: {distribution: unifrom, min: 0, max: 1}\n",
            "t.yaml:4:8: parameters.wd.distribution: unknown distribution 'unifrom'; did you mean 'uniform'?",
        ),
    ],
)
def test_parameter_errors_are_located(errors, body: str, expected: str) -> None:
    found = errors(HEAD + body)
    assert any(line.startswith(expected) for line in found), found


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        (
            "metric: {name: si_sdr, goal: maximise}\n",
            "t.yaml:4:24: metric.goal: unknown value 'maximise'; did you mean 'maximize'?",
        ),
        (
            "method: grid\n",
            "t.yaml:4:1: method: grid search needs finite parameters (values, int_uniform, q_uniform), but these are continuous: lr (uniform)",
        ),
        ("method: custom\n", "t.yaml:4:1: method: unknown value 'custom'"),
        (
            "stages:\n  - {subset: 100}\n  - {subset: 100}\n",
            "t.yaml:6:6: stages[1].subset: subset (100) must be larger than the previous stage's (100, stage 'stage1')",
        ),
        (
            "stages:\n  - {name: a}\n  - {name: a}\n",
            "t.yaml:6:6: stages[1].name: duplicate stage name 'a'",
        ),
        (
            "stages:\n  - {name: a, narrow_from: b}\n  - {name: b}\n",
            "t.yaml:5:15: stages[0].narrow_from: the first stage has no earlier stage",
        ),
        (
            "stages:\n  - {name: a}\n  - {name: b, narrow_from: c}\n",
            "t.yaml:6:15: stages[1].narrow_from: must name an earlier stage, but got 'c' (a string) (earlier stages: a)",
        ),
        (
            "stages:\n  - {name: a}\n  - {name: b, narrowing: 3}\n",
            "t.yaml:6:15: stages[1].narrowing: expected a mapping (top, top_count, margin, min_width, min_categories, min_agreement, trials_by_agreement) or false, but got 3 (an integer)",
        ),
        (
            "stages:\n  - name: a\n    variants: [{name: v}, {name: v}]\n",
            "t.yaml:6:28: stages[0].variants[1].name: duplicate variant name 'v'",
        ),
        (
            "stages:\n  - {name: a, subet: 5}\n",
            "t.yaml:5:15: stages[0].subet: unknown key 'subet'; did you mean 'subset'?",
        ),
        (
            "early_terminate: {type: hyperband, eta: 3}\n",
            "t.yaml:4:1: early_terminate: hyperband needs min_iter",
        ),
        (
            "early_terminate: {type: hyperband, min_iter: 3, eta: 1}\n",
            "t.yaml:4:49: early_terminate.eta: must be > 1.0, but got 1",
        ),
        (
            "early_terminate: {type: hyperband, max_iter: 27}\n",
            "t.yaml:4:36: early_terminate.max_iter: max_iter needs s",
        ),
        (
            "early_terminate: {type: hyperband, max_iter: 2, s: 2}\n",
            "t.yaml:4:36: early_terminate.max_iter: no rung: int(max_iter / eta**k) < 1",
        ),
        (
            "early_terminate: {type: median, grace: 0}\n",
            "t.yaml:4:33: early_terminate.grace: must be >= 1, but got 0",
        ),
        (
            "early_terminate: {type: median, min_samples: 0}\n",
            "t.yaml:4:33: early_terminate.min_samples: must be >= 1, but got 0",
        ),
        (
            "early_terminate: {type: asha}\n",
            "t.yaml:4:19: early_terminate.type: unknown value 'asha'",
        ),
        ("selection: {k: 0}\n", "t.yaml:4:13: selection.k: must be >= 1, but got 0"),
        (
            "run_cap: 4\nselection: {k: 5}\n",
            "t.yaml:5:13: selection.k: k (5) is larger than the 4 trials that can finish in stage1",
        ),
        (
            "selection: {from_stages: [nope]}\n",
            "t.yaml:4:13: selection.from_stages: unknown stage 'nope'",
        ),
        (
            "validation: {seeds: []}\n",
            "t.yaml:4:14: validation.seeds: expected at least one seed, but got an empty list",
        ),
        (
            "subset: 4000\nvalidation: {subset: 3000}\n",
            "t.yaml:5:14: validation.subset: subset (3000) is below the last stage's (4000)",
        ),
        (
            "resources: {gpus_per_trial: -1}\n",
            "t.yaml:4:13: resources.gpus_per_trial: must be >= 0.0, but got -1",
        ),
        ("dataset: {kind: files}\n", "t.yaml:4:11: dataset.kind: unknown value 'files'"),
        ("epochs: many\n", "t.yaml:4:1: epochs: expected an integer, but got 'many' (a string)"),
        ("lr: {min: 1, max: 2}\n", "t.yaml:4:1: lr: unknown key 'lr'"),
        (
            "metrics: [{name: a}, {name: b}]\n",
            "t.yaml:4:1: metrics: multi-objective `metrics` is not supported",
        ),
        (
            "parameters: {}\n",
            "t.yaml:4:1: parameters: duplicate key 'parameters' (first at line 2)",
        ),
    ],
)
def test_document_errors_are_located(errors, tail: str, expected: str) -> None:
    found = errors(HEAD + tail)
    assert any(line.startswith(expected) for line in found), found


def test_unknown_model_lists_the_valid_ones(errors) -> None:
    found = errors("model: {name: dprn}\nparameters:\n  lr: {value: 1}\n")
    assert found == [
        "t.yaml:1:9: model.name: unknown model 'dprn' (valid models: "
        + ", ".join(sorted(MODELS))
        + ")"
    ]


def test_yaml_syntax_error_is_located(errors) -> None:
    assert errors("model: dprnn\nparameters:\n  lr: {min: 1, max: [2}\n") == [
        "t.yaml:3:23: YAML syntax error: while parsing a flow sequence: expected ',' or ']', but got '}'"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "- a\n- b\n",
            "t.yaml:1:1: the document must be a mapping of keys (method, parameters, ...), but got ['a', 'b'] (a list)",
        ),
        ("", "t.yaml:1:1: the document is empty: expected a mapping with `parameters`"),
        ("model: dprnn\n", "t.yaml:1:1: parameters: at least one parameter is required"),
        ("parameters: {x: {value: 1}}\n1: 2\n", "t.yaml:2:1: keys must be strings, but got 1"),
        (
            "parameters: {x: !!set {a}}\n",
            "t.yaml:1:17: unsupported YAML tag 'tag:yaml.org,2002:set'",
        ),
    ],
)
def test_document_shape_errors(errors, text: str, expected: str) -> None:
    found = errors(text)
    assert any(line.startswith(expected) for line in found), found


def test_all_errors_are_reported_at_once(errors) -> None:
    text = (
        "model: {name: nope}\n"  # 1
        "parameters:\n"
        "  lr: {min: 2.0, max: 1.0}\n"  # 3
        "  opt: {distribution: bogus}\n"  # 4
        "stages:\n"
        "  - {name: s, subset: 10}\n"
        "  - {name: s, subset: 5}\n"  # 7: duplicate name and non-increasing subset
        "selection: {k: 0}\n"  # 8
        "validation: {seeds: []}\n"  # 9
    )
    lines = [int(line.split(":")[1]) for line in errors(text)]
    assert lines == [1, 3, 4, 7, 7, 8, 9]


def test_errors_carry_fields_and_format() -> None:
    with pytest.raises(SpecErrors) as info:
        parse_spec("model: dprnn\nparameters:\n  lr: {min: 0.01, max: 0.003}\n", "dprnn.yaml")
    (err,) = info.value.errors
    assert (err.file, err.line, err.column, err.field) == ("dprnn.yaml", 3, 8, "parameters.lr.min")
    assert str(err) == "dprnn.yaml:3:8: parameters.lr.min: min (0.01) must be below max (0.003)"
    assert str(info.value) == str(err)
