"""Hypothesis property tests against naive oracles written here (pure Python, no numpy tricks)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from consensuslab.quorum import Explicit, Threshold, Weighted, intersecting


def _naive_is_quorum(quorums, alive):
    return any(all(x in alive for x in q) for q in quorums)


def _naive_availability(quorums, p):
    n = len(p)
    total = 0.0
    for bits in itertools.product([False, True], repeat=n):
        alive = {i for i in range(n) if bits[i]}
        if _naive_is_quorum(quorums, alive):
            pr = 1.0
            for i in range(n):
                pr *= (1 - p[i]) if bits[i] else p[i]
            total += pr
    return total


def _naive_resilience(quorums, n):
    for f in range(n + 1):
        for dead in itertools.combinations(range(n), f):
            if not _naive_is_quorum(quorums, set(range(n)) - set(dead)):
                return f - 1
    raise AssertionError("unreachable: killing everyone blocks")


def _naive_minimal(quorums):
    qs = {frozenset(q) for q in quorums}
    return {q for q in qs if not any(o < q for o in qs)}


quorum_lists = st.integers(min_value=1, max_value=7).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.sets(st.integers(0, n - 1), min_size=1), min_size=1, max_size=6),
        st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n),
    )
)


@settings(max_examples=150, deadline=None)
@given(quorum_lists)
def test_explicit_system_matches_naive_oracle(case):
    n, quorums, p = case
    q = Explicit(quorums, nodes=range(n))
    assert abs(q.availability(p) - _naive_availability(quorums, p)) < 1e-12
    assert abs(q.availability(p, method="enumerate") - _naive_availability(quorums, p)) < 1e-12
    assert q.resilience() == _naive_resilience(quorums, n)
    assert set(q.minimal_quorums()) == _naive_minimal(quorums)
    for bits in itertools.product([False, True], repeat=n):
        alive = {i for i in range(n) if bits[i]}
        assert q.is_quorum(alive) == _naive_is_quorum(quorums, alive)


@settings(max_examples=100, deadline=None)
@given(quorum_lists, quorum_lists)
def test_intersecting_matches_pairwise_oracle(a, b):
    n = max(a[0], b[0])
    qa, qb = Explicit(a[1], nodes=range(n)), Explicit(b[1], nodes=range(n))
    naive = all(set(x) & set(y) for x in a[1] for y in b[1])
    assert intersecting(qa, qb) == naive


@settings(max_examples=100, deadline=None)
@given(quorum_lists)
def test_load_lp_respects_naor_wool_bounds(case):
    n, quorums, _ = case
    q = Explicit(quorums, nodes=range(n))
    s = q.strategy()
    sizes = [len(m) for m in _naive_minimal(quorums)]
    c = min(sizes)
    # Naor & Wool 1998 Prop. 4.1: L >= max(1/c, c/n) for intersecting systems; 1/(#disjoint) in
    # general. Always: L <= load of the uniform strategy, and >= average load c_min / n.
    uniform = max(sum(i in m for m in _naive_minimal(quorums)) for i in range(n)) / len(sizes)
    assert s.load <= uniform + 1e-9
    assert s.load >= c / n - 1e-9
    if q.is_intersecting():
        assert s.load >= 1 / c - 1e-9
    assert abs(sum(s.read.values()) - 1) < 1e-9
    assert max(s.node_loads.values()) <= s.load + 1e-9


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 4), min_size=1, max_size=8).filter(lambda w: sum(w) > 0),
    st.floats(0.0, 1.0),
)
def test_weighted_closed_form_matches_naive(weights, p):
    q = Weighted(weights)
    n = len(weights)
    quorums = [c for k in range(n + 1) for c in itertools.combinations(range(n), k) if sum(weights[i] for i in c) > sum(weights) / 2]
    assert abs(q.availability(p) - _naive_availability(quorums, [p] * n)) < 1e-12


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 12).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n), st.lists(st.floats(0, 1), min_size=n, max_size=n))))
def test_threshold_poisson_binomial_matches_enumeration(case):
    n, k, p = case
    t = Threshold(n, k)
    assert abs(t.availability(p) - t.availability(p, method="enumerate")) < 1e-12
    assert abs(t.unavailability(p) + t.availability(p) - 1) < 1e-12


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 8), st.integers(0, 2**8 - 1))
def test_vectorized_is_quorum_matches_rowwise(n, seed):
    rng = np.random.default_rng(seed)
    t = Threshold(n, max(1, n // 2))
    states = rng.random((50, n)) < 0.5
    assert t.is_quorum(states).tolist() == [t.is_quorum(row) for row in states]
