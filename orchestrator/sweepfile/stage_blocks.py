"""The Rungs pipeline blocks: ``stages`` (with ``variants`` and ``narrowing``).

Defaults, so that every number can be left out:

* stage ``i`` (0-based) is named ``stage{i+1}`` with subset ``2000 * 2**i`` (2K, 4K, 8K);
* ``method`` and ``early_terminate`` come from the top level; ``early_terminate: null`` turns
  early termination off for one stage or variant;
* ``trials`` defaults to ``run_cap``, else 20; in a stage with ``variants`` it is the default
  trial count of each variant;
* ``epochs``: the stage's, else the top-level ``epochs``, else a constant ``parameters.epochs``,
  else hyperband's ``max_iter``, else 20;
* ``narrow_from`` defaults to the previous stage (``null``: search the full space again);
  ``narrowing: false`` keeps the full space but still warm-starts from ``narrow_from``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import get_args

from orchestrator.sweepfile.errors import Diagnostics, join_path
from orchestrator.sweepfile.loader import Node
from orchestrator.sweepfile.reader import Section, describe
from orchestrator.sweepfile.terminate import check_rungs, parse_early_terminate
from stages.spec import EarlyTerminate, Hyperband, Method, Narrowing, Stage, Variant

METHODS: tuple[str, ...] = get_args(Method)
STAGE_KEYS = (
    "name",
    "subset",
    "method",
    "trials",
    "epochs",
    "early_terminate",
    "narrow_from",
    "narrowing",
    "warm_start",
    "variants",
)
DEFAULT_SUBSET = 2000
DEFAULT_TRIALS = 20
DEFAULT_EPOCHS = 20
# Stage and variant names become folder names (<sweep>/ray/<stage>): one safe component, never
# "." or "..", no trailing newline (\Z, not $), and short enough for the database's columns.
_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\Z")


@dataclass(frozen=True)
class Defaults:
    """What a stage inherits from the top level of the file."""

    method: Method
    early_terminate: EarlyTerminate | None
    et_node: Node | None
    epochs: int | None
    trials: int
    subset: int
    method_pos: tuple[int, int] = (1, 1)
    grid_blockers: tuple[str, ...] = ()  # parameters grid search cannot enumerate


def resolve_epochs(explicit: int | None, defaults: Defaults, et: EarlyTerminate | None) -> int:
    if explicit is not None:
        return explicit
    if defaults.epochs is not None:
        return defaults.epochs
    if isinstance(et, Hyperband) and et.max_iter is not None:
        return et.max_iter
    return DEFAULT_EPOCHS


def parse_stages(diag: Diagnostics, nodes: list[Node], defaults: Defaults) -> tuple[Stage, ...]:
    stages: list[Stage] = []
    for i, node in enumerate(nodes):
        path = join_path("stages", i)
        if not node.is_map:
            diag.error(
                node.where,
                path,
                f"expected a mapping (name, subset, trials, ...), but got {describe(node.plain())}",
            )
            continue
        sec = Section(diag, node, path)
        stage = _stage(sec, i, defaults, stages)
        if stages and stage.subset <= stages[-1].subset:
            prev = stages[-1]
            sec.error(
                "subset",
                f"subset ({stage.subset}) must be larger than the previous stage's ({prev.subset}, "
                f"stage {prev.name!r}): stages grow the data",
            )
        stages.append(stage)
    return tuple(stages)


def _name(sec: Section, key: str, default: str | None) -> str | None:
    name = sec.string(key, default)
    if name is not None and not _SLUG.match(name):
        sec.error(key, f"must be 1-100 letters, digits, '_', '.' or '-', but got {name!r}")
        return default
    return name


def _stage(sec: Section, i: int, defaults: Defaults, earlier: list[Stage]) -> Stage:
    sec.check_keys(STAGE_KEYS)
    name = _name(sec, "name", f"stage{i + 1}") or f"stage{i + 1}"
    if any(s.name == name for s in earlier):
        sec.error("name", f"duplicate stage name {name!r}")
    et, et_node = defaults.early_terminate, defaults.et_node
    if sec.has("early_terminate"):
        et_node = sec.get("early_terminate")
        et = parse_early_terminate(sec.diag, et_node, sec.field("early_terminate"))  # type: ignore[arg-type]
    epochs = resolve_epochs(sec.integer("epochs", None, minimum=1), defaults, et)
    check_rungs(
        sec.diag,
        et_node,
        sec.field("early_terminate") if sec.has("early_terminate") else "early_terminate",
        et,
        epochs,
    )
    trials = sec.integer("trials", defaults.trials, minimum=1)
    narrow_from = _narrow_from(sec, earlier)
    method = sec.string("method", defaults.method, choices=METHODS)
    _check_grid(sec, method, defaults)
    return Stage(
        name=name,
        subset=sec.integer("subset", defaults.subset * 2**i, minimum=1),
        trials=trials,
        epochs=epochs,
        method=method,
        early_terminate=et,
        variants=_variants(sec, trials, et, epochs),
        narrow_from=narrow_from,
        narrowing=_narrowing(sec, used=narrow_from is not None),
        warm_start=sec.boolean("warm_start", Stage.warm_start),
    )


def _narrow_from(sec: Section, earlier: list[Stage]) -> str | None:
    if not sec.has("narrow_from"):
        return earlier[-1].name if earlier else None
    value = sec.raw("narrow_from")
    if value is None:
        return None
    names = [s.name for s in earlier]
    if value in names:
        return str(value)
    if not names:
        sec.error(
            "narrow_from",
            f"the first stage has no earlier stage to narrow from, but got {describe(value)}",
        )
    else:
        message = f"must name an earlier stage, but got {describe(value)}"
        sec.error("narrow_from", f"{message} (earlier stages: {', '.join(names)})")
    return None


def _narrowing(sec: Section, used: bool) -> Narrowing:
    if isinstance(sec.raw("narrowing"), bool):  # `narrowing: false`: full space, still warm
        enabled = sec.boolean("narrowing", Narrowing.enabled)
        if not used:
            sec.warn("narrowing", "narrowing is unused: this stage has no narrow_from")
        return Narrowing(enabled=enabled)
    value = sec.raw("narrowing")
    if value is not None and not isinstance(value, dict):
        sec.error(
            "narrowing",
            "expected a mapping (top, top_count, margin, min_width, min_categories, min_agreement, "
            "trials_by_agreement) or false, "
            f"but got {describe(value)}",
        )
        return Narrowing()
    nar = sec.section("narrowing")
    if nar is None:
        return Narrowing()
    nar.check_keys(
        (
            "top",
            "top_count",
            "margin",
            "min_width",
            "min_categories",
            "min_agreement",
            "trials_by_agreement",
        )
    )
    if not used:
        nar.warn(None, "narrowing is unused: this stage has no narrow_from")
    default = Narrowing()
    narrowing = Narrowing(
        top=nar.number("top", default.top, above=0.0, maximum=1.0),
        top_count=nar.integer("top_count", default.top_count, minimum=1),
        margin=nar.number("margin", default.margin, minimum=0.0),
        min_width=nar.number("min_width", default.min_width, above=0.0, maximum=1.0),
        min_categories=nar.integer("min_categories", default.min_categories, minimum=1),
        min_agreement=nar.number(
            "min_agreement", default.min_agreement, minimum=-1.0, maximum=1.0, nullable=True
        ),
        trials_by_agreement=nar.boolean("trials_by_agreement", default.trials_by_agreement),
    )
    if narrowing.trials_by_agreement and narrowing.min_agreement is None:
        nar.warn(
            "trials_by_agreement",
            "has no effect with min_agreement: null (the agreement is then not measured)",
        )
    return narrowing


def _variants(
    sec: Section, trials: int, et: EarlyTerminate | None, epochs: int
) -> tuple[Variant, ...]:
    nodes = sec.sequence("variants")
    if nodes is None:
        return ()
    if not nodes:
        sec.error("variants", "expected at least one variant (or leave `variants` out)")
    out: list[Variant] = []
    for j, node in enumerate(nodes):
        path = join_path(sec.field("variants"), j)
        if not node.is_map:
            sec.diag.error(
                node.where,
                path,
                f"expected a mapping (name, trials, early_terminate), but got {describe(node.plain())}",
            )
            continue
        variant = _variant(Section(sec.diag, node, path), trials, et, epochs)
        if variant is None:
            continue
        if any(v.name == variant.name for v in out):
            Section(sec.diag, node, path).error("name", f"duplicate variant name {variant.name!r}")
        out.append(variant)
    return tuple(out)


def _variant(sec: Section, trials: int, et: EarlyTerminate | None, epochs: int) -> Variant | None:
    sec.check_keys(("name", "trials", "early_terminate"))
    name = _name(sec, "name", None)
    if not sec.has("name"):
        sec.error(None, "a variant needs a name")
    if sec.has("early_terminate"):
        node = sec.get("early_terminate")
        et = parse_early_terminate(sec.diag, node, sec.field("early_terminate"))  # type: ignore[arg-type]
        check_rungs(sec.diag, node, sec.field("early_terminate"), et, epochs)
    count = sec.integer("trials", trials, minimum=1)
    return None if name is None else Variant(name=name, early_terminate=et, trials=count)


def _check_grid(sec: Section, method: str, defaults: Defaults) -> None:
    if method != "grid" or not defaults.grid_blockers:
        return
    message = "grid search needs finite parameters (values, int_uniform, q_uniform), but these are continuous: "
    message += ", ".join(defaults.grid_blockers)
    if sec.has("method"):
        sec.error("method", message)
    else:  # inherited from the top level: point there (reported once, however many stages)
        sec.diag.error(defaults.method_pos, "method", message)
