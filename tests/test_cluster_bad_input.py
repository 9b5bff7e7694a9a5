"""Bad input to the cluster and the nemesis: a clear error naming the problem, nothing half-applied.

Issue 15, defects 4 and 5 (each case here was accepted, hung or failed obscurely before).
"""

from __future__ import annotations

import time

import pytest

from consensuslab.cluster import Cluster
from consensuslab.sim.nemesis import MAX_FAULT_EVENTS, Nemesis


@pytest.mark.parametrize(
    ("interval", "duration"),
    [((1e-3, 1e-3), 1e5), ((0.0, 1e-9), 5000.0), ((0.0, 0.1), 1e4)],
)
def test_a_nemesis_with_absurdly_many_events_is_refused_at_once(interval, duration) -> None:
    c = Cluster("raft", n=3, seed=1)
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"`duration` / mean `interval` must be <= 100,000 fault events"):
        c.nemesis(1, interval=interval, duration=duration)
    assert time.perf_counter() - t0 < 1.0


def test_the_largest_allowed_schedule_is_accepted() -> None:
    nem = Nemesis(3, 0, duration=MAX_FAULT_EVENTS * 10.0, interval=(5.0, 15.0), crash=False, loss=False)
    assert 0.9 * MAX_FAULT_EVENTS < len(nem.schedule()) < 1.1 * MAX_FAULT_EVENTS


def test_partition_wants_groups_of_node_ids() -> None:
    c = Cluster("raft", n=5, seed=1)
    with pytest.raises(TypeError, match=r"`groups` must be groups of node ids.*partition\(\[0, 1\], \[2, 3, 4\]\)"):
        c.partition(0, 1)
    with pytest.raises(TypeError, match="`groups` must be groups of node ids"):
        c.partition("01", [2])
    assert c.sim.cut == set()  # nothing applied
    c.partition([0, 1], [2, 3, 4])
    assert (0, 2) in c.sim.cut


def test_an_unhashable_value_is_refused_at_put_and_nothing_is_queued() -> None:
    c = Cluster("raft", n=3, seed=1)
    with pytest.raises(TypeError, match=r"`value` must be hashable.*\['x'\] \(list\)"):
        c.put("k", ["x"])
    assert c.operations == []
    op = c.put("k", ("x",))  # a tuple is fine, and the history checks
    assert op.ok
    from consensuslab.check import check_linearizable

    assert check_linearizable(c.history, "kv").ok


@pytest.mark.parametrize("option", ["trace", "check_every_step"])
@pytest.mark.parametrize("value", ["no", "yes", 1, None])
def test_boolean_options_must_be_booleans(option: str, value) -> None:
    with pytest.raises(TypeError, match=f"`{option}` must be a bool"):
        Cluster("raft", n=3, **{option: value})


@pytest.mark.parametrize("option", ["crash", "partition", "loss", "settle", "one_way"])
def test_nemesis_switches_must_be_booleans(option: str) -> None:
    with pytest.raises(TypeError, match=f"`{option}` must be a bool"):
        Nemesis(3, 0, **{option: "no"})
