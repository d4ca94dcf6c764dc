"""W&B per-trial logging: off by spec or environment, offline into the sweep folder otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.runner.wandb_logging import wandb_reporter, wandb_settings
from trainers import ListReporter


def test_settings_follow_spec_and_environment(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    kw = dict(sweep="s", stage="stage1", sweep_dir=tmp_path)
    assert wandb_settings(None, **kw) is None  # `wandb: false`
    assert wandb_settings({"mode": "disabled"}, **kw) is None
    settings = wandb_settings({"mode": "offline"}, **kw)
    assert settings is not None and (settings.group, settings.job_type, settings.mode) == (
        "s",
        "stage1",
        "offline",
    )
    with pytest.raises(ValueError, match="wandb.mode must be one of"):
        wandb_settings({"mode": "cloud"}, **kw)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wandb_settings({"mode": "online"}, **kw) is None


def test_offline_run_is_written_into_the_sweep_folder(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    settings = wandb_settings(
        {"mode": "offline", "project": "p"}, sweep="s", stage="stage1", sweep_dir=tmp_path
    )
    inner = ListReporter()
    with wandb_reporter(settings, inner, name="main-000", config={"lr": 0.1}) as reporter:
        reporter.report({"score": 1.0, "epoch": 1})
        reporter.report({"score": 2.0, "epoch": 2})
    assert [r["score"] for r in inner.reports] == [1.0, 2.0]
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))
