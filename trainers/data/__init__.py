"""The data layer: the espeak-ng demo corpus, LibriMix-style manifests, nested subsets and the
separation datasets the training loop iterates.

Names are imported lazily so that making a corpus (e.g. in a spawned worker process) never
pays for importing torch; only :mod:`trainers.data.datasets` needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainers.data.datasets import (
        SeparationData,
        SeparationTrainSet,
        SeparationValidSet,
        build_separation_data,
    )
    from trainers.data.demo import default_cache_dir, synthesize_demo_corpus
    from trainers.data.manifest import ManifestError, MixtureRecord, read_manifest
    from trainers.data.subsets import nested_subset

_EXPORTS = {
    "SeparationData": "trainers.data.datasets",
    "SeparationTrainSet": "trainers.data.datasets",
    "SeparationValidSet": "trainers.data.datasets",
    "build_separation_data": "trainers.data.datasets",
    "default_cache_dir": "trainers.data.demo",
    "synthesize_demo_corpus": "trainers.data.demo",
    "ManifestError": "trainers.data.manifest",
    "MixtureRecord": "trainers.data.manifest",
    "read_manifest": "trainers.data.manifest",
    "nested_subset": "trainers.data.subsets",
}

__all__ = [
    "ManifestError",
    "MixtureRecord",
    "SeparationData",
    "SeparationTrainSet",
    "SeparationValidSet",
    "build_separation_data",
    "default_cache_dir",
    "nested_subset",
    "read_manifest",
    "synthesize_demo_corpus",
]


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'trainers.data' has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)
