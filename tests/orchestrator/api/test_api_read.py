"""Reading a sweep: list and detail, trials paged/sorted/filtered, curves, results by cursor."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from orchestrator.storage import SQLStorage
from orchestrator.storage.records import ResultRow
from tests.orchestrator.api.conftest import EPOCHS, Filled, fill_sweep

DONE = {"completed", "early_stopped", "diverged", "failed", "cancelled"}


def test_list_summarises_each_sweep(client: TestClient, filled: Filled) -> None:
    [sweep] = client.get("/api/sweeps").json()
    assert sweep["id"] == filled.sweep_id and sweep["model"] == "synthetic"
    assert (sweep["metric"], sweep["goal"]) == ("score", "maximize")
    assert sweep["best_value"] == max(v for v in filled.best.values() if v is not None)
    assert sweep["trials_done"] == sum(1 for s in filled.statuses.values() if s in DONE)
    # 1.5 s per epoch: stage1 6+6+2+2+6+3 epochs, stage3 6 x 6, validation 4 x 6
    assert sweep["compute_seconds"] == 1.5 * (25 + 36 + 24)


def test_one_sweep_has_its_stages_in_order(client: TestClient, filled: Filled) -> None:
    body = client.get(f"/api/sweeps/{filled.sweep_id}").json()
    assert [s["name"] for s in body["stages"]] == ["stage1", "stage3", "validation"]
    stage1 = body["stages"][0]
    assert stage1["kind"] == "search" and stage1["state"] == "completed"
    assert (stage1["trials_done"], stage1["trials_planned"]) == (5, 6)  # one is still running
    assert stage1["space"]["lr"]["log"] is True
    assert stage1["best_value"] == max(filled.best[t] or 0 for t in filled.trials["stage1"])
    assert body["yaml_text"].startswith("name: api-quick")


def test_unknown_ids_are_404_with_a_message(client: TestClient) -> None:
    for path in ("/api/sweeps/999", "/api/sweeps/999/trials", "/api/trials/999",
                 "/api/trials/999/curve", "/api/sweeps/999/results", "/api/sweeps/999/top",
                 "/api/sweeps/999/ranking", "/api/sweeps/999/report"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 404, path
        assert "999" in response.json()["message"], path


def test_trials_are_paged(client: TestClient, filled: Filled) -> None:
    url = f"/api/sweeps/{filled.sweep_id}/trials"
    all_ids = sorted(filled.statuses)
    pages = [client.get(url, params={"limit": 5, "offset": off}).json() for off in (0, 5, 10, 15)]
    assert [p["total"] for p in pages] == [len(all_ids)] * 4
    assert [t["id"] for p in pages for t in p["items"]] == all_ids
    assert [len(p["items"]) for p in pages] == [5, 5, 5, 1]


def test_trials_sort_by_best_value_with_missing_values_last(
    client: TestClient, filled: Filled
) -> None:
    url = f"/api/sweeps/{filled.sweep_id}/trials"
    for order in ("desc", "asc"):
        items = client.get(url, params={"sort": "best_value", "order": order}).json()["items"]
        values = [t["best_value"] for t in items]
        known = [v for v in values if v is not None]
        assert known == sorted(known, reverse=order == "desc")
        assert values[len(known) :] == [None]  # the failed trial, last both ways


def test_trials_filter_by_stage_variant_and_status(client: TestClient, filled: Filled) -> None:
    url = f"/api/sweeps/{filled.sweep_id}/trials"
    hyperband = client.get(url, params={"variant": "hyperband"}).json()
    assert {t["id"] for t in hyperband["items"]} == {
        t for t, v in filled.variants.items() if v == "hyperband"
    }
    stopped = client.get(url, params={"stage": "stage1", "status": "early_stopped"}).json()
    assert stopped["total"] == 2 and {t["status"] for t in stopped["items"]} == {"early_stopped"}
    two = client.get(url, params=[("status", "failed"), ("status", "running")]).json()
    assert sorted(t["status"] for t in two["items"]) == ["failed", "running"]


def test_bad_query_parameters_are_422_messages(client: TestClient, filled: Filled) -> None:
    url = f"/api/sweeps/{filled.sweep_id}/trials"
    for params in ({"sort": "name; DROP TABLE trials"}, {"limit": 0}, {"offset": -1}):
        response = client.get(url, params=params)
        assert response.status_code == 422
        assert response.json()["message"].startswith("invalid request")


def test_one_trial_and_its_full_curve(client: TestClient, filled: Filled) -> None:
    trial_id = filled.trials["stage3"][0]
    trial = client.get(f"/api/trials/{trial_id}").json()
    assert (trial["stage"], trial["variant"], trial["epochs"]) == ("stage3", "hyperband", EPOCHS)
    curve = client.get(f"/api/trials/{trial_id}/curve").json()
    assert curve["total_points"] == EPOCHS
    assert [p["step"] for p in curve["points"]] == list(range(1, EPOCHS + 1))
    assert curve["points"][-1]["metrics"]["score"] == trial["last_value"]


def test_long_curves_are_downsampled_keeping_both_ends(
    client: TestClient, storage: SQLStorage, filled: Filled
) -> None:
    trial_id = filled.trials["stage1"][5]  # the running one: it keeps reporting
    storage.append_results(ResultRow(trial_id, s, {"score": s / 100}) for s in range(4, 1001))
    curve = client.get(f"/api/trials/{trial_id}/curve", params={"max_points": 50}).json()
    steps = [p["step"] for p in curve["points"]]
    assert curve["total_points"] == 1000 and len(steps) == 50
    assert steps[0] == 1 and steps[-1] == 1000 and steps == sorted(steps)
    assert max(b - a for a, b in zip(steps, steps[1:], strict=False)) <= 21  # evenly spread
    default = client.get(f"/api/trials/{trial_id}/curve").json()
    assert len(default["points"]) == 500  # Settings.curve_max_points


def test_results_after_cursor_returns_only_newer_rows(
    client: TestClient, storage: SQLStorage, filled: Filled
) -> None:
    url = f"/api/sweeps/{filled.sweep_id}/results"
    first = client.get(url).json()
    assert len(first["items"]) == sum(1 for _ in storage.results_after(filled.sweep_id))
    assert first["cursor"] == max(r["id"] for r in first["items"])
    empty = client.get(url, params={"after": first["cursor"]}).json()
    assert empty == {"cursor": first["cursor"], "items": []}
    trial_id = filled.trials["stage1"][5]
    storage.append_results([ResultRow(trial_id, 4, {"score": 1.0}), ResultRow(trial_id, 5, {})])
    new = client.get(url, params={"after": first["cursor"]}).json()
    assert [(r["trial_id"], r["step"]) for r in new["items"]] == [(trial_id, 4), (trial_id, 5)]
    assert new["cursor"] > first["cursor"]


def test_results_are_paged_by_limit(client: TestClient, filled: Filled) -> None:
    url = f"/api/sweeps/{filled.sweep_id}/results"
    seen, cursor = [], 0
    while batch := client.get(url, params={"after": cursor, "limit": 7}).json()["items"]:
        assert len(batch) <= 7
        seen += [r["id"] for r in batch]
        cursor = batch[-1]["id"]
    assert seen == sorted(set(seen)) and len(seen) == len(client.get(url).json()["items"])


def test_stage_curves_have_the_best_and_the_running_trials(
    client: TestClient, storage: SQLStorage, filled: Filled
) -> None:
    url = f"/api/sweeps/{filled.sweep_id}/curves"
    body = client.get(url, params={"stage": "stage1", "limit": 2, "max_points": 3}).json()
    ranked = sorted(
        (t for t in filled.trials["stage1"] if filled.best[t] is not None),
        key=lambda t: -(filled.best[t] or 0),
    )
    running = [t for t in filled.trials["stage1"] if filled.statuses[t] == "running"]
    assert {c["trial"]["id"] for c in body["curves"]} == {*ranked[:2], *running}
    assert all(len(c["points"]) <= 3 for c in body["curves"])
    assert body["cursor"] == storage.results_after(filled.sweep_id)[-1].id


def test_the_hand_encoded_trial_equals_the_documented_schema(
    storage: SQLStorage, filled: Filled
) -> None:
    """The trials page and the curves skip pydantic for speed; they must still send exactly
    what ``TrialPublic`` (the OpenAPI schema) says, finished and running trials alike."""
    from orchestrator.api.routers.trials import trial_json, trial_public

    trials = storage.get_trials(filled.sweep_id)
    assert {t.status for t in trials} >= {"completed", "running"}
    for trial in trials:
        assert trial_json(trial) == trial_public(trial).model_dump(mode="json")


def test_planned_trials_follow_what_the_stored_stages_planned(
    make_client: Callable[..., TestClient], storage: SQLStorage
) -> None:
    """Selection can find fewer full-budget configs than k: the validation stage then plans
    fewer runs than the spec's k x seeds, and a finished sweep must not look unfinished."""
    filled = fill_sweep(storage, validation=False)
    client = make_client()
    [before] = client.get("/api/sweeps").json()
    assert before["trials_planned"] == 6 + 6 + 2 * 2  # stored search plans + the spec's k x seeds
    plan = {"subset": 16000, "epochs": EPOCHS, "seeds": [42, 123], "trials": 2}  # one pick
    storage.upsert_stage(
        filled.sweep_id, "validation", position=2, kind="validate", plan=plan, state="running"
    )
    storage.set_sweep_state(filled.sweep_id, "running")  # a new cache key, as the runner makes
    [after] = client.get("/api/sweeps").json()
    assert after["trials_planned"] == 6 + 6 + 2
