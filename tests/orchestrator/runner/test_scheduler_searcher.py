"""The Ray adapters without Ray running: variant dispatch, keys, budgets, stop decisions."""

from __future__ import annotations

from collections import Counter, deque

from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher

from orchestrator.runner import tags
from orchestrator.runner.proposers import RandomProposer
from orchestrator.runner.schedulers import RuleScheduler
from orchestrator.runner.searchers import QueuedTrial, StageSearcher, VariantBudget
from stages.space import Numeric
from stages.spec import Hyperband
from stages.stopping_rules import make_stopping_rule

SPACE = {"lr": Numeric(1e-4, 1e-2, log=True)}


class _Trial:
    def __init__(self, config):
        self.config = config


def _searcher(decisions=None, **remaining):
    budgets = [
        VariantBudget(n, r, RandomProposer(SPACE, i), seed=7)
        for i, (n, r) in enumerate(remaining.items())
    ]
    return StageSearcher(
        budgets,
        metric="score",
        mode="max",
        fixed={"noise": 0.0},
        decisions={} if decisions is None else decisions,
    )


def test_searcher_interleaves_variants_with_stable_keys_until_finished():
    searcher = _searcher(hyperband=3, median=3)
    configs = [searcher.suggest(f"r{i}") for i in range(7)]
    assert configs[-1] == Searcher.FINISHED
    made = configs[:-1]
    assert Counter(c[tags.VARIANT] for c in made) == {"hyperband": 3, "median": 3}
    assert [c[tags.VARIANT] for c in made[:2]] == ["hyperband", "median"]  # both start at once
    assert sorted(c[tags.KEY] for c in made)[:3] == [
        "hyperband-000",
        "hyperband-001",
        "hyperband-002",
    ]
    assert all(
        c["noise"] == 0.0 and c[tags.SEED] == 7 and SPACE["lr"].contains(c["lr"]) for c in made
    )


def test_searcher_reruns_queued_trials_first_and_continues_ordinals():
    budget = VariantBudget("main", 2, RandomProposer(SPACE, 0), next_ordinal=5)
    budget.queue = deque([QueuedTrial("main-003", {"lr": 1e-3}, seed=1)])
    searcher = StageSearcher([budget], metric="score", mode="max", fixed={}, decisions={})
    first, second = searcher.suggest("a"), searcher.suggest("b")
    assert (first[tags.KEY], first["lr"], first[tags.SEED]) == ("main-003", 1e-3, 1)
    assert second[tags.KEY] == "main-005"
    assert searcher.suggest("c") == Searcher.FINISHED


def test_scheduler_stops_at_hyperband_rung_records_decision_and_dedupes():
    decisions = {}
    rule = make_stopping_rule(Hyperband(min_iter=2, eta=2), "maximize", max_epochs=8)
    scheduler = RuleScheduler(
        {"hb": rule, "free": None}, metric="score", mode="max", decisions=decisions
    )
    good, bad = (
        _Trial({tags.VARIANT: "hb", tags.KEY: "g"}),
        _Trial({tags.VARIANT: "hb", tags.KEY: "b"}),
    )
    fair = _Trial({tags.VARIANT: "hb", tags.KEY: "m"})
    for epoch, (g, m, b) in enumerate([(1.0, 0.8, 0.1), (2.0, 1.5, 0.2)], start=1):
        assert (
            scheduler.on_trial_result(None, good, {"score": g, "epoch": epoch})
            == TrialScheduler.CONTINUE
        )
        assert (
            scheduler.on_trial_result(None, fair, {"score": m, "epoch": epoch})
            == TrialScheduler.CONTINUE
        )
        last = scheduler.on_trial_result(None, bad, {"score": b, "epoch": epoch})
    assert last == TrialScheduler.STOP
    assert (
        decisions["b"].rule == "hyperband"
        and decisions["b"].rung == 2
        and decisions["b"].value == 0.2
    )
    # a re-reported epoch (re-run after restart) is not fed twice; unruled variants never stop
    assert scheduler.feed(good.config, {"score": -5.0, "epoch": 2}) is None
    free = _Trial({tags.VARIANT: "free", tags.KEY: "f"})
    assert (
        scheduler.on_trial_result(None, free, {"score": -9.0, "epoch": 2})
        == TrialScheduler.CONTINUE
    )
    assert scheduler.feed(good.config, {tags.FINAL: 1, "score": 0.0}) is None


def test_searcher_tells_stopped_trials_as_pruned():
    decisions = {}
    searcher = _searcher(decisions, main=2)
    told = []
    searcher.variants["main"].proposer.tell = lambda cfg, value, outcome: told.append(
        (value, outcome)
    )
    a, b = searcher.suggest("a"), searcher.suggest("b")
    for trial_id, value in (("a", 3.0), ("b", 1.0)):
        searcher.on_trial_result(trial_id, {"score": value})
    decisions[b[tags.KEY]] = object()
    searcher.on_trial_complete("a", {"score": 3.0})
    searcher.on_trial_complete("b", {"score": 1.0})
    assert told == [(3.0, "complete"), (1.0, "pruned")]
    assert a[tags.KEY] != b[tags.KEY]
