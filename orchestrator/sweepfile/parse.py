"""Sweep YAML -> :class:`stages.spec.SweepSpec`, with every error located and reported at once.

The format is the W&B sweep schema plus Rungs blocks; a plain W&B sweep file is a valid one-stage
sweep. Top-level keys:

=================  =========================================================================
W&B keys           ``method`` (grid | random | bayes, default bayes), ``metric {name, goal,
                   target}``, ``parameters`` (every W&B distribution, nested ones flattened),
                   ``early_terminate``, ``run_cap``, ``name`` (the sweep name), ``description``
ignored W&B keys   ``program``, ``command``, ``entity``, ``project``, ``job``, ``image_uri``,
                   ``controller``, ``apiVersion``, ``kind``, ``scheduler`` (warning)
model              ``model: {name, preset, fixed: {...}}`` or ``model: dprnn``
dataset            ``{kind: demo | manifest, train_manifest, valid_manifest, valid_size,
                   sample_rate, segment_seconds, seed}``
resources          ``{cpus_per_trial, gpus_per_trial (fractional ok), max_concurrent}``
epochs, subset     defaults for stages (``subset`` only for a sweep without ``stages``)
stages             a list of ``{name, subset, method, trials, epochs, early_terminate,
                   narrow_from, narrowing {top, top_count, margin, min_width, min_categories},
                   warm_start, variants [{name, trials, early_terminate}]}``
selection          ``{k, diversity, balance_variants, balance_tolerance, from_stages,
                   require_full_budget}``
validation         ``{enabled, subset, seeds, epochs}``
wandb              ``false`` | ``true`` | ``{mode: offline | online | disabled, project, entity,
                   group}``
seed               the sweep's base seed
=================  =========================================================================

Defaults are documented in :mod:`orchestrator.sweepfile.stage_blocks` and :mod:`.selection`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from orchestrator.sweepfile import blocks
from orchestrator.sweepfile.blocks import PROGRAM_MODEL
from orchestrator.sweepfile.bounds import MAX_DOCUMENT_CHARS
from orchestrator.sweepfile.errors import Diagnostics, SpecErrors, SpecWarning
from orchestrator.sweepfile.loader import Node, compose
from orchestrator.sweepfile.names import name_problem
from orchestrator.sweepfile.parameters import grid_compatible, parse_parameter_block
from orchestrator.sweepfile.program import (
    PROGRAM_KEYS,
    ProgramPlace,
    check_program_plan,
    parse_program,
    quote_flow_command,
    searched_names,
)
from orchestrator.sweepfile.reader import Section, describe
from orchestrator.sweepfile.selection import parse_selection, parse_validation
from orchestrator.sweepfile.stage_blocks import (
    DEFAULT_SUBSET,
    DEFAULT_TRIALS,
    METHODS,
    Defaults,
    parse_stages,
)
from orchestrator.sweepfile.terminate import parse_early_terminate
from stages.space import Constant, Space
from stages.spec import Model, Stage, SweepSpec

WANDB_KEYS = ("method", "metric", "parameters", "early_terminate", "run_cap", "name", "description")
RUNGS_KEYS = (
    "model",
    "dataset",
    "resources",
    "epochs",
    "subset",
    "stages",
    "selection",
    "validation",
    "wandb",
    "seed",
    *PROGRAM_KEYS,
)
_IGNORED = (
    "entity",
    "project",
    "job",
    "image_uri",
    "controller",
    "apiVersion",
    "kind",
    "scheduler",
)
IGNORED_KEYS = {key: "a W&B key Rungs does not use: ignored" for key in _IGNORED}
IGNORED_KEYS |= {k: f"ignored: set it under `wandb: {{{k}: ...}}`" for k in ("entity", "project")}


@dataclass(frozen=True)
class ParsedSweep:
    """A valid sweep file: the resolved spec, its warnings and the exact text it came from."""

    spec: SweepSpec
    warnings: list[SpecWarning] = field(default_factory=list)
    yaml_text: str = ""
    filename: str = "<string>"


def load_spec(path: str | Path) -> ParsedSweep:
    """Read and parse a sweep file; raises :class:`SpecErrors` (an unreadable file included)."""
    path = Path(path)
    try:  # one character past the limit is enough for compose to refuse it
        with path.open(encoding="utf-8") as file:
            text = file.read(MAX_DOCUMENT_CHARS + 1)
    except (OSError, UnicodeDecodeError) as exc:
        diag = Diagnostics(str(path))
        diag.error((1, 1), "", f"cannot read the file: {exc}")
        raise SpecErrors(diag.errors) from None
    return parse_spec(text, filename=str(path), place=ProgramPlace(base_dir=path.parent.absolute()))


def parse_spec(
    text: str, filename: str = "<string>", place: ProgramPlace | None = None
) -> ParsedSweep:
    """Parse sweep YAML text; raises :class:`SpecErrors` holding every error of the text.
    ``place`` says where a relative ``program:`` is (default: nowhere; see :mod:`.program`)."""
    diag = Diagnostics(filename)
    root = compose(quote_flow_command(text), diag)
    if root is not None and not root.is_map:
        diag.error(
            root.where,
            "",
            f"the document must be a mapping of keys (method, parameters, ...), but got {describe(root.plain())}",
        )
    diag.raise_if_errors()
    assert root is not None  # compose reported an error otherwise
    spec = _sweep(Section(diag, root, ""), filename, place or ProgramPlace())
    diag.raise_if_errors()
    warnings = sorted(diag.warnings, key=lambda w: (w.line, w.column))
    return ParsedSweep(spec=spec, warnings=warnings, yaml_text=text, filename=filename)


def _sweep(root: Section, filename: str, place: ProgramPlace) -> SweepSpec:
    root.check_keys((*WANDB_KEYS, *RUNGS_KEYS), ignored=IGNORED_KEYS)
    if root.has("metrics"):
        root.error("metrics", "multi-objective `metrics` is not supported: give one `metric`")
    model = _model(root)
    block = parse_parameter_block(root.diag, root.get("parameters"))
    space = block.space
    lifted = _lift_epochs(root, space) if _epochs_is_budget(root) else None
    blocks.check_hparam_names(root, model, space)
    program = parse_program(root, place, searched_names(list(space), block.nested))
    if program is not None:
        program = replace(program, nested=block.nested)
    defaults = _defaults(root, lifted, space)
    stages = _stages(root, defaults)
    validation = parse_validation(
        root.section("validation") or Section(root.diag, None, "validation"), stages
    )
    if program is not None:
        check_program_plan(root, program, validation)
    return SweepSpec(
        name=_sweep_name(root, filename),
        metric=blocks.parse_metric(root, model.name),
        parameters=space,
        model=model,
        method=defaults.method,
        early_terminate=defaults.early_terminate,
        run_cap=root.integer("run_cap", SweepSpec.run_cap, minimum=1),
        dataset=blocks.parse_dataset(root.section("dataset")),
        resources=blocks.parse_resources(root.section("resources")),
        stages=stages,
        selection=parse_selection(
            root.section("selection") or Section(root.diag, None, "selection"), stages
        ),
        validation=validation,
        wandb=blocks.parse_wandb(root),
        seed=root.integer("seed", SweepSpec.seed),
        program=program,
    )


def _model(root: Section) -> Model:
    """The built-in model, or the ``program`` entry for a sweep of a user's own script."""
    if not root.has("program"):
        return blocks.parse_model(root)
    if root.has("model"):
        root.error("model", "give either `model` (a built-in model) or `program` (your script)")
    return Model(name=PROGRAM_MODEL)


