"""One truth for the picks: once a sweep's selection has run, the top-k file, ``rungs top``,
``GET /api/sweeps/{id}/top`` (what the dashboard reads) and ``/top.csv``, and the report all show
the stored picks, in the same order, under the same names; another k is a labelled
re-computation, and a sweep without selection gets a labelled preview."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from orchestrator.api import create_app
from orchestrator.api.settings import Settings
from orchestrator.cli import main
from orchestrator.runner.pipeline import run_sweep
from orchestrator.storage import open_storage
from orchestrator.storage.base import BaseStorage
from orchestrator.sweepfile import parse_spec, spec_to_dict
from tests.orchestrator.runner.conftest import QUICK, SimExecutor

K = 3
YAML = QUICK.replace("selection: {k: 2,", f"selection: {{k: {K},")
# what identifies a pick on every surface: its name, the trial it came from, and that trial's id
KEYS = ["rank", "name", "source", "trial_id"]


def _identity(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in frame[KEYS].itertuples(index=False)]


def _markdown_rows(text: str) -> list[list[str]]:
    """The cells of a Markdown table's body rows (the header and the rule dropped)."""
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[1:]]


@pytest.fixture
def swept(tmp_path: Path) -> tuple[str, BaseStorage, int]:
    """A sweep run to the end on the simulated executor: search, selection, validation."""
    url = f"sqlite:///{tmp_path / 'rungs.db'}"
    storage = open_storage(url)
    spec = parse_spec(YAML, "quick.yaml").spec
    sweep_id = storage.create_sweep(spec.name, spec_to_dict(spec), YAML, state="running")
    run_sweep(
        storage, sweep_id, workdir=tmp_path / "w", executor=SimExecutor(tmp_path), progress=False
    )
    assert storage.get_sweep(sweep_id).state == "completed"
    return url, storage, sweep_id


def test_every_surface_shows_the_stored_picks(swept, tmp_path, capsys):
    url, storage, sweep_id = swept
    select = next(s for s in storage.get_stages(sweep_id) if s.name == "select")
    stored = select.summary["picks"]
    expected = [(p["rank"], p["name"], p["source"], p["trial_id"]) for p in stored]
    assert [e[1] for e in expected] == [f"config{r}" for r in range(1, K + 1)]
    # the names are the validation runs' names
    validated = {t.name for t in storage.get_trials(sweep_id, stage="validate")}
    assert validated == {e[1] for e in expected}

    written = pd.read_csv(select.summary["csv"])  # the file the pipeline wrote
    assert _identity(written) == expected

    assert main(["top", str(sweep_id), "--db", url, "--csv", str(tmp_path / "cli.csv")]) == 0
    out = capsys.readouterr()
    assert out.err.startswith("Stored picks of the selection stage")
    cli_rows = [row[:4] for row in _markdown_rows(out.out)]
    assert cli_rows == [[str(c) for c in e] for e in expected]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "cli.csv"), written)

    with TestClient(create_app(Settings(database_url=url), storage)) as client:
        body = client.get(f"/api/sweeps/{sweep_id}/top").json()  # the dashboard's source
        csv = client.get(f"/api/sweeps/{sweep_id}/top.csv")
        report = client.get(f"/api/sweeps/{sweep_id}/report", params={"format": "json"}).json()
        markdown = client.get(f"/api/sweeps/{sweep_id}/report", params={"format": "md"}).text
        ranking = client.get(f"/api/sweeps/{sweep_id}/ranking").json()
    assert (body["source"], body["k"], body["note"]) == ("stored", K, None)
    assert _identity(pd.DataFrame(body["rows"])) == expected
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(csv.text)), written)
    disposition = f'attachment; filename="top{K}_configs_for_validation.csv"'
    assert csv.headers["content-disposition"] == disposition
    assert report["top_k_source"] == "stored"
    assert _identity(pd.DataFrame(report["top_k"])) == expected
    assert [row[:4] for row in _markdown_rows(markdown.split("## Top-k")[1])][:K] == [
        [str(c) for c in e] for e in expected
    ]
    sources = {e[1]: e[2] for e in expected}
    assert {r["config"]: r["source"] for r in ranking["rows"]} == sources
    best = ranking["recommended"]
    assert f"Validation recommends {best} ({sources[best]})." in " ".join(report["findings"])


def test_another_k_is_a_labelled_recomputation(swept):
    url, storage, sweep_id = swept
    stored = next(s for s in storage.get_stages(sweep_id) if s.name == "select").summary["picks"]
    names = {p["trial_id"]: p["name"] for p in stored}
    with TestClient(create_app(Settings(database_url=url), storage)) as client:
        body = client.get(f"/api/sweeps/{sweep_id}/top", params={"k": K + 2}).json()
        csv = client.get(f"/api/sweeps/{sweep_id}/top.csv", params={"k": K + 2})
    assert body["source"] == "recomputed" and body["label"].startswith("Recomputed for k=5")
    assert len(body["rows"]) == K + 2
    # a stored pick keeps its name; a config that validation never ran has none
    for row in body["rows"]:
        assert row["name"] == names.get(row["trial_id"])
    assert any(row["name"] is None for row in body["rows"])
    assert csv.headers["x-rungs-picks-source"] == "recomputed"
    assert "top5_configs_recomputed.csv" in csv.headers["content-disposition"]


def test_cli_top_labels_a_recomputation_and_rejects_a_bad_k(swept, capsys):
    url, _, sweep_id = swept
    assert main(["top", str(sweep_id), "--db", url, "--k", "1"]) == 0
    out = capsys.readouterr()
    assert out.err.startswith("Recomputed for k=1: not the validated set")
    assert _markdown_rows(out.out)[0][1] == "config1"  # the best config is always pick 1
    assert main(["top", str(sweep_id), "--db", url, "--k", "0"]) == 1
    assert "--k must be at least 1" in capsys.readouterr().err


def test_stored_picks_survive_a_json_round_trip(swept):
    """The summary is JSON in the database: what comes back builds the same table."""
    from orchestrator.picks import picks_from_stored, picks_table, stored_from_picks
    from orchestrator.stored_trials import load_spec

    _, storage, sweep_id = swept
    stored = next(s for s in storage.get_stages(sweep_id) if s.name == "select").summary["picks"]
    again = stored_from_picks(picks_from_stored(json.loads(json.dumps(stored))))
    assert again == stored
    spec = load_spec(storage, sweep_id)
    assert list(picks_table(picks_from_stored(stored), spec)["name"]) == [p["name"] for p in stored]
