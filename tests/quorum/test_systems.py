"""Quorum systems: exact numbers, closed forms vs enumeration vs Monte Carlo, structure."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from consensuslab.quorum import (
    ENUMERATION_LIMIT,
    Explicit,
    FlexiblePaxos,
    Grid,
    Majority,
    Probabilistic,
    ReadWrite,
    ReadWriteSystem,
    Threshold,
    Weighted,
    expr,
    intersecting,
)


# -- the exact numbers -------------------------------------------------------------
def test_majority_of_five_failure_probability_at_p_01_is_000856():
    # sum_{i=0..2} C(5, i) 0.9^i 0.1^(5-i) = 0.00856 exactly
    exact = sum(math.comb(5, i) * 0.9**i * 0.1 ** (5 - i) for i in range(3))
    assert exact == pytest.approx(0.00856, abs=1e-15)
    m = Majority(5)
    assert m.unavailability(0.1) == pytest.approx(0.00856, rel=1e-12)
    assert 1 - m.availability(0.1, method="enumerate") == pytest.approx(0.00856, rel=1e-12)
    est, lo, hi = m.availability_mc(0.1, trials=400_000, seed=3)
    assert lo <= 1 - 0.00856 <= hi


def test_load_majority_of_five_is_3_over_5_and_3x3_grid_is_5_over_9():
    # Naor & Wool 1998: majority ceil((n+1)/2)/n; d x d grid (2d-1)/d^2
    assert Majority(5).load() == pytest.approx(3 / 5)
    assert Majority(5).load(method="lp") == pytest.approx(3 / 5, abs=1e-9)
    assert Grid(3, 3).load() == pytest.approx(5 / 9)
    assert Grid(3, 3).load(method="lp") == pytest.approx(5 / 9, abs=1e-9)
    assert Grid(3, 3).capacity() == pytest.approx(9 / 5)


@pytest.mark.parametrize("n", range(1, 10))
def test_majority_load_lp_matches_closed_form(n):
    assert Majority(n).load(method="lp") == pytest.approx(math.ceil((n + 1) / 2) / n, abs=1e-9)


@pytest.mark.parametrize("rows,cols", [(2, 2), (2, 3), (3, 2), (4, 4), (2, 5)])
def test_grid_load_lp_matches_closed_form(rows, cols):
    g = Grid(rows, cols)
    assert g.load(method="lp") == pytest.approx((rows + cols - 1) / (rows * cols), abs=1e-9)


def test_dynamo_common_configuration_is_strict():
    # DeCandia et al. 2007 §4.5: (N, R, W) = (3, 2, 2); strict iff R + W > N
    assert ReadWrite(3, 2, 2).is_strict
    assert ReadWrite(3, 2, 2).intersects()
    assert not ReadWrite(3, 1, 1).is_strict
    assert not ReadWrite(3, 1, 2).intersects()


# -- closed forms vs enumeration vs Monte Carlo ---------------------------------------------
P_HET = np.array([0.05, 0.3, 0.12, 0.5, 0.01, 0.2, 0.08, 0.4, 0.15])


@pytest.mark.parametrize(
    "system",
    [
        Threshold(9, 4),
        Majority(9),
        Weighted([3, 1, 1, 2, 1, 1, 1, 2, 1]),
        Weighted([3, 1, 1, 2, 1, 1, 1, 2, 1], threshold=6),
        Grid(3, 3),
        Explicit([[0, 1, 2], [3, 4], [5, 6, 7, 8]]),
    ],
    ids=repr,
)
def test_closed_form_equals_enumeration_and_monte_carlo(system):
    for p in (0.1, P_HET):
        closed = system.availability(p, method="closed")
        enum = system.availability(p, method="enumerate")
        assert closed == pytest.approx(enum, abs=1e-12)
        _, lo, hi = system.availability_mc(p, trials=100_000, seed=11, confidence=0.999)
        assert lo <= enum <= hi


def test_grid_availability_rectangular_and_large_closed_form():
    g = Grid(3, 5)
    assert g.availability(P_HET[:1].repeat(15), method="closed") == pytest.approx(g.availability(0.05, method="enumerate"), abs=1e-12)
    big = Grid(8, 8)  # 64 nodes: beyond enumeration, closed form by inclusion-exclusion
    _, lo, hi = big.availability_mc(0.05, trials=200_000, seed=5, confidence=0.999)
    assert lo <= big.availability(0.05) <= hi


def test_expression_system_enumeration_matches_monte_carlo():
    q = expr("(a & b & c) | (a & d) | choose(2, e, f, g) & h")
    exact = q.availability(0.2)
    _, lo, hi = q.availability_mc(0.2, trials=200_000, seed=2, confidence=0.999)
    assert lo <= exact <= hi


def test_majority_availability_crosses_at_one_half():
    # For odd n, P(majority alive) = 1/2 at p = 1/2; larger majorities win below, lose above.
    sizes = [3, 5, 7, 9]
    for n in sizes:
        assert Majority(n).availability(0.5) == pytest.approx(0.5, abs=1e-12)
    below = [Majority(n).availability(0.3) for n in sizes]
    above = [Majority(n).availability(0.7) for n in sizes]
    assert below == sorted(below)
    assert above == sorted(above, reverse=True)


def test_enumeration_at_twenty_nodes_agrees_with_binomial():
    t = Threshold(20, 11)
    p = np.linspace(0.01, 0.3, 20)
    assert t.availability(p, method="enumerate") == pytest.approx(t.availability(p), abs=1e-12)


def test_unavailability_is_precise_for_tiny_probabilities():
    assert Majority(9).unavailability(1e-6) == pytest.approx(math.comb(9, 5) * 1e-30, rel=1e-6)


def test_auto_falls_back_to_monte_carlo_beyond_enumeration_limit():
    q = expr(" | ".join(f"(x{i} & x{i + 1})" for i in range(0, ENUMERATION_LIMIT + 4, 2)))
    assert q.n > ENUMERATION_LIMIT
    auto = q.availability(0.3, trials=50_000, seed=1)
    est, lo, hi = q.availability_mc(0.3, trials=50_000, seed=1)
    assert auto == est
    with pytest.raises(ValueError, match="ENUMERATION|<= 22|montecarlo"):
        q.availability(0.3, method="enumerate")


# -- structure -------------------------------------------------------------------------------
def test_minimal_quorums_and_resilience():
    assert len(Majority(4).minimal_quorums()) == 4
    assert Majority(5).resilience() == 2 and Majority(5).blocking_number() == 3
    grid = Grid(3, 3)
    mq = grid.minimal_quorums()
    assert len(mq) == 9 and all(len(q) == 5 for q in mq)
    assert grid.resilience() == 2
    q = expr("(a & b) | (c & d)")
    assert sorted(sorted(x) for x in q.minimal_quorums()) == [["a", "b"], ["c", "d"]]
    assert q.resilience() == 1


def test_generic_resilience_paths_agree():
    q = expr("(a & b) | (b & c) | (c & d) | (d & e & a)")
    assert q.resilience() == q._resilience_milp()


def test_is_quorum_accepts_vectors_arrays_and_name_collections():
    m = Majority(5)
    assert m.is_quorum({0, 1, 2}) is True
    assert m.is_quorum([0, 1]) is False
    assert m.is_quorum(np.array([True, True, True, False, False])) is True
    states = np.array([[True] * 5, [False] * 5, [True, False, True, False, True]])
    assert m.is_quorum(states).tolist() == [True, False, True]
    e = expr("(a & b) | (c & d)")
    assert e.is_quorum({"c", "d"}) and not e.is_quorum(["a", "c"])


def test_flexible_paxos_intersects_iff_q1_plus_q2_exceeds_n():
    # Howard, Malkhi & Spiegelman 2016 §3: safety needs only |Q1| + |Q2| > N.
    for n in range(1, 8):
        for q1 in range(1, n + 1):
            for q2 in range(1, n + 1):
                fp = FlexiblePaxos(n, q1, q2)
                assert fp.intersects() == (q1 + q2 > n)
                # the generic path (minimal quorums + complements) agrees with pigeonhole
                generic = intersecting(expr(" | ".join("(" + " & ".join(f"n{i}" for i in c) + ")" for c in itertools.combinations(range(n), q1))),
                                       expr(" | ".join("(" + " & ".join(f"n{i}" for i in c) + ")" for c in itertools.combinations(range(n), q2)))) if n <= 5 else None
                if generic is not None:
                    assert generic == (q1 + q2 > n)


def test_flexible_paxos_phase_quorums_by_responders():
    fp = FlexiblePaxos(6, 5, 2)
    assert fp.phase2.is_quorum({3, 5}) and not fp.phase2.is_quorum({3})
    assert fp.phase1.is_quorum({0, 1, 2, 3, 4}) and not fp.phase1.is_quorum({0, 1, 2, 3})
    assert fp.phase1 is fp.read and fp.phase2 is fp.write


def test_grid_read_rows_write_columns():
    g = Grid(2, 3, nodes="abcdef")
    assert g.read.is_quorum({"a", "b", "c"}) and not g.read.is_quorum({"a", "d"})
    assert g.write.is_quorum({"a", "d"}) and not g.write.is_quorum({"a", "b"})
    assert g.intersects()
    rw = g.read_write()
    assert rw.load(read_fraction=0.5) == pytest.approx(0.5 / 2 + 0.5 / 3)
    assert rw.load(read_fraction=0.5, method="lp") == pytest.approx(0.5 / 2 + 0.5 / 3, abs=1e-9)


def test_dual_meets_every_quorum_and_is_an_involution():
    q = expr("(a & b) | (c & d & e) | (a & e)")
    d = q.dual()
    assert intersecting(q, d)
    assert sorted(map(sorted, d.dual().minimal_quorums())) == sorted(map(sorted, q.minimal_quorums()))
    assert ReadWriteSystem(q).intersects()


def test_majority_is_intersecting_and_minority_is_not():
    assert Majority(6).is_intersecting()
    assert not Threshold(6, 3).is_intersecting()


def test_readwrite_availability_and_load_closed_forms():
    rw = ReadWrite(5, 2, 4)
    assert rw.availability(0.2) == pytest.approx(Threshold(5, 4).availability(0.2))
    assert rw.availability(0.2) == pytest.approx(rw.availability(0.2, method="enumerate"), abs=1e-12)
    assert rw.load(0.3) == pytest.approx((0.3 * 2 + 0.7 * 4) / 5)
    assert rw.load(0.3, method="lp") == pytest.approx((0.3 * 2 + 0.7 * 4) / 5, abs=1e-9)
    assert rw.resilience() == 1


# -- probabilistic quorums (Malkhi, Reiter, Wool & Wright 2001) -------------------------------
@pytest.mark.parametrize("n", [16, 100, 400, 1000])
@pytest.mark.parametrize("l", [1.0, 1.5, 2.0, 3.0])
def test_probabilistic_nonintersection_below_exp_minus_l_squared(n, l):  # noqa: E741
    q = Probabilistic(n, l=l)
    assert q.p_nonintersect() <= q.bound() + 1e-15
    assert q.load() == pytest.approx(q.q / n)


def test_probabilistic_nonintersection_matches_sampling():
    q = Probabilistic(36, q=6)
    rng = np.random.default_rng(7)
    trials = 40_000
    a = rng.random((trials, 36)).argsort(axis=1)[:, :6]
    b = rng.random((trials, 36)).argsort(axis=1)[:, :6]
    ma = np.zeros((trials, 36), bool)
    mb = np.zeros((trials, 36), bool)
    np.put_along_axis(ma, a, True, axis=1)
    np.put_along_axis(mb, b, True, axis=1)
    miss = np.mean(~(ma & mb).any(axis=1))
    se = math.sqrt(q.p_nonintersect() * (1 - q.p_nonintersect()) / trials)
    assert abs(miss - q.p_nonintersect()) < 5 * se
