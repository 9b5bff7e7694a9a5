"""Absurd sizes are refused up front with the size and the limit, instead of hanging (issue 15).

Each limit is checked from the parameters alone, before any table, label or loop is built, so
every refusal below is immediate. The ``deadline`` guard turns a regression (a constructor that
starts building a billion-entry table again) into a test failure instead of a hung test run.
"""

from __future__ import annotations

import re
import signal
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from consensuslab.hashing import (
    AnchorHash,
    BoundedLoad,
    Jump,
    Maglev,
    MultiProbe,
    Ring,
    jump_hash,
)
from consensuslab.hashing import anchor as anchor_mod
from consensuslab.hashing import jump as jump_mod
from consensuslab.hashing import maglev as maglev_mod
from consensuslab.hashing import multiprobe as multiprobe_mod
from consensuslab.hashing import ring as ring_mod
from consensuslab.hashing.maglev import is_prime


@contextmanager
def deadline(seconds: float = 2.0) -> Iterator[None]:
    """Fail (TimeoutError) if the block runs longer than ``seconds`` (POSIX main thread)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s: the size was not refused up front")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def refused(exc: type[Exception], *parts: str):  # returns pytest.raises(...)
    """``pytest.raises`` whose message must contain every part, in order."""
    return pytest.raises(exc, match=".*".join(re.escape(p) for p in parts))


# -- the limits cover every existing use -------------------------------------------------------
def test_limits_cover_the_sizes_the_library_notebooks_and_benchmarks_use():
    # notebook 05: 1000 nodes x 1000 vnodes; benchmarks: 1000 nodes x 160 (default) vnodes
    assert ring_mod.MAX_POINTS >= 1000 * 1000
    # Maglev paper (section 5.3): 65537 and 655373; Envoy's and Istio's largest: 5000011
    assert maglev_mod.MAX_TABLE_SIZE == 5_000_011 and is_prime(maglev_mod.MAX_TABLE_SIZE)
    assert maglev_mod.MAX_FILL_VISITS >= maglev_mod.fill_visits(600, maglev_mod.MAX_TABLE_SIZE)
    # multi-probe paper: 21 probes
    assert multiprobe_mod.MAX_PROBES >= 21
    # benchmarks: AnchorHash with the default capacity 2 x 1000 nodes
    assert anchor_mod.MAX_CAPACITY >= 2000
    assert jump_mod.MAX_BUCKETS == 2**31 - 1


# -- Ring ------------------------------------------------------------------------------------
def test_ring_refuses_a_billion_vnodes_up_front():
    with deadline(), refused(ValueError, "`vnodes` must be an int >= 1 and <= 16777216; got 1000000000."):
        Ring(["a", "b"], vnodes=10**9)


@pytest.mark.parametrize(
    "kwargs, got",
    [
        ({"weights": [1e9, 1]}, "got 160000000160."),  # a weight scales the vnodes
        ({"weights": [1e9, 1], "vnodes": 1}, "got 1000000001."),
        ({"weights": [1e308, 1]}, "got inf"),  # 160 * 1e308 overflows a float
        ({"weights": [10**9, 1], "mode": "uhashring"}, "got 160000000160."),
    ],
)
def test_ring_refuses_weights_that_scale_the_ring_past_the_limit(kwargs, got):
    with deadline(), refused(ValueError, "`weights` must give at most 16777216 ring points", got):
        Ring(["a", "b"], **kwargs)


def test_ring_point_limit_is_the_total_over_all_nodes():
    names = [f"n{i}" for i in range(100_000)]
    with deadline(), refused(ValueError, "`vnodes` must give at most 16777216 ring points",
                             "100000 nodes", "got 100000000."):
        Ring(names, vnodes=1000)


def test_ring_ketama_limit_counts_points_per_label():
    names = [f"n{i}" for i in range(1000)]
    with deadline(), refused(ValueError, "16777216 ring points", "4 points per label", "got 20000000."):
        Ring(names, vnodes=5000, mode="ketama")


@pytest.mark.parametrize("mode", ["native", "ketama", "uhashring"])
def test_ring_limit_boundary_is_inclusive(monkeypatch, mode):
    monkeypatch.setattr(ring_mod, "MAX_POINTS", 48)
    ring = Ring(["a", "b", "c"], vnodes=4 if mode == "ketama" else 16, mode=mode)  # exactly 48 points
    assert int(ring.points_per_node().sum()) == 48
    with refused(ValueError, "at most 48 ring points", "got 51."):
        Ring(["a", "b", "c"], vnodes=17, mode="native" if mode == "ketama" else mode)


def test_bounded_load_has_the_ring_limits():
    with deadline(), refused(ValueError, "`vnodes` must be an int >= 1 and <= 16777216; got 1000000000."):
        BoundedLoad(["a", "b"], vnodes=10**9)
    with deadline(), refused(ValueError, "`weights` must give at most 16777216 ring points", "got 100000000100."):
        BoundedLoad(["a", "b"], weights=[1e9, 1])


# -- Maglev ----------------------------------------------------------------------------------
def test_maglev_refuses_table_sizes_past_the_limit():
    # the first prime past the limit: today's code would fill it (tens of seconds)
    with deadline(), refused(ValueError, "`table_size` must be an int >= 2 and <= 5000011; got 5000077."):
        Maglev(["a", "b"], table_size=5_000_077)
    with deadline(), refused(ValueError, "`table_size` must be an int >= 2 and <= 5000011; got 1000000007."):
        Maglev(["a", "b"], table_size=10**9 + 7)
    # refused before the primality test (trial division of 10**18 would never end)
    with deadline(), refused(ValueError, "<= 5000011; got 1000000000000000009."):
        Maglev(["a", "b"], table_size=10**18 + 9)
    with deadline(), refused(ValueError, "`table_size` must be an int >= 1 and <= 5000011"):
        maglev_mod.maglev_table([0, 1], [1, 2], 10**9 + 7)


def test_maglev_refuses_weights_that_make_the_fill_visit_too_many_nodes():
    names = [f"n{i}" for i in range(1000)]
    weights = [1000.0] + [1.0] * 999  # each round hands out ~2 slots but visits 1000 nodes
    with deadline(), refused(ValueError, "`weights` must give at most 268435456 node visits in the table fill",
                             "table_size=5000011", "got 2501257000."):
        Maglev(names, weights=weights, table_size=5_000_011)


def test_maglev_fill_visits_estimate_matches_the_fill(monkeypatch):
    offsets, skips, size, weights = [0, 3, 7, 11], [1, 5, 9, 13], 1009, [5.0, 1.0, 1.0, 0.5]
    est = maglev_mod.fill_visits(4, size, weights)
    table = maglev_mod.maglev_table(offsets, skips, size, weights)
    # the heaviest node (relative weight 1) comes first and takes a slot every round, so the
    # fill ran counts[0] rounds of 4 visits each
    rounds = int(np.bincount(table, minlength=4)[0])
    assert abs(est - 4 * rounds) <= 4
    # at the boundary: a fill of exactly the limit is allowed, one visit fewer is not
    monkeypatch.setattr(maglev_mod, "MAX_FILL_VISITS", est)
    maglev_mod.maglev_table(offsets, skips, size, weights)
    monkeypatch.setattr(maglev_mod, "MAX_FILL_VISITS", est - 1)
    with refused(ValueError, f"at most {est - 1} node visits", f"got {est}."):
        maglev_mod.maglev_table(offsets, skips, size, weights)


def test_maglev_skewed_weights_within_the_limit_still_build():
    m = Maglev(["a", "b"], weights=[1e9, 1], table_size=65537)  # 2 nodes: ~2 visits per slot
    assert m.shares()[0] == 1.0


# -- MultiProbe, AnchorHash, Jump ------------------------------------------------------------
def test_multiprobe_refuses_absurd_probe_counts():
    with deadline(), refused(ValueError, "`probes` must be an int >= 1 and <= 1024; got 1000000000."):
        MultiProbe(["a", "b"], probes=10**9)
    assert MultiProbe(["a", "b"], probes=1024).salts.shape == (1024,)


def test_anchor_refuses_absurd_capacities():
    with deadline(), refused(ValueError, "`capacity` must be an int >= 2 and <= 16777216; got 1000000000."):
        AnchorHash(["a", "b"], capacity=10**9)
    with deadline(), refused(ValueError, "<= 16777216; got 2147483647."):
        AnchorHash(["a", "b"], capacity=2**31 - 1)  # the old limit: 60 GB of state


def test_anchor_default_capacity_stays_within_the_limit(monkeypatch):
    monkeypatch.setattr(anchor_mod, "MAX_CAPACITY", 10)
    assert AnchorHash([f"n{i}" for i in range(6)]).capacity == 10  # 2 x 6 clamped to the limit
    assert AnchorHash([f"n{i}" for i in range(4)]).capacity == 8


def test_jump_hash_bucket_count_is_validated():
    keys = np.arange(4, dtype=np.uint64)
    with refused(ValueError, "`n` must be an int >= 1 and <= 2147483647; got 0."):
        jump_hash(keys, 0)  # silently answered bucket 0 before
    with refused(ValueError, "<= 2147483647; got 2147483648."):
        jump_hash(keys, 2**31)
    with refused(TypeError, "`n` must be an int"):
        jump_hash(keys, 2.0)


def _jump_preferences_oracle(h: np.ndarray, n: int, k: int) -> np.ndarray:
    """The unblocked preference walk, one key at a time (the oracle)."""
    out = np.empty((h.shape[0], k), dtype=np.intp)
    for r in range(h.shape[0]):
        remaining = list(range(n))
        for level in range(k):
            salt = np.uint64((0x9E3779B97F4A7C15 * level) & (2**64 - 1))
            x = h[r : r + 1] if level == 0 else jump_mod.fmix64(h[r : r + 1] ^ salt)
            slot = int(jump_hash(x, n - level)[0])
            out[r, level] = remaining[slot]
            remaining[slot] = remaining[n - level - 1]
    return out


def test_jump_preference_lists_are_blocked_and_unchanged(monkeypatch):
    monkeypatch.setattr(jump_mod, "_PREF_BLOCK", 64)  # 64 // 7 = 9 keys per block: many blocks
    algo = Jump([f"n{i}" for i in range(7)])
    keys = np.arange(100, dtype=np.uint64)
    got = algo.assign(keys, replicas=4)
    np.testing.assert_array_equal(got, _jump_preferences_oracle(algo.hash(keys), 7, 4))


def test_jump_preference_lists_memory_does_not_grow_with_keys_times_nodes():
    algo = Jump([f"n{i}" for i in range(1000)])
    keys = np.arange(100_000, dtype=np.uint64)
    tracemalloc.start()
    try:
        t = time.perf_counter()
        prefs = algo.assign(keys, replicas=2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert prefs.shape == (100_000, 2) and (prefs[:, 0] != prefs[:, 1]).all()
    # keys x nodes x 8 bytes would be 800 MB; blocks of 2**21 entries keep it near 16 MB
    assert peak < 100e6, f"peak {peak / 1e6:.0f} MB in {time.perf_counter() - t:.1f} s"
