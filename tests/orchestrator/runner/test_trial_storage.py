"""RUNGS_STORAGE: where trials checkpoint, and the fail-fast check of a multi-node cluster
without shared storage (on node lists shaped like ``ray.nodes()``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.runner.trial_storage import (
    SharedStorageMissing,
    check_storage,
    checkpoint_root,
    configured_storage,
    is_uri,
    ray_storage_path,
)

HEAD = {"NodeID": "a", "Alive": True, "NodeManagerAddress": "10.0.0.1"}
WORKER = {"NodeID": "b", "Alive": True, "NodeManagerAddress": "10.0.0.2"}
GONE = {"NodeID": "c", "Alive": False, "NodeManagerAddress": "10.0.0.3"}


def test_one_alive_node_needs_no_shared_storage():
    check_storage([HEAD], None)
    check_storage([HEAD, GONE], None)  # a dead node stays listed; it runs nothing


def test_several_alive_nodes_without_storage_fail_with_what_to_set():
    with pytest.raises(SharedStorageMissing) as caught:
        check_storage([HEAD, WORKER, GONE], None)
    message = str(caught.value)
    assert "2 alive nodes" in message and "RUNGS_STORAGE" in message and "s3://" in message


def test_several_alive_nodes_with_storage_pass():
    check_storage([HEAD, WORKER], "/mnt/shared/rungs")
    check_storage([HEAD, WORKER], "s3://bucket/rungs")


def test_the_setting_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("RUNGS_STORAGE", raising=False)
    assert configured_storage() is None
    monkeypatch.setenv("RUNGS_STORAGE", "  ")
    assert configured_storage() is None
    monkeypatch.setenv("RUNGS_STORAGE", "s3://bucket/rungs")
    assert configured_storage() == "s3://bucket/rungs"


def test_trial_checkpoints_go_to_shared_paths_and_stay_local_with_a_uri():
    sweep = Path("/data/sweeps/sweep-0003-demo")
    assert checkpoint_root(None, sweep) == sweep / "checkpoints"
    shared = Path("/mnt/shared/sweep-0003-demo/checkpoints")
    assert checkpoint_root("/mnt/shared", sweep) == shared
    assert checkpoint_root("file:///mnt/shared", sweep) == shared
    assert checkpoint_root("s3://b/r", sweep) == sweep / "checkpoints"  # Ray keeps the copies
    assert (
        is_uri("s3://b/r") and not is_uri("file:///mnt") and not is_uri("/mnt") and not is_uri(None)
    )


def test_ray_storage_path_keeps_each_sweep_apart():
    sweep = Path("/data/sweeps/sweep-0003-demo")
    assert ray_storage_path(None, sweep) == "/data/sweeps/sweep-0003-demo/ray"
    assert ray_storage_path("/mnt/shared/", sweep) == "/mnt/shared/sweep-0003-demo/ray"
    assert ray_storage_path("s3://b/r", sweep) == "s3://b/r/sweep-0003-demo/ray"
