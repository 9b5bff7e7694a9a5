"""Metrics against hand-computed values; every bad input gets a clear error naming it."""

import math

import numpy as np
import pytest

from consensuslab.hashing import (
    BoundedLoad,
    Jump,
    Maglev,
    MultiProbe,
    Rendezvous,
    Ring,
    balance,
    loads,
    make,
    movement,
    ring_cv_theory,
    ring_peak_to_mean_theory,
    ring_share_quantiles_theory,
)


def test_balance_by_hand():
    s = balance([0, 0, 0, 1], 2)
    assert s["peak_to_mean"] == 1.5 and s["min_to_mean"] == 0.5 and s["cv"] == 0.5
    assert loads([2, 2], 3).tolist() == [0, 0, 2]
    w = balance([0, 1, 1], 2, weights=[1, 2])
    assert w["peak_to_mean"] == pytest.approx(1.0) and w["chi2_p"] == pytest.approx(1.0)
    sh = balance(shares=[0.2, 0.3, 0.5])
    assert sh["peak_to_mean"] == pytest.approx(1.5) and math.isnan(sh["chi2_p"])


def test_ring_theory_formulas():
    # Beta(v, (n-1)v): CV = sqrt((n-1)/(nv+1)); jump paper: v=100 -> ~10%, 0.76-1.28 interval.
    assert ring_cv_theory(2, 1) == pytest.approx(math.sqrt(1 / 3))
    assert float(ring_cv_theory(1000, 100)) == pytest.approx(0.0999, abs=1e-3)
    lo, hi = ring_share_quantiles_theory(1000, 100)
    assert lo == pytest.approx(0.76, abs=0.01) and hi == pytest.approx(1.28, abs=0.01)
    assert float(ring_peak_to_mean_theory(math.e**50, 100)) == pytest.approx(2.0)


def test_ring_shares_match_theory_cv():
    cvs = [np.std(Ring([f"t{t}-{i}" for i in range(200)], vnodes=50).shares() * 200) for t in range(5)]
    assert np.mean(cvs) == pytest.approx(float(ring_cv_theory(200, 50)), rel=0.1)


def test_movement_jump_is_ideal_and_ring_removal_from_removed_only():
    keys = np.arange(200_000)
    j = Jump([f"n{i}" for i in range(9)])
    m = movement(j, j.with_node("n9"), keys)
    assert m["moved"] == pytest.approx(0.1, abs=0.005) and m["to_added"] == 1.0
    r = Ring([f"n{i}" for i in range(10)])
    m2 = movement(r, r.without_node("n3"), keys)
    # the least possible is the removed node's actual share of the keys, not 1/n
    assert m2["from_removed"] == 1.0 and m2["ideal_balanced"] == pytest.approx(0.1)
    assert m2["ideal"] == m2["moved"] and m2["moved_over_ideal"] == 1.0


def test_jump_remove_middle_swaps_last_node():
    j = Jump(["a", "b", "c", "d"]).without_node("b")
    assert j.nodes == ("a", "d", "c")


NODES = ["a", "b", "c"]


@pytest.mark.parametrize(
    "factory, exc, match",
    [
        (lambda: Ring([]), ValueError, "`nodes`"),
        (lambda: Ring(["a", "a"]), ValueError, "`nodes` must be distinct"),
        (lambda: Ring(["a", ""]), ValueError, "`nodes`"),
        (lambda: Ring("abc"), TypeError, "`nodes`"),
        (lambda: Ring([1, 2]), TypeError, "`nodes`"),
        (lambda: Ring(NODES, vnodes=0), ValueError, "`vnodes` must be an int >= 1 and <= 16777216; got 0."),
        (lambda: Ring(NODES, weights=[1, 0, 1]), ValueError, "`weights`"),
        (lambda: Ring(NODES, weights=[1, float("nan"), 1]), ValueError, "`weights`"),
        (lambda: Ring(NODES, weights=[1, float("inf"), 1]), ValueError, "`weights`"),
        (lambda: Ring(NODES, weights=[1, -2, 1]), ValueError, "`weights`"),
        (lambda: Ring(NODES, weights=[1, 1]), ValueError, "`weights`"),
        (lambda: Ring(NODES, mode="md5"), ValueError, "`mode`"),
        (lambda: Ring(NODES, mode="uhashring", weights=[1, 1.5, 1]), ValueError, "`weights`"),
        (lambda: Maglev(NODES, table_size=100), ValueError, "`table_size` must be a prime"),
        (lambda: Maglev(NODES, table_size=3), ValueError, "`table_size` must be larger"),
        (lambda: Maglev(NODES, table_size=2.5), TypeError, "`table_size`"),
        (lambda: MultiProbe(NODES, probes=0), ValueError, "`probes`"),
        (lambda: BoundedLoad(NODES, c=1.0), ValueError, "`c` must be a number > 1.0; got 1.0."),
        (lambda: BoundedLoad(NODES, c=0.5), ValueError, "`c`"),
        (lambda: Jump(NODES, weights=[1, 2, 3]), TypeError, "weights"),
        (lambda: MultiProbe(NODES).with_node("d", weight=2.0), ValueError, "`weight`"),
        (lambda: Ring(NODES).with_node("a"), ValueError, "`name`"),
        (lambda: Ring(NODES).with_node("d", weight=0), ValueError, "`weight`"),
        (lambda: Ring(NODES).without_node("zz"), ValueError, "`name`"),
        (lambda: Ring(["a"]).without_node("a"), ValueError, "`nodes`"),
        (lambda: make("chord", NODES), ValueError, "`algorithm`"),
        (lambda: make(3, NODES), TypeError, "`algorithm`"),
    ],
)
def test_bad_input(factory, exc, match):
    with pytest.raises(exc, match=match.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        factory()


@pytest.mark.parametrize("name", ["ring", "jump", "rendezvous", "maglev", "multiprobe", "bounded"])
def test_replicas_out_of_range(name):
    algo = make(name, NODES)
    with pytest.raises(ValueError, match="`replicas` must be an int >= 1 and <= 3; got 4."):
        algo.assign(["k"], replicas=4)
    with pytest.raises(ValueError, match="`replicas`"):
        algo.assign(["k"], replicas=0)
    with pytest.raises(TypeError, match="`replicas`"):
        algo.assign(["k"], replicas=1.5)


def test_weights_unsupported_by_maglev_is_fine_but_rendezvous_weighted():
    assert Maglev(NODES, weights=[1, 2, 3], table_size=101).shares()[2] > 0.4
    assert Rendezvous(NODES, weights={"a": 2}).weights == (2, 1.0, 1.0)
