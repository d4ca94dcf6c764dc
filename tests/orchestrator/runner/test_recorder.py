"""The recorder callback with fake Ray trials: batching, statuses, stop reasons, idempotency."""

from __future__ import annotations

from orchestrator.runner import tags
from orchestrator.runner.recorder import Recorder, clean_metrics
from stages.stopping import StopDecision


class _Trial:
    def __init__(self, trial_id, key, error_file=None):
        self.trial_id, self.error_file = trial_id, error_file
        self.config = {"lr": 0.1, tags.KEY: key, tags.VARIANT: "main", tags.SEED: 3}


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _recorder(storage, sweep_id, decisions=None, **kw):
    stage_id = storage.upsert_stage(sweep_id, "s1", position=0, kind="search", plan={})
    rec = Recorder(
        storage, stage_id, metric="score", goal="maximize", decisions=decisions or {}, **kw
    )
    return rec


def _result(epoch, value, **extra):
    return {
        "score": value,
        "epoch": epoch,
        "training_iteration": epoch,
        "time_total_s": 0.5 * epoch,
        "pid": 1,
        **extra,
    }


def test_results_are_batched_by_count_and_time(storage, make_sweep):
    sweep_id = make_sweep()
    clock = _Clock()
    rec = _recorder(storage, sweep_id, flush_every=3, flush_seconds=10.0, clock=clock)
    trial = _Trial("r1", "main-000")
    rec.on_trial_start(0, [], trial)
    db_id = storage.get_trials(sweep_id)[0].id
    for epoch in (1, 2):
        rec.on_trial_result(0, [], trial, _result(epoch, float(epoch)))
    assert storage.get_results(db_id) == []  # buffered
    rec.on_trial_result(0, [], trial, _result(3, 3.0))
    assert [r.step for r in storage.get_results(db_id)] == [1, 2, 3]  # flushed at 3 rows
    rec.on_trial_result(0, [], trial, _result(4, 2.5))
    rec.on_step_end(0, [])
    assert len(storage.get_results(db_id)) == 3
    clock.now = 11.0
    rec.on_step_end(0, [])
    assert len(storage.get_results(db_id)) == 4  # flushed by time
    rec.on_trial_result(
        0, [], trial, {tags.FINAL: 1, tags.STATUS: "completed", tags.REASON: "", "score": 2.5}
    )
    rec.on_trial_complete(0, [], trial)
    stored = storage.get_trial(db_id)
    assert (stored.status, stored.best_value, stored.last_value, stored.epochs) == (
        "completed",
        3.0,
        2.5,
        4,
    )
    assert stored.config == {"lr": 0.1} and stored.seed == 3 and stored.compute_seconds == 2.0
    assert storage.get_results(db_id)[0].metrics == {"score": 1.0, "epoch": 1}


def test_statuses_and_reasons(storage, make_sweep, tmp_path):
    sweep_id = make_sweep()
    decision = StopDecision("hyperband", 2, 2, 1.5, 0.4, "maximize")
    rec = _recorder(storage, sweep_id, decisions={"k-stop": decision})
    err = tmp_path / "error.txt"
    err.write_text("Traceback (most recent call last):\n  ...\nRuntimeError: CUDA out of memory\n")
    trials = {
        k: _Trial(f"r-{k}", k, error_file=str(err)) for k in ("k-stop", "k-nan", "k-err", "k-cut")
    }
    for t in trials.values():
        rec.on_trial_start(0, [], t)
        rec.on_trial_result(0, [], t, _result(1, 0.4))
    rec.on_trial_result(
        0,
        [],
        trials["k-nan"],
        {tags.FINAL: 1, tags.STATUS: "diverged", tags.REASON: "NaN loss", "score": 0.4},
    )
    rec.on_trial_complete(0, [], trials["k-stop"])
    rec.on_trial_complete(0, [], trials["k-nan"])
    rec.on_trial_error(0, [], trials["k-err"])
    rec.on_trial_complete(0, [], trials["k-cut"])
    left = _Trial("r-left", "k-left")
    rec.on_trial_start(0, [], left)
    rec.on_experiment_end([])
    by_key = {t.key: t for t in storage.get_trials(sweep_id)}
    assert by_key["k-stop"].status == "early_stopped"
    assert (
        by_key["k-stop"].stop_reason["rung"] == 2
        and by_key["k-stop"].stop_reason["threshold"] == 1.5
    )
    assert (by_key["k-nan"].status, by_key["k-nan"].stop_reason["message"]) == (
        "diverged",
        "NaN loss",
    )
    assert by_key["k-err"].status == "failed"
    assert by_key["k-err"].stop_reason["message"] == "RuntimeError: CUDA out of memory"
    assert by_key["k-cut"].status == "cancelled"
    assert by_key["k-left"].status == "cancelled" and by_key["k-left"].finished_at is not None
    assert all(len(storage.get_results(t.id)) == 1 for k, t in by_key.items() if k != "k-left")


def test_rerun_of_a_stored_trial_keeps_one_row_per_step(storage, make_sweep):
    sweep_id = make_sweep()
    rec = _recorder(storage, sweep_id, flush_every=1)
    first = _Trial("r1", "main-000")
    rec.on_trial_start(0, [], first)
    rec.on_trial_result(0, [], first, _result(1, 1.0))
    again = _Trial("r2", "main-000")  # same key after a restart
    rec2 = _recorder(storage, sweep_id, flush_every=1)
    rec2.on_trial_start(0, [], again)
    for epoch in (1, 2):
        rec2.on_trial_result(0, [], again, _result(epoch, float(epoch)))
    trials = storage.get_trials(sweep_id)
    assert len(trials) == 1
    assert [r.step for r in storage.get_results(trials[0].id)] == [1, 2]


def test_rerun_of_an_ended_trial_is_running_again(storage, make_sweep):
    sweep_id = make_sweep()
    rec = _recorder(storage, sweep_id, flush_every=1)
    first = _Trial("r1", "main-000")
    rec.on_trial_start(0, [], first)
    rec.on_experiment_end([])  # stored as cancelled
    assert storage.get_trials(sweep_id)[0].status == "cancelled"
    _recorder(storage, sweep_id).on_trial_start(0, [], _Trial("r2", "main-000"))
    assert storage.get_trials(sweep_id)[0].status == "running"


def test_clean_metrics_drops_ray_keys_and_non_finite():
    assert clean_metrics(
        {"score": float("nan"), "pid": 3, "config": {}, "lr": 0.1, "__final": 1}
    ) == {"score": None, "lr": 0.1}
