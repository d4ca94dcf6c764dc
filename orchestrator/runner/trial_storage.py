"""Where trials keep their checkpoints on a Ray cluster: the ``RUNGS_STORAGE`` setting.

Ray Tune persists every checkpoint a trial reports into its run's ``storage_path``. On one
machine that is the sweep folder. On a cluster of several machines a trial runs on whichever node
has room, and a worker node cannot see the head node's local folder: Ray raises when a trial
there persists its first checkpoint. Such a cluster needs storage that every node reaches: a
filesystem path mounted at the same place on every node (NFS, a cluster filesystem) or a URI
Ray supports (``s3://bucket/prefix``, ``gs://...``).

Trials also keep their own checkpoint folders there (:func:`checkpoint_root`), which an
interrupted trial continues from.

``RUNGS_STORAGE`` is the one setting (an environment variable, so that ``rungs run``, ``rungs
worker`` and ``rungs serve`` read it alike). A sweep run with more than one alive node and no
``RUNGS_STORAGE`` fails before its first trial (:func:`check_storage`), with a message that says
what to set; after setting it, ``rungs resume`` continues the sweep.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

STORAGE_ENV = "RUNGS_STORAGE"


class SharedStorageMissing(RuntimeError):
    """A multi-node Ray cluster, and no storage that every node can reach."""


def configured_storage() -> str | None:
    """``$RUNGS_STORAGE`` (a shared path or a URI), None when unset or blank."""
    value = os.environ.get(STORAGE_ENV, "").strip()
    return value or None


def alive_nodes(nodes: Sequence[Mapping[str, Any]]) -> int:
    """How many of ``ray.nodes()`` are alive (dead nodes stay listed)."""
    return sum(1 for node in nodes if node.get("Alive"))


def check_storage(nodes: Sequence[Mapping[str, Any]], storage: str | None) -> None:
    """Raise SharedStorageMissing when more than one node is alive and ``storage`` is unset."""
    alive = alive_nodes(nodes)
    if alive > 1 and not storage:
        raise SharedStorageMissing(
            f"this Ray cluster has {alive} alive nodes, but {STORAGE_ENV} is not set: trials on "
            "other nodes cannot save checkpoints into this machine's sweep folder. Set "
            f"{STORAGE_ENV} to a folder every node mounts at the same path (e.g. "
            f"{STORAGE_ENV}=/mnt/shared/rungs) or to a URI Ray supports (e.g. "
            f"{STORAGE_ENV}=s3://bucket/rungs), then resume the sweep"
        )


def is_uri(storage: str | None) -> bool:
    """A URI Ray supports (``s3://``, ``gs://``...), not a filesystem path (``file://`` is one)."""
    return bool(storage) and "://" in str(storage) and not str(storage).startswith("file://")


def checkpoint_root(storage: str | None, sweep_dir: Path) -> Path:
    """Where trials keep the checkpoints an interrupted trial continues from (one folder per
    stage and trial key, the same in every run of the sweep): under ``RUNGS_STORAGE`` when it is
    a filesystem path, which every node sees, else in the sweep folder. With a URI, trials write
    to their node's local sweep folder: a trial that ``rungs resume`` re-runs on another node
    starts again at epoch 1 (a retry within one run still continues, from Ray's copy)."""
    if not storage or is_uri(storage):
        return sweep_dir / "checkpoints"
    path = storage[len("file://") :] if storage.startswith("file://") else storage
    return Path(path).expanduser() / sweep_dir.name / "checkpoints"


def ray_storage_path(storage: str | None, sweep_dir: Path) -> str:
    """Ray's ``storage_path`` for a sweep: ``<storage>/<sweep folder name>/ray`` with shared
    storage, else ``<sweep folder>/ray``."""
    if not storage:
        return str(sweep_dir / "ray")
    return f"{storage.rstrip('/')}/{sweep_dir.name}/ray"
