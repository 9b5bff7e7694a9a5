"""Bad input gets a clear error naming the parameter, the allowed range and the value."""

from __future__ import annotations

import numpy as np
import pytest

from consensuslab.quorum import (
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
    parse,
    pbs,
)


def test_node_counts():
    with pytest.raises(ValueError, match=r"`n` must be an int >= 1; got 0\."):
        Majority(0)
    with pytest.raises(TypeError, match="`n` must be an int"):
        Majority(2.5)
    with pytest.raises(ValueError, match="`k` must be an int >= 1 and <= 5; got 6"):
        Threshold(5, 6)
    with pytest.raises(ValueError, match="`rows`"):
        Grid(0, 3)


def test_probabilities():
    with pytest.raises(ValueError, match=r"`p` must be a number >= 0.0 and <= 1.0; got 1.5"):
        Majority(3).availability(1.5)
    with pytest.raises(ValueError, match=r"`p` must hold probabilities in \[0, 1\]; got p\[1\] = -0.1"):
        Majority(3).availability([0.1, -0.1, 0.2])
    with pytest.raises(ValueError, match="vector of 3 probabilities; got shape"):
        Majority(3).availability([0.1, 0.2])
    with pytest.raises(TypeError, match="`p` must be a probability"):
        Majority(3).availability("high")
    with pytest.raises(ValueError, match="`read_fraction`"):
        ReadWrite(3, 2, 2).load(read_fraction=2.0)


def test_read_write_sizes():
    with pytest.raises(ValueError, match=r"`r` must be an int >= 1 and <= 3; got 4"):
        ReadWrite(3, 4, 1)
    with pytest.raises(ValueError, match=r"`w` must be an int >= 1 and <= 3; got 0"):
        ReadWrite(3, 1, 0)
    with pytest.raises(ValueError, match="`q2`"):
        FlexiblePaxos(5, 3, 6)
    with pytest.raises(ValueError, match="`r`"):
        pbs.p_nonintersect(3, 0, 1)
    with pytest.raises(ValueError, match="`w`"):
        pbs.wars(3, 1, 4, "LNKD-SSD")


def test_quorum_lists_and_expressions():
    with pytest.raises(ValueError, match="`quorums` must hold at least 1 quorum; got an empty list"):
        Explicit([])
    with pytest.raises(ValueError, match=r"`quorums\[1\]` must be non-empty"):
        Explicit([["a"], []])
    with pytest.raises(ValueError, match="names node 'z', which is not one of the nodes"):
        expr("(a & b) | z", nodes=["a", "b", "c"])
    with pytest.raises(ValueError, match="names node 'q'"):
        Explicit([["a", "q"]], nodes=["a", "b"])
    with pytest.raises(ValueError, match="non-empty"):
        parse("   ")
    with pytest.raises(ValueError, match="expected"):
        parse("(a & b")
    with pytest.raises(ValueError, match="unexpected"):
        parse("a b")
    with pytest.raises(ValueError, match="unexpected character"):
        parse("a ^ b")


def test_membership_inputs():
    m = Majority(3)
    with pytest.raises(ValueError, match="names node 7"):
        m.is_quorum({7})
    with pytest.raises(ValueError, match="must have length 3"):
        m.is_quorum(np.array([True, False]))
    with pytest.raises(ValueError, match="must have 3 columns"):
        m.is_quorum(np.ones((2, 4), dtype=bool))
    with pytest.raises(TypeError, match="`alive`"):
        m.is_quorum(3)


def test_enumeration_beyond_limit_and_other_errors():
    with pytest.raises(ValueError, match=r"`n` must be an int <= 22 .* got 30"):
        Threshold(30, 16).availability(0.1, method="enumerate")
    with pytest.raises(ValueError, match="`method` must be one of"):
        Majority(3).availability(0.1, method="guess")
    with pytest.raises(ValueError, match="no closed form"):
        expr("(a & b) | (b & c)").availability(0.1, method="closed")
    with pytest.raises(ValueError, match="`limit` must be >= the number of minimal quorums"):
        Majority(25).minimal_quorums(limit=1000)
    with pytest.raises(ValueError, match="`write` must be over the same nodes"):
        ReadWriteSystem(Majority(3), Majority(4))
    with pytest.raises(TypeError, match="QuorumSystems"):
        intersecting(Majority(3), "abc")
    with pytest.raises(ValueError, match="`weights` must have a positive total"):
        Weighted([0, 0])
    with pytest.raises(ValueError, match="give exactly one"):
        Probabilistic(10)


def test_pbs_bad_input():
    with pytest.raises(ValueError, match="`profile` must be one of"):
        pbs.wars(3, 1, 1, "NOPE")
    with pytest.raises(ValueError, match="`t` must be a number >= 0.0; got -1.0"):
        pbs.wars(3, 1, 1, "LNKD-SSD", t=-1.0)
    with pytest.raises(ValueError, match="`t` must be a time >= 0"):
        pbs.wars(3, 1, 1, "LNKD-SSD", t=[0.0, -2.0])
    with pytest.raises(ValueError, match="`trials` must be an int >= 1; got 0"):
        pbs.wars(3, 1, 1, "LNKD-SSD", trials=0)
    with pytest.raises(ValueError, match="`kind` must be one of"):
        pbs.PROFILES["YMMR"].sample("X", np.random.default_rng(0), 3)
    with pytest.raises(TypeError, match="`rng` must be a numpy.random.Generator"):
        pbs.PROFILES["YMMR"].sample("W", 42, 3)
    with pytest.raises(ValueError, match="weights must sum to 1"):
        pbs.Mixture(((0.5, pbs.Constant(1.0)),))
    with pytest.raises(ValueError, match="`alpha` must be a number > 0.0"):
        pbs.Pareto(1.0, 0.0)