def _epochs_is_budget(root: Section) -> bool:
    """A constant ``parameters.epochs`` is the stage budget for built-in models; a program gets
    it unchanged, as under W&B, unless ``program_parameters.epochs`` names it."""
    if not root.has("program"):
        return True
    mapping = root.raw("program_parameters")
    return isinstance(mapping, dict) and mapping.get("epochs") == "epochs"


def _sweep_name(root: Section, filename: str) -> str:
    name = root.string("name", None)
    if name is None:
        return _default_name(filename)
    problem = name_problem(name)
    if problem is not None:
        root.error("name", problem)
    return str(name)


def _default_name(filename: str) -> str:
    """The file's stem, when it makes a valid name (the API's clients choose file names)."""
    stem = Path(filename).stem if not filename.startswith("<") else ""
    return stem if stem and name_problem(stem) is None else "sweep"


def _lift_epochs(root: Section, space: Space) -> int | None:
    """A constant ``parameters.epochs`` is the training budget, not a hyperparameter: lift it out
    of the space (the trainers take epochs from the stage)."""
    param = space.get("epochs")
    if param is None:
        return None
    node = root.get("parameters")
    where = (
        node.value["epochs"].where
        if node is not None and node.is_map and "epochs" in node.value
        else root.where
    )
    if (
        not isinstance(param, Constant)
        or not isinstance(param.value, int)
        or isinstance(param.value, bool)
        or param.value < 1
    ):
        root.diag.error(
            where,
            "parameters.epochs",
            "epochs is the stage's training budget and cannot be searched: use a constant {value: N} or `epochs:`",
        )
        return None
    del space["epochs"]
    root.diag.warn(
        where,
        "parameters.epochs",
        f"a constant epochs ({param.value}) is the training budget: lifted out of the search space",
    )
    return param.value


def _defaults(root: Section, lifted_epochs: int | None, space: Space) -> Defaults:
    et_node: Node | None = root.get("early_terminate")
    et = (
        parse_early_terminate(root.diag, et_node, "early_terminate")
        if et_node is not None
        else None
    )
    run_cap = root.integer("run_cap", None, minimum=1)
    return Defaults(
        method=root.string("method", SweepSpec.method, choices=METHODS),
        early_terminate=et,
        et_node=et_node,
        epochs=root.integer("epochs", None, minimum=1) or lifted_epochs,
        trials=run_cap or DEFAULT_TRIALS,
        subset=root.integer("subset", DEFAULT_SUBSET, minimum=1),
        method_pos=root.get("method").where if root.has("method") else root.where,  # type: ignore[union-attr]
        grid_blockers=tuple(
            f"{n} ({p.source})" for n, p in space.items() if not grid_compatible(p)
        ),
    )


def _stages(root: Section, defaults: Defaults) -> tuple[Stage, ...]:
    nodes = root.sequence("stages")
    if nodes is None:  # a plain W&B sweep: one stage
        nodes = [Node({}, root.where)]
    elif not nodes:
        root.error("stages", "expected at least one stage (or leave `stages` out for one)")
        nodes = [Node({}, root.where)]
    elif root.has("subset"):
        root.warn("subset", "ignored: `subset` is the default of a sweep without `stages`")
    return parse_stages(root.diag, nodes, defaults)
