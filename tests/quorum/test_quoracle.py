"""Load, capacity and resilience agree with quoracle (Whittaker et al., PaPoC '21) on its documented examples."""

from __future__ import annotations

import pytest

from consensuslab.quorum import Majority, ReadWriteSystem, expr

qr = pytest.importorskip("quoracle")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FRACTIONS = [0.0, 0.1, 0.25, 0.5, 0.75, 1.0]


def _nodes(**caps):
    return {x: qr.Node(x, **caps.get(x, {})) for x in "abcdef"}


def test_readme_grid_documented_numbers():
    # quoracle README "Load and Capacity": grid = QuorumSystem(reads=a*b*c + d*e*f)
    grid = ReadWriteSystem(expr("a*b*c + d*e*f"))
    assert sorted(map(sorted, grid.write.minimal_quorums())) == sorted(sorted([r, w]) for r in "abc" for w in "def")
    assert grid.load(read_fraction=0.25) == pytest.approx(3 / 8)
    assert grid.capacity(read_fraction=0.25) == pytest.approx(8 / 3)
    assert grid.read.resilience() == 1 and grid.write.resilience() == 2 and grid.resilience() == 1


@pytest.mark.parametrize("f", FRACTIONS)
def test_grid_load_equals_quoracle(f):
    n = _nodes()
    ours = ReadWriteSystem(expr("a*b*c + d*e*f")).load(read_fraction=f)
    theirs = qr.QuorumSystem(reads=n["a"] * n["b"] * n["c"] + n["d"] * n["e"] * n["f"]).load(read_fraction=f)
    assert ours == pytest.approx(theirs, abs=1e-6)


@pytest.mark.parametrize("f", FRACTIONS)
def test_majority_and_write2_load_equal_quoracle(f):
    n = _nodes()
    five = [n[x] for x in "abcde"]
    ours_major = ReadWriteSystem(Majority(5, nodes="abcde")).load(read_fraction=f)
    theirs_major = qr.QuorumSystem(reads=qr.choose(3, five)).load(read_fraction=f)
    assert ours_major == pytest.approx(theirs_major, abs=1e-6)
    ours_w2 = ReadWriteSystem(expr("choose(4, a, b, c, d, e)"), expr("choose(2, a, b, c, d, e)")).load(read_fraction=f)
    theirs_w2 = qr.QuorumSystem(writes=qr.choose(2, five)).load(read_fraction=f)
    assert ours_w2 == pytest.approx(theirs_w2, abs=1e-6)


def test_heterogeneous_capacities_documented_numbers():
    # README "Heterogeneous Node": capacities 1000/500 alternate -> 1333 ops/s at 75% reads;
    # read 10x faster than write -> 10000, 3913.04, 2000 at read fractions 1, .5, 0.
    grid = ReadWriteSystem(expr("a*b*c + d*e*f"))
    cap = [1000, 500, 1000, 500, 1000, 500]
    assert grid.capacity(0.75, read_capacity=cap, write_capacity=cap) == pytest.approx(4000 / 3, rel=1e-6)
    rc, wc = [10 * c for c in cap], cap
    got = [grid.capacity(f, read_capacity=rc, write_capacity=wc) for f in (1.0, 0.5, 0.0)]
    assert got == pytest.approx([10000.0, 3913.043450018904, 2000.0], rel=1e-6)
    n = {x: qr.Node(x, read_capacity=r, write_capacity=w) for x, r, w in zip("abcdef", rc, wc)}
    theirs = qr.QuorumSystem(reads=n["a"] * n["b"] * n["c"] + n["d"] * n["e"] * n["f"])
    for f in FRACTIONS:
        assert grid.capacity(f, read_capacity=rc, write_capacity=wc) == pytest.approx(theirs.capacity(read_fraction=f), rel=1e-6)


def test_write2_capacity_documented_number():
    # README: write2 = QuorumSystem(writes=choose(2, [a..e])); capacity(write_fraction=1) == 2000
    write2 = ReadWriteSystem(expr("choose(4, a, b, c, d, e)"), expr("choose(2, a, b, c, d, e)"))
    rc = [10000, 5000, 10000, 5000, 10000]
    wc = [1000, 500, 1000, 500, 1000]
    assert write2.capacity(0.0, read_capacity=rc, write_capacity=wc) == pytest.approx(2000.0, rel=1e-6)


def test_resilience_equals_quoracle():
    n = _nodes()
    cases = [
        (expr("a*b*c + d*e*f"), n["a"] * n["b"] * n["c"] + n["d"] * n["e"] * n["f"]),
        (expr("choose(3, a, b, c, d, e)"), qr.choose(3, [n[x] for x in "abcde"])),
        (expr("(a + b) * (c + d) * e + f"), (n["a"] + n["b"]) * (n["c"] + n["d"]) * n["e"] + n["f"]),
    ]
    for ours, theirs in cases:
        assert ReadWriteSystem(ours).resilience() == qr.QuorumSystem(reads=theirs).resilience()
