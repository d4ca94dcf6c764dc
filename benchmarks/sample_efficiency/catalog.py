"""Every strategy by name: what ``--strategies`` accepts.

``STRATEGIES`` run by default; ``PEERS`` are the external optimisers (installed by the ``bench``
extra in ``.venv-bench``: benchmarks/setup_bench_env.sh), loaded only when asked for;
``DIAGNOSTICS`` explain a result rather than compete.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from benchmarks.sample_efficiency.strategies import Outcome, Run, asha, flat, optuna_hb, progressive
from benchmarks.sample_efficiency.subset_hb import (
    subset_hyperband,
    subset_hyperband_minus_validation,
)

Strategy = Callable[[Run], Outcome]

STRATEGIES: dict[str, Strategy] = {
    "progressive": progressive,
    "flat": flat,
    "asha": asha,
    "optuna": optuna_hb,
    "subset-hb": subset_hyperband,
}
# name -> (module of benchmarks.sample_efficiency, function, the package it needs)
PEERS: dict[str, tuple[str, str, str]] = {
    "smac": ("smac_peer", "smac_hyperband", "smac"),
    "dehb": ("dehb_peer", "dehb", "dehb"),
    "syne-tune": ("synetune_peer", "syne_tune_bohb", "syne_tune"),
}
DIAGNOSTICS: dict[str, Strategy] = {
    "subset-hb-minus-validation": subset_hyperband_minus_validation,
}


class PeerMissing(RuntimeError):
    """An external peer was asked for but its package is not installed here."""


def peer(name: str) -> Strategy:
    """The peer's strategy; PeerMissing (with how to install it) when its package is absent."""
    module, function, package = PEERS[name]
    try:
        importlib.import_module(package)
    except ImportError as exc:
        raise PeerMissing(
            f"strategy {name!r} needs the package {package!r} (the `bench` extra): run "
            "benchmarks/setup_bench_env.sh and use .venv-bench/bin/python"
        ) from exc
    loaded = importlib.import_module(f"benchmarks.sample_efficiency.{module}")
    return getattr(loaded, function)  # type: ignore[no-any-return]


def valid_names() -> list[str]:
    return [*STRATEGIES, *PEERS, *DIAGNOSTICS]


def strategy(name: str) -> Strategy:
    if name in PEERS:
        return peer(name)
    return {**STRATEGIES, **DIAGNOSTICS}[name]
