"""/api/meta/states: the dashboard's copy of the state machine comes from the server."""

from __future__ import annotations

from fastapi.testclient import TestClient

from stages.states import StageState, SweepState, TrialState


def test_states_are_served_as_stages_states_defines_them(client: TestClient) -> None:
    body = client.get("/api/meta/states").json()
    for name, machine in (("sweep", SweepState), ("stage", StageState), ("trial", TrialState)):
        assert body[name]["states"] == [s.value for s in machine]
        assert body[name]["final"] == [s.value for s in machine.finals()]
    assert body["sweep"]["moves"]["completed"] == []
    assert set(body["sweep"]["moves"]["queued"]) == {"running", "cancelled"}
    assert body["trial"]["moves"]["cancelled"] == ["running"]
