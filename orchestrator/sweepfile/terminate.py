"""``early_terminate`` blocks: W&B hyperband, and Rungs' median stopping.

::

    early_terminate: {type: hyperband, min_iter: 3, eta: 3}      # rungs 3, 9, 27, ...
    early_terminate: {type: hyperband, max_iter: 27, s: 2}       # rungs 9, 3
    early_terminate: {type: median, grace: 3, min_samples: 4}    # Ray's median stopping rule
    early_terminate: null                                        # no early termination

The W&B semantics are reproduced exactly (see :mod:`stages.hyperband`); in particular W&B ignores
``s`` when ``min_iter`` is given, which we keep (and warn about) rather than "fix".
"""

from __future__ import annotations

from orchestrator.sweepfile.errors import Diagnostics
from orchestrator.sweepfile.loader import Node
from orchestrator.sweepfile.reader import Section, describe
from stages.hyperband import hyperband_rungs
from stages.spec import EarlyTerminate, Hyperband, MedianStopping

TYPES = ("hyperband", "median")
_HYPERBAND_KEYS = ("type", "min_iter", "max_iter", "s", "eta", "strict")
_MEDIAN_KEYS = ("type", "grace", "min_samples")
# eta keeps the top 1/eta at each rung; beyond this no rung after the first is reachable and
# eta**k overflows a float in the rung maths
_MAX_ETA = 100.0


def parse_early_terminate(diag: Diagnostics, node: Node, path: str) -> EarlyTerminate | None:
    """A hyperband or median block; ``null``/``false`` mean none. Errors are recorded."""
    if node.value is None or node.value is False:
        return None
    if not node.is_map:
        diag.error(
            node.where,
            path,
            f"expected a mapping with `type` (hyperband or median), or null, but got {describe(node.plain())}",
        )
        return None
    sec = Section(diag, node, path)
    kind = sec.string("type", None, choices=TYPES)
    if not sec.has("type"):
        sec.error(None, "needs `type`: hyperband or median")
    if kind == "hyperband":
        return _hyperband(sec)
    if kind == "median":
        sec.check_keys(_MEDIAN_KEYS)
        grace = sec.integer("grace", MedianStopping.grace, minimum=1)
        min_samples = sec.integer("min_samples", MedianStopping.min_samples, minimum=1)
        return MedianStopping(grace=grace, min_samples=min_samples)
    return None


def _hyperband(sec: Section) -> Hyperband | None:
    sec.check_keys(_HYPERBAND_KEYS)
    min_iter = sec.integer("min_iter", None, minimum=1)
    max_iter = sec.integer("max_iter", None, minimum=1)
    s = sec.integer("s", None, minimum=1)
    eta = sec.number("eta", Hyperband.eta, above=1.0, maximum=_MAX_ETA)
    strict = sec.boolean("strict", Hyperband.strict)  # the contract's default (W&B's: true)
    if sec.has("min_iter") and sec.has("max_iter"):
        sec.error("max_iter", "give min_iter or max_iter, not both")
        return None
    if not (sec.has("min_iter") or sec.has("max_iter")):
        sec.error(None, "hyperband needs min_iter (rungs min_iter*eta^k) or max_iter with s")
        return None
    if sec.has("max_iter") and not sec.has("s"):
        sec.error("max_iter", "max_iter needs s, the number of rungs below max_iter (W&B rule)")
        return None
    if min_iter is None and max_iter is None:
        return None  # the bad value was reported by the getter
    if min_iter is not None and sec.has("s"):
        sec.warn(
            "s",
            f"W&B ignores s when min_iter is given: rungs are min_iter*eta^k ({_first_rungs(min_iter, eta)}, ...)",
        )
    hb = Hyperband(min_iter=min_iter, max_iter=max_iter, s=s, eta=float(eta), strict=strict)
    if not hyperband_rungs(hb, max_epochs=None if min_iter is None else min_iter):
        sec.error(
            "max_iter",
            f"no rung: int(max_iter / eta**k) < 1 for every k <= s ({max_iter=}, {s=}, eta={eta:g}); raise max_iter or s, or lower eta",
        )
        return None
    return hb


def _first_rungs(min_iter: int, eta: float) -> str:
    return ", ".join(str(int(min_iter * eta**k)) for k in range(3))


def check_rungs(
    diag: Diagnostics, node: Node | None, path: str, et: EarlyTerminate | None, epochs: int
) -> None:
    """Warn when hyperband rungs lie beyond the stage's epochs (they never stop anything)."""
    if not isinstance(et, Hyperband) or node is None:
        return
    reachable = hyperband_rungs(et, max_epochs=epochs)
    if et.min_iter is not None and not reachable:
        diag.warn(
            node.where,
            path,
            f"the first hyperband rung (min_iter={et.min_iter}) is beyond the stage's {epochs} epochs: no trial is ever stopped",
        )
    elif et.max_iter is not None:
        beyond = [r for r in hyperband_rungs(et) if r > epochs]
        if beyond:
            diag.warn(
                node.where,
                path,
                f"hyperband rungs {beyond} are beyond the stage's {epochs} epochs and never apply",
            )
