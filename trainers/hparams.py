"""The hyperparameter names a registered model accepts, known without importing torch.

The sweep-file parser checks every searched and fixed name against these before anything runs
(an unknown name would otherwise fail every trial at run time, after the search started):

* a neural model (:mod:`trainers.models`) accepts the fields of its ``Config`` dataclass and
  those of the training loop's :class:`trainers.config.LoopConfig`. Both modules import torch,
  which the parser (``rungs validate``, the API) must not pay for, so the fields are read from
  their source: the annotated attributes of the class body, which is what ``dataclasses.fields``
  lists for these plain dataclasses (a test compares the two);
* a learning-curve module (:mod:`trainers.curves`) imports no torch and lists its names in
  ``HPARAMS``;
* a user's program (``program``) takes any name: None.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from functools import cache
from pathlib import Path

from trainers.registry import model_entry

LOOP_CONFIG = ("trainers.config", "LoopConfig")


@cache
def accepted_hparams(model: str) -> frozenset[str] | None:
    """Every name ``model`` accepts in ``TrialRequest.hparams``; None when any name goes."""
    entry = model_entry(model)
    if not entry.metric:  # a user's program: its own arguments
        return None
    source = _source(entry.module)
    if _class_fields(source, "Config") is None:  # a learning-curve module: cheap to import
        return frozenset(importlib.import_module(entry.module).HPARAMS)
    model_fields = _class_fields(source, "Config") or frozenset()
    loop_fields = _class_fields(_source(LOOP_CONFIG[0]), LOOP_CONFIG[1]) or frozenset()
    return model_fields | loop_fields


def _source(module: str) -> str:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"cannot find the source of {module}")
    return Path(spec.origin).read_text(encoding="utf-8")


def _class_fields(source: str, name: str) -> frozenset[str] | None:
    """The annotated attribute names of the top-level class ``name``; None without that class."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return frozenset(
                item.target.id
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            )
    return None
