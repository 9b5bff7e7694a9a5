"""AnchorHash against a naive transcription of the paper's pseudocode (arXiv:1812.09674,
Algorithms 2-3 and the resource wrapper), plus full consistency and balance."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensuslab.hashing import AnchorHash, balance, hash_keys, make, movement

M64 = 2**64 - 1


def fmix64(x):
    """MurmurHash3 fmix64 on a Python int."""
    x &= M64
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & M64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & M64
    x ^= x >> 33
    return x


def hash_b(k, b):
    """The per-bucket hash the module documents: fmix64(k ^ fmix64((b + 1) * golden))."""
    return fmix64(k ^ fmix64((b + 1) * 0x9E3779B97F4A7C15))


class NaiveAnchor:
    """Mutable AnchorHash, line by line from the paper (INITANCHOR, GETBUCKET, ADD/REMOVEBUCKET)
    with the wrapper's bucket -> resource map M."""

    def __init__(self, a, resources):
        w = len(resources)
        self.a = a
        self.A = [0] * a
        self.R = []
        self.N = w
        self.K = list(range(a))
        self.L = list(range(a))
        self.W = list(range(a))
        for b in range(a - 1, w - 1, -1):
            self.R.append(b)
            self.A[b] = b
        self.M = {i: r for i, r in enumerate(resources)}

    def copy(self):
        c = NaiveAnchor.__new__(NaiveAnchor)
        c.a, c.N = self.a, self.N
        c.A, c.R, c.K, c.L, c.W = list(self.A), list(self.R), list(self.K), list(self.L), list(self.W)
        c.M = dict(self.M)
        return c

    def get_bucket(self, k):
        b = k % self.a
        while self.A[b] > 0:
            h = hash_b(k, b) % self.A[b]
            while self.A[h] >= self.A[b]:
                h = self.K[h]
            b = h
        return b

    def add_bucket(self):
        b = self.R.pop()
        self.A[b] = 0
        self.L[self.W[self.N]] = self.N
        self.W[self.L[b]] = b
        self.K[b] = b
        self.N += 1
        return b

    def remove_bucket(self, b):
        self.R.append(b)
        self.N -= 1
        self.A[b] = self.N
        self.W[self.L[b]] = self.K[b] = self.W[self.N]
        self.L[self.W[self.N]] = self.L[b]

    # wrapper
    def get_resource(self, k):
        return self.M[self.get_bucket(k)]

    def add_resource(self, r):
        self.M[self.add_bucket()] = r

    def remove_resource(self, r):
        b = next(b for b, x in self.M.items() if x == r)
        del self.M[b]
        self.remove_bucket(b)

    def failover(self, k, replicas):
        """Preference list: the resource, then where the key goes if it is removed, etc."""
        s = self.copy()
        out = []
        for _ in range(replicas):
            r = s.get_resource(k)
            out.append(r)
            if len(out) < replicas:
                s.remove_resource(r)
        return out


def names_of(algo, idx):
    return [algo.nodes[i] for i in np.asarray(idx).tolist()]


ops_st = st.lists(st.tuples(st.booleans(), st.integers(0, 10**6)), max_size=25)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 8),
    st.integers(0, 8),
    ops_st,
    st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=40),
)
def test_matches_paper_pseudocode_under_random_adds_and_removes(n0, spare, ops, keys):
    """Section 3 / Algorithm 3: the same key -> resource map after any add/remove sequence."""
    a = n0 + spare
    nodes = [f"n{i}" for i in range(n0)]
    fast = AnchorHash(nodes, capacity=a)
    slow = NaiveAnchor(a, nodes)
    fresh = 0
    hk = hash_keys(np.array(keys, dtype=np.uint64)).tolist()
    for add, pick in ops:
        if add and len(fast.nodes) < a:
            name = f"new{fresh}"
            fresh += 1
            fast = fast.with_node(name)
            slow.add_resource(name)
        elif not add and len(fast.nodes) > 1:
            name = fast.nodes[pick % len(fast.nodes)]
            fast = fast.without_node(name)
            slow.remove_resource(name)
        else:
            continue
        assert sorted(fast.nodes) == sorted(slow.M.values())
        assert fast.anchor.tolist() == slow.A and fast.replacement.tolist() == slow.K
        assert fast.working.tolist() == slow.W and fast.location.tolist() == slow.L
        assert fast.removed.tolist() == slow.R
    got = names_of(fast, fast.assign(np.array(keys, dtype=np.uint64)))
    assert got == [slow.get_resource(x) for x in hk]
    k = min(3, len(fast.nodes))
    prefs = fast.assign(np.array(keys, dtype=np.uint64), replicas=k)
    assert [names_of(fast, row) for row in prefs] == [slow.failover(x, k) for x in hk]


