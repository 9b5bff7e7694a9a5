"""Random walks over a model, and the search-vs-random measurement built on them."""

from __future__ import annotations

import numpy as np
import pytest

from consensuslab.experiments.model_checking import search_vs_random, state_space_table
from consensuslab.explore import (
    ActorModel,
    TransitionSystem,
    always,
    check,
    monitor_invariant,
)
from consensuslab.explore.models.twophase import two_phase_commit
from consensuslab.explore.walk import random_walk, walks_until_violation
from consensuslab.protocols.paxos import PaxosConfig


def _unsafe_paxos() -> ActorModel:
    cfg = PaxosConfig(n=3, proposers=(0, 1), values=(1, 2), q1=1, q2=2, unsafe=True)
    return ActorModel(cfg.make_node, 3, properties=[monitor_invariant(cfg.monitor)],
                      within=lambda s: all(x is None or x.ballots_started <= 1 for x in s.nodes))


def _counter(limit: int) -> TransitionSystem:
    # 0 -> 1 -> ... ; the invariant fails at `limit`; a dead end at 2 * limit
    return TransitionSystem([0], {"Inc": lambda s: s + 1 if s < 2 * limit else None},
                            [always("small", lambda s: s < limit)])


def test_a_walk_stops_at_the_first_violation_and_is_a_real_path() -> None:
    w = random_walk(_counter(5), np.random.default_rng(0))
    assert (w.violated, w.ended, w.steps) == ("small", "violation", 5)
    assert w.path.last == 5 and w.path.states == [0, 1, 2, 3, 4, 5]


def test_a_walk_ends_at_a_dead_end_or_its_step_budget() -> None:
    ts = TransitionSystem([0], {"Inc": lambda s: s + 1 if s < 3 else None}, [always("ok", lambda s: True)])
    assert random_walk(ts, np.random.default_rng(0)).ended == "deadlock"
    assert random_walk(_counter(50), np.random.default_rng(0), max_steps=7).ended == "max_steps"


def test_walks_are_deterministic_for_a_seed_and_find_the_flexible_paxos_bug() -> None:
    model = _unsafe_paxos()
    a = walks_until_violation(model, seed=4, max_walks=300)
    b = walks_until_violation(model, seed=4, max_walks=300)
    assert a.hit and "Agreement" in a.found.detail
    assert (a.walks, a.events, a.found.path.events) == (b.walks, b.events, b.found.path.events)
    bfs = check(model, stop_when="violation")
    assert len(bfs.counterexamples["safety"]) <= a.found.steps  # BFS's is a shortest one


def test_a_safe_model_is_never_hit_and_the_count_is_censored() -> None:
    cfg = PaxosConfig(n=3, proposers=(0, 1), values=(1, 2))
    model = ActorModel(cfg.make_node, 3, properties=[monitor_invariant(cfg.monitor)])
    out = walks_until_violation(model, seed=0, max_walks=5, max_steps=20)
    assert not out.hit and out.walks == 5 and 0 < out.events <= 100


def test_search_vs_random_tabulates_both_methods_reproducibly() -> None:
    configs = {"unsafe": _unsafe_paxos()}
    one = search_vs_random(configs, repetitions=4, seed=1, max_walks=300)
    two = search_vs_random(configs, repetitions=4, seed=1, max_walks=300)
    row = one.table.iloc[0]
    assert row["bfs_found"] and row["bfs_events"] == len(one.searches["unsafe"].counterexamples["safety"])
    assert row["bfs_states"] == one.searches["unsafe"].unique_states
    assert list(row["walks"]) == list(two.table.iloc[0]["walks"])
    assert row["hits"] == 4 and row["walks_low"] <= row["walks_median"] <= row["walks_high"]
    total = sum(w.walks for w in one.walks["unsafe"])
    assert row["hit_rate"] == pytest.approx(4 / total)
    assert row["hit_rate_low"] < row["hit_rate"] < row["hit_rate_high"]
    assert row["walk_events_median"] >= row["bfs_events"]
    other = search_vs_random(configs, repetitions=4, seed=2, max_walks=300)
    assert list(other.table.iloc[0]["walks"]) != list(row["walks"])


def test_state_space_table_reproduces_two_phase_commit_counts() -> None:
    table = state_space_table({"2PC": two_phase_commit}, [1, 2, 3], bound="rms")
    assert list(table["states"]) == [12, 56, 288] and table["complete"].all()
    capped = state_space_table({"2PC": two_phase_commit}, [3], bound="rms", max_states=100)
    assert not capped["complete"].iloc[0] and capped["states"].iloc[0] == 100


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"repetitions": 0}, "`repetitions` must be an int >= 1"),
    ({"max_walks": 0}, "`max_walks` must be an int >= 1"),
    ({"time_limit": -1}, "`time_limit` must be None or a number > 0"),
])
def test_search_vs_random_rejects_bad_parameters(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        search_vs_random({"x": _counter(2)}, invariant="small", **kwargs)


def test_walk_rejects_an_unknown_invariant_and_a_bad_rng() -> None:
    with pytest.raises(ValueError, match="`invariant` must name one of the model's invariants"):
        random_walk(_counter(2), np.random.default_rng(0), invariant="nope")
    with pytest.raises(TypeError, match="`rng`"):
        random_walk(_counter(2), 0)  # type: ignore[arg-type]


def test_walks_do_not_depend_on_the_process_hash_seed(tmp_path) -> None:
    import os
    import subprocess
    import sys

    script = ("from consensuslab.explore import ActorModel, monitor_invariant\n"
              "from consensuslab.explore.walk import walks_until_violation\n"
              "from consensuslab.protocols.paxos import PaxosConfig\n"
              "cfg = PaxosConfig(n=3, proposers=(0, 1), values=(1, 2), q1=1, q2=2, unsafe=True)\n"
              "m = ActorModel(cfg.make_node, 3, properties=[monitor_invariant(cfg.monitor)],\n"
              "               within=lambda s: all(x is None or x.ballots_started <= 1 for x in s.nodes))\n"
              "w = walks_until_violation(m, seed=2, max_walks=200)\n"
              "print(w.walks, w.events, [str(e) for e in w.found.path.events])\n")
    outs = set()
    for salt in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": salt}
        outs.add(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                                check=True).stdout)
    assert len(outs) == 1, outs
