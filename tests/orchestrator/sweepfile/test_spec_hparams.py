"""A built-in model's unknown hyperparameter, or a metric it does not report, is an error at
validate time (it used to fail every trial at run time)."""

from __future__ import annotations


def test_an_unknown_hyperparameter_is_located_with_a_suggestion(errors) -> None:
    lines = errors(
        "model: dprnn\nparameters:\n  lr: {min: 0.001, max: 0.01}\n  hiden: {values: [32, 64]}\n"
    )
    assert any(
        line.startswith("t.yaml:4:3: parameters.hiden: model dprnn: unknown hyperparameter")
        and "did you mean 'hidden'?" in line
        for line in lines
    ), lines


def test_nested_parameters_reach_only_programs(errors) -> None:
    text = "model: dprnn\nparameters:\n  optimizer:\n    parameters:\n      lr: {value: 1}\n"
    assert any(
        "parameters.optimizer.lr: model dprnn" in line and "reach only a program" in line
        for line in errors(text)
    )


def test_an_unknown_fixed_value_is_located(errors) -> None:
    lines = errors("model: {name: synthetic, fixed: {nosie: 0.1}}\nparameters: {lr: {value: 1}}\n")
    assert any("model.fixed: model synthetic: unknown hyperparameter 'nosie'" in ln for ln in lines)


def test_a_metric_the_model_does_not_report_is_an_error(errors, parse) -> None:
    text = "model: dprnn\nmetric: {name: val_loss, goal: minimize}\nparameters: {lr: {value: 1}}\n"
    assert any("metric.name: model 'dprnn' does not report 'val_loss'" in ln for ln in errors(text))
    assert parse(text.replace("val_loss", "si_sdri").replace("minimize", "maximize"))
