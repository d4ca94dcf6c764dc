"""Every W&B distribution, W&B's inference rules and nested parameters -> stages.space."""

from __future__ import annotations

import math

import pytest

from stages.space import Categorical, Constant, Numeric

E = math.e


def _space(parse, params: str):
    # a program takes any name, so a built-in model's names do not constrain these tests
    head = "program: train.py\nmetric: {name: val, goal: maximize}\nparameters:\n"
    text = head + "".join(f"  {line}\n" for line in params.splitlines())
    return parse(text).spec.parameters


@pytest.mark.parametrize(
    ("yaml_param", "expected"),
    [
        ("{distribution: constant, value: 3}", Constant(3, source="constant")),
        ("{value: adam}", Constant("adam", source="value")),
        ("{distribution: categorical, values: [1, 2]}", Categorical((1, 2), source="categorical")),
        ("{values: [a, b], probabilities: [0.25, 0.75]}", Categorical(("a", "b"), (0.25, 0.75))),
        (
            "{distribution: int_uniform, min: 1, max: 5}",
            Numeric(1, 5, integer=True, source="int_uniform"),
        ),
        ("{distribution: uniform, min: 0.5, max: 20}", Numeric(0.5, 20, source="uniform")),
        (
            "{distribution: q_uniform, min: 0, max: 10, q: 2}",
            Numeric(0, 10, integer=True, q=2.0, source="q_uniform"),  # an integer q: ints
        ),
        (
            "{distribution: log_uniform, min: -2, max: 1}",
            Numeric(E**-2, E, log=True, source="log_uniform"),
        ),
        (
            "{distribution: log_uniform_values, min: 1e-4, max: 1e-2}",
            Numeric(1e-4, 1e-2, log=True, source="log_uniform_values"),
        ),
        (
            "{distribution: q_log_uniform, min: 0, max: 3}",
            Numeric(1, E**3, log=True, q=1.0, source="q_log_uniform"),
        ),
        (
            "{distribution: q_log_uniform_values, min: 8, max: 64, q: 8}",
            Numeric(8, 64, log=True, integer=True, q=8.0, source="q_log_uniform_values"),
        ),
        (
            "{distribution: inv_log_uniform, min: 1, max: 3}",
            Numeric(E**-3, E**-1, log=True, source="inv_log_uniform"),
        ),
        (
            "{distribution: inv_log_uniform_values, min: 0.1, max: 10}",
            Numeric(0.1, 10, log=True, source="inv_log_uniform_values"),
        ),
        (
            "{distribution: normal}",
            Numeric(-3, 3, prior="normal", mu=0.0, sigma=1.0, source="normal"),
        ),
        (
            "{distribution: q_normal, mu: 10, sigma: 2, q: 0.5}",
            Numeric(4, 16, q=0.5, prior="normal", mu=10.0, sigma=2.0, source="q_normal"),
        ),
        (
            "{distribution: log_normal, mu: 0, sigma: 1}",
            Numeric(E**-3, E**3, log=True, prior="normal", mu=0.0, sigma=1.0, source="log_normal"),
        ),
        (
            "{distribution: q_log_normal, mu: 1, sigma: 0.5}",
            Numeric(
                E**-0.5,
                E**2.5,
                log=True,
                q=1.0,
                prior="normal",
                mu=1.0,
                sigma=0.5,
                source="q_log_normal",
            ),
        ),
        ("{distribution: beta}", Numeric(0, 1, prior="beta", alpha=1.0, beta=1.0, source="beta")),
        (
            "{distribution: q_beta, a: 2, b: 5, q: 0.1}",
            Numeric(0, 1, q=0.1, prior="beta", alpha=2.0, beta=5.0, source="q_beta"),
        ),
    ],
)
def test_every_distribution_maps_to_natural_units(parse, yaml_param: str, expected) -> None:
    param = _space(parse, f"x: {yaml_param}")["x"]
    if isinstance(expected, Numeric):
        assert isinstance(param, Numeric)
        assert math.isclose(param.low, expected.low) and math.isclose(param.high, expected.high)
        for name in ("log", "integer", "q", "prior", "mu", "sigma", "alpha", "beta", "source"):
            assert getattr(param, name) == getattr(expected, name), name
    else:
        assert param == expected


def test_log_uniform_exponents_are_converted(parse) -> None:
    lr = _space(parse, "lr: {distribution: log_uniform, min: -9.2103, max: -4.6052}")["lr"]
    assert lr.low == pytest.approx(1e-4, rel=1e-4) and lr.high == pytest.approx(1e-2, rel=1e-4)
    assert lr.to_unit(1e-3) == pytest.approx(0.5, abs=1e-3)  # log scale: 1e-3 is the middle


@pytest.mark.parametrize(
    ("yaml_param", "source", "kind"),
    [
        ("{min: 1, max: 5}", "int_uniform", Numeric),
        ("{min: 1, max: 5.0}", "uniform", Numeric),
        ("{min: 0.1, max: 0.9}", "uniform", Numeric),
        ("{values: [1, 2, 3]}", "values", Categorical),
        ("{value: 7}", "value", Constant),
    ],
)
def test_wandb_inference_rules(parse, yaml_param: str, source: str, kind: type) -> None:
    param = _space(parse, f"x: {yaml_param}")["x"]
    assert isinstance(param, kind) and param.source == source
    if source == "int_uniform":
        assert param.integer


def test_nested_parameters_are_flattened_to_dotted_names(parse) -> None:
    space = _space(
        parse,
        "optimizer:\n  parameters:\n    lr: {min: 0.001, max: 0.1}\n"
        "    kind:\n      parameters:\n        name: {values: [adam, sgd]}\n"
        "batch_size: {value: 8}",
    )
    assert set(space) == {"optimizer.lr", "optimizer.kind.name", "batch_size"}
    assert space["optimizer.kind.name"] == Categorical(("adam", "sgd"))


def test_yaml_1_2_exponent_floats_are_numbers(parse) -> None:
    lr = _space(parse, "lr: {min: 1e-5, max: 1E-3}")["lr"]
    assert (lr.low, lr.high, lr.source) == (1e-5, 1e-3, "uniform")


def test_log_uniform_with_value_like_bounds_warns(parse) -> None:
    text = "model: dprnn\nparameters:\n  lr: {distribution: log_uniform, min: 0.0001, max: 0.01}\n"
    warnings = [str(w) for w in parse(text).warnings]
    assert any(
        "t.yaml:3:35: warning: parameters.lr.min" in w and "log_uniform_values" in w
        for w in warnings
    )