def apply_ops(n, spare, ops):
    """The same random history of removals and additions on both implementations."""
    nodes = [f"n{i}" for i in range(n)]
    fast, slow = AnchorHash(nodes, capacity=n + spare), NaiveAnchor(n + spare, nodes)
    for i, (add, pick) in enumerate(ops):
        if add and len(fast.nodes) < n + spare:
            fast = fast.with_node(f"new{i}")
            slow.add_resource(f"new{i}")
        elif not add and len(fast.nodes) > 1:
            name = fast.nodes[pick % len(fast.nodes)]
            fast = fast.without_node(name)
            slow.remove_resource(name)
    return fast, slow


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 12), st.integers(0, 6), ops_st, st.integers(0, 2**32))
def test_full_preference_list_is_the_paper_failover_order(n, spare, ops, seed):
    """Replica j+1 is where GETRESOURCE sends the key once replicas 1..j are removed (all of them)."""
    fast, slow = apply_ops(n, spare, ops)
    keys = np.random.default_rng(seed).integers(0, 2**63, 200, dtype=np.int64)
    k = len(fast.nodes)
    prefs = fast.assign(keys, replicas=k)
    want = [slow.failover(x, k) for x in hash_keys(keys).tolist()]
    assert [names_of(fast, row) for row in prefs] == want


def test_preference_list_follows_without_node():
    """The same property through the public API: remove the primary, the key moves to replica 2."""
    algo = AnchorHash([f"n{i}" for i in range(9)], capacity=12).without_node("n0").with_node("x").without_node("n1")
    keys = np.arange(300)
    prefs = algo.assign(keys, replicas=len(algo.nodes))
    for key, row in zip(keys.tolist(), prefs.tolist()):
        assert len(set(row)) == len(algo.nodes)
        state = algo
        for r in row[:-1]:
            name = algo.nodes[r]
            assert state.node_names(state.assign(np.array([key])))[0] == name
            state = state.without_node(name)


def test_removal_moves_only_the_removed_nodes_keys_and_lifo_add_restores():
    """Full consistency (Section 4): only the removed node's keys move; re-adding undoes it."""
    algo = AnchorHash([f"n{i}" for i in range(20)], capacity=32)
    keys = np.arange(200_000)
    before = algo.node_names(algo.assign(keys))
    smaller = algo.without_node("n7")
    after = smaller.node_names(smaller.assign(keys))
    moved = before != after
    assert np.all(before[moved] == "n7") and np.all(before == "n7") == np.all(moved)
    assert moved.mean() == pytest.approx(1 / 20, abs=0.003)
    # the removed bucket is reused (LIFO) by the next addition: n7's keys go to the new node
    back = smaller.with_node("n7-again")
    again = back.node_names(back.assign(keys))
    assert np.array_equal(again == "n7-again", before == "n7")
    assert np.array_equal(again[before != "n7"], before[before != "n7"])


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 15), st.integers(0, 5), st.integers(0, 14))
def test_adding_moves_keys_only_to_the_new_node(n, spare, drop):
    algo = AnchorHash([f"n{i}" for i in range(n)], capacity=n + 1 + spare)
    if n > 2:
        algo = algo.without_node(algo.nodes[drop % n])
    keys = [f"k{i}" for i in range(3000)]
    bigger = algo.with_node("new")
    m = movement(algo, bigger, keys)
    assert m["to_added"] == 1.0 or m["moved"] == 0.0
    a = algo.node_names(algo.assign(keys))
    b = bigger.node_names(bigger.assign(keys))
    assert np.all(b[a != b] == "new")


def test_balance_is_that_of_a_uniform_hash():
    """Keys are uniform over working buckets even after removals (Theorem 1)."""
    algo = AnchorHash([f"n{i}" for i in range(100)], capacity=1000)
    for i in range(0, 100, 3):
        algo = algo.without_node(f"n{i}")
    n = len(algo.nodes)
    m = 400_000
    b = balance(algo.assign(np.arange(m)), n)
    multinomial_cv = math.sqrt((n - 1) / m)
    assert b["cv"] < 1.3 * multinomial_cv
    assert b["chi2_p"] > 1e-3


def test_make_capacity_and_errors():
    algo = make("anchor", ["a", "b"], capacity=3)
    assert isinstance(algo, AnchorHash) and make("anchorhash", ["a"]).capacity == 2
    full = algo.with_node("c")
    with pytest.raises(ValueError, match="`capacity`"):
        full.with_node("d")
    with pytest.raises(ValueError, match="`capacity` must be"):
        AnchorHash(["a", "b", "c"], capacity=2)
    with pytest.raises(ValueError, match="already"):
        algo.with_node("a")
    with pytest.raises(ValueError, match="`weight`"):
        algo.with_node("z", weight=2.0)
    with pytest.raises(AttributeError):
        algo.capacity = 10
    with pytest.raises(ValueError):
        algo.anchor[0] = 5
    assert algo.memory_bytes() == 4 * 4 * 3 + 4 * 1 + 8 * 3 + 8 * 2
