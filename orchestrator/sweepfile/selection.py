"""The ``selection`` (diversity-aware top-k) and ``validation`` (top-k x seeds) blocks.

* ``selection.from_stages`` defaults to the last stage; ``k`` cannot exceed the trials those
  stages run (an upper bound on what can finish).
* ``validation.subset`` defaults to :class:`~stages.spec.Validation`'s, or the last stage's subset
  when that is larger; it may not be smaller than the last stage's. ``validation.epochs: null``
  means the last stage's epochs. ``validation.racing`` races the seeds (:mod:`stages.racing`),
  ``alpha`` is its test level and ``reinvest`` gives what a drop saves to the finalists.

Every other default is the dataclass's own (:mod:`stages.spec`): a dataclass field's class
attribute is its default, so ``Selection.k`` is read here, never repeated.
"""

from __future__ import annotations

from orchestrator.sweepfile.errors import unknown_name
from orchestrator.sweepfile.reader import Section, describe
from stages.spec import Selection, Stage, Validation

SELECTION_KEYS = (
    "k",
    "diversity",
    "balance_variants",
    "balance_tolerance",
    "from_stages",
    "require_full_budget",
)
VALIDATION_KEYS = ("enabled", "subset", "seeds", "epochs", "racing", "alpha", "reinvest")


def parse_selection(sec: Section, stages: tuple[Stage, ...]) -> Selection:
    sec.check_keys(SELECTION_KEYS)
    selection = Selection(
        k=sec.integer("k", Selection.k, minimum=1),
        diversity=sec.number("diversity", Selection.diversity, minimum=0.0),
        balance_variants=sec.boolean("balance_variants", Selection.balance_variants),
        balance_tolerance=sec.number("balance_tolerance", Selection.balance_tolerance, minimum=0.0),
        from_stages=_from_stages(sec, stages),
        require_full_budget=sec.boolean("require_full_budget", Selection.require_full_budget),
    )
    pool = [s for s in stages if s.name in selection.from_stages] or list(stages[-1:])
    can_finish = sum(s.total_trials for s in pool)
    if pool and selection.k > can_finish:
        names = ", ".join(s.name for s in pool)
        where = "k" if sec.has("k") else None
        sec.error(
            where,
            f"k ({selection.k}) is larger than the {can_finish} trials that can finish in {names}",
        )
    return selection


def _from_stages(sec: Section, stages: tuple[Stage, ...]) -> tuple[str, ...]:
    value = sec.raw("from_stages", list(Selection.from_stages))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        sec.error("from_stages", f"expected a list of stage names, but got {describe(value)}")
        return ()
    names = [s.name for s in stages]
    for name in value:
        if name not in names:
            sec.error("from_stages", unknown_name("stage", name, names))
    return tuple(v for v in value if v in names)


def parse_validation(sec: Section, stages: tuple[Stage, ...]) -> Validation:
    sec.check_keys(VALIDATION_KEYS)
    last = max((s.subset for s in stages), default=0)
    subset = sec.integer("subset", max(Validation.subset, last), minimum=1)
    if sec.has("subset") and subset < last:
        sec.error(
            "subset",
            f"subset ({subset}) is below the last stage's ({last}): validation trains on at least as much data",
        )
    validation = Validation(
        enabled=sec.boolean("enabled", Validation.enabled),
        subset=subset,
        seeds=_seeds(sec),
        epochs=sec.integer("epochs", Validation.epochs, minimum=1),
        racing=sec.boolean("racing", Validation.racing),
        alpha=sec.number("alpha", Validation.alpha, above=0.0),
        reinvest=sec.boolean("reinvest", Validation.reinvest),
    )
    if validation.alpha >= 1:
        sec.error("alpha", f"alpha is a significance level in (0, 1), but got {validation.alpha}")
    if validation.racing and len(validation.seeds) < 2:
        sec.error("racing", "a race compares seeds: it needs at least 2 validation seeds")
    return validation


def _seeds(sec: Section) -> tuple[int, ...]:
    default = Validation.seeds
    value = sec.raw("seeds", list(default))
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        sec.error("seeds", f"expected a list of integer seeds, but got {describe(value)}")
        return default
    if not value:
        sec.error("seeds", "expected at least one seed, but got an empty list")
        return default
    if len(set(value)) != len(value):
        sec.error("seeds", f"seeds must be distinct, but got {value}")
    return tuple(value)
