"""Compatibility modes: the same node as the real uhashring library, key for key."""

import numpy as np
import pytest
from uhashring import HashRing

from consensuslab.hashing import Ring

N_KEYS = 100_000


def _keys():
    return [f"key-{i}" for i in range(N_KEYS // 2)] + [f"user:{i}:profile" for i in range(N_KEYS // 2)]


@pytest.mark.parametrize(
    "mode, kwargs, nodes",
    [
        ("uhashring", {}, [f"node-{i}" for i in range(20)]),
        ("ketama", {"hash_fn": "ketama"}, [f"cache{i}.example:11211" for i in range(20)]),
    ],
)
def test_same_node_as_uhashring_on_100k_keys(mode, kwargs, nodes):
    ours = Ring(nodes, mode=mode)
    theirs = HashRing(nodes, **kwargs)
    keys = _keys()
    got = ours.node_names(ours.assign(keys))
    want = np.array([theirs.get_node(k) for k in keys], dtype=object)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("mode, kwargs", [("uhashring", {}), ("ketama", {"hash_fn": "ketama"})])
def test_weighted_int_and_preference_lists_match(mode, kwargs):
    weights = {f"n{i}": 1 + i % 3 for i in range(8)}
    ours = Ring(list(weights), weights=weights, mode=mode)
    theirs = HashRing(weights, **kwargs)
    ints = list(range(20_000))
    assert np.array_equal(ours.node_names(ours.assign(np.arange(20_000))),
                          np.array([theirs.get_node(k) for k in ints], dtype=object))
    keys = [f"k{i}" for i in range(2000)]
    prefs = ours.node_names(ours.assign(keys, replicas=3))
    want = [list(theirs.iterate_nodes(k))[:3] for k in keys]
    assert prefs.tolist() == want


def test_ketama_point_collisions_follow_last_writer():
    # Ketama points are 32-bit: with many labels some coincide; the library keeps the node
    # inserted last. Check that our dedupe is exercised and matches on the colliding points.
    nodes = [f"s{i}" for i in range(400)]
    ours = Ring(nodes, mode="ketama", vnodes=160)
    theirs = HashRing(nodes, hash_fn="ketama", vnodes=160)
    assert len(ours.points) == len(set(theirs.runtime._keys)) < 400 * 160 * 4  # collisions exist
    owners = ours.node_names(ours.owners)
    assert all(theirs.runtime._ring[int(p)] == o for p, o in zip(ours.points.tolist(), owners))
