"""What a sweep concludes, over HTTP: top-k CSV and JSON, validation ranking, report."""

from __future__ import annotations

import io

import pandas as pd
from fastapi.testclient import TestClient

from orchestrator.storage import SQLStorage
from tests.orchestrator.api.conftest import FORMULA_NAME, Filled, fill_sweep

COLUMNS = ["rank", "name", "source", "trial_id", "stage", "variant", "score", "lr",
           "weight_decay", "optimizer", "distance_to_nearest"]  # fmt: skip


def test_top_csv_is_an_attachment_with_k_neutralised_rows(
    client: TestClient, filled: Filled
) -> None:
    response = client.get(f"/api/sweeps/{filled.sweep_id}/top.csv", params={"k": 3})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    # no selection stage ran on this sweep: a preview, and its file name says so
    assert disposition == 'attachment; filename="top3_configs_preview.csv"'
    assert response.headers["x-rungs-picks-source"] == "preview"
    frame = pd.read_csv(io.StringIO(response.text))
    assert list(frame.columns) == COLUMNS and len(frame) == 3
    assert list(frame["rank"]) == [1, 2, 3]
    assert set(frame["stage"]) == {"stage3"}  # the selection's default: the last search stage
    best = frame.iloc[0]
    assert best["trial_id"] == filled.trials["stage3"][5]
    assert best["name"] == "config1"
    assert best["source"] == "'" + FORMULA_NAME  # a spreadsheet shows it, never runs it
    assert not any(str(v).startswith("=") for v in frame.astype(str).to_numpy().ravel())


def test_top_json_has_the_same_rows(client: TestClient, filled: Filled) -> None:
    body = client.get(f"/api/sweeps/{filled.sweep_id}/top", params={"k": 2}).json()
    assert body["note"] is None and len(body["rows"]) == 2
    assert body["source"] == "preview" and body["label"].startswith("Preview")
    first = body["rows"][0]
    assert list(first) == COLUMNS
    assert first["trial_id"] == filled.trials["stage3"][5] and first["source"] == FORMULA_NAME
    assert first["score"] == filled.best[filled.trials["stage3"][5]]
    assert first["distance_to_nearest"] is None  # the first pick has no earlier pick: null


def test_top_k_is_bounded(client: TestClient, filled: Filled) -> None:
    for k in (0, 101):
        assert client.get(f"/api/sweeps/{filled.sweep_id}/top", params={"k": k}).status_code == 422


def test_no_eligible_trial_yet_explains_itself(client: TestClient, storage: SQLStorage) -> None:
    sweep_id = fill_sweep(storage, validation=False).sweep_id
    stage3 = [t for t in storage.get_trials(sweep_id, stage="stage3")]
    for trial in stage3:
        storage.update_trial(trial.id, status="running")  # nothing finished its budget
    body = client.get(f"/api/sweeps/{sweep_id}/top").json()
    assert body["rows"] == [] and body["note"].startswith("No top-k yet")
    csv = client.get(f"/api/sweeps/{sweep_id}/top.csv")
    assert csv.status_code == 409 and csv.json()["message"].startswith("No top-k yet")


def test_ranking_rows_have_the_statistics_the_dashboard_draws(
    client: TestClient, filled: Filled
) -> None:
    body = client.get(f"/api/sweeps/{filled.sweep_id}/ranking").json()
    assert {"rows", "verdict", "caveats", "recommended"} <= set(body)
    assert [r["config"] for r in body["rows"]][0] == "config1" == body["recommended"]
    for row in body["rows"]:
        assert row["n"] == 2 and row["ci_low"] <= row["mean"] <= row["ci_high"]
        assert {"std", "values", "p_vs_best"} <= set(row)
    assert body["rows"][0]["mean"] > body["rows"][1]["mean"]
    assert body["verdict"] and isinstance(body["caveats"], list)


def test_ranking_is_404_until_validation_has_results(
    client: TestClient, storage: SQLStorage
) -> None:
    sweep_id = fill_sweep(storage, validation=False).sweep_id
    response = client.get(f"/api/sweeps/{sweep_id}/ranking")
    assert response.status_code == 404
    assert response.json()["message"] == f"sweep {sweep_id}: validation has no results yet"


def test_markdown_report(client: TestClient, filled: Filled) -> None:
    response = client.get(f"/api/sweeps/{filled.sweep_id}/report", params={"format": "md"})
    assert response.headers["content-type"].startswith("text/markdown")
    text = response.text
    assert text.startswith(f"# Sweep {filled.sweep_id}: api-quick")
    for heading in ("## Stages", "## Top-k configurations", "## Validation", "## Findings"):
        assert heading in text
    assert "**Recommended:** config1" in text


def test_json_report_has_parameters_per_search_stage(client: TestClient, filled: Filled) -> None:
    body = client.get(f"/api/sweeps/{filled.sweep_id}/report", params={"format": "json"}).json()
    assert body["sweep"]["id"] == filled.sweep_id and body["metric"]["name"] == "score"
    assert body["validation"]["recommended"] == "config1"
    assert set(body["parameters"]) == {"stage1", "stage3"}  # validation: nothing to correlate
    for rows in (*body["parameters"].values(), body["parameters_overall"]):
        by_name = {r["name"]: r for r in rows}
        assert set(by_name) == {"lr", "weight_decay", "optimizer"}
        assert by_name["optimizer"]["rho"] is None  # Kruskal-Wallis: no direction
        assert by_name["lr"]["rho"] is not None and -1 <= by_name["lr"]["rho"] <= 1
    stage3 = {r["name"]: r["importance"] for r in body["parameters"]["stage3"]}
    assert abs(sum(v for v in stage3.values() if v is not None) - 1) < 1e-6


def test_unknown_report_format_is_422(client: TestClient, filled: Filled) -> None:
    response = client.get(f"/api/sweeps/{filled.sweep_id}/report", params={"format": "pdf"})
    assert response.status_code == 422 and "format" in response.json()["message"]
