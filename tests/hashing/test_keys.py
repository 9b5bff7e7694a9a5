"""Key hashing: the vectorized hash equals its scalar reference; stability; bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensuslab.hashing import fmix64, hash_keys
from consensuslab.hashing.keys import _fmix64_int, _seed_constant, hash_bytes_scalar


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=30), st.integers(0, 5))
def test_bytes_hash_matches_scalar_oracle(keys, seed):
    got = hash_keys(keys, seed=seed).tolist()
    assert got == [hash_bytes_scalar(k, seed) for k in keys]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=20), min_size=1, max_size=30))
def test_str_hash_is_utf8_bytes_hash(keys):
    assert hash_keys(keys).tolist() == [hash_bytes_scalar(k.encode("utf-8")) for k in keys]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**64 - 1), min_size=1, max_size=50))
def test_int_hash_is_fmix64_of_key_plus_seed(keys):
    want = [_fmix64_int((k % 2**64) + int(_seed_constant(0))) for k in keys]
    assert hash_keys(keys).tolist() == want


def test_batch_independent_and_pinned_values():
    # The hash of a key does not depend on the other keys in the batch (padding, widths).
    short = hash_keys(["a"])[0]
    assert hash_keys(["a", "a much longer key than eight bytes"])[0] == short
    # Pinned values: changing the hash would silently re-shard every user's data.
    assert hash_keys(["key-1"]).tolist() == [hash_bytes_scalar(b"key-1")]
    assert int(fmix64(np.array([1], dtype=np.uint64))[0]) == _fmix64_int(1)
    assert _fmix64_int(0) == 0


def test_trailing_nul_and_length_distinguish():
    h = hash_keys(["a", "a\0", "a\0\0\0\0\0\0\0\0", ""])
    assert len(set(h.tolist())) == 4


def test_no_collisions_on_a_million_sequential_ints():
    h = hash_keys(np.arange(1_000_000))
    assert np.unique(h).shape[0] == 1_000_000


@pytest.mark.parametrize(
    "keys, exc",
    [("abc", TypeError), (b"abc", TypeError), ([1.5, 2.5], TypeError), (["a", 1], TypeError),
     (np.zeros((2, 2), dtype=int), ValueError), (np.array([1.0]), TypeError)],
)
def test_bad_keys(keys, exc):
    with pytest.raises(exc, match="`keys`"):
        hash_keys(keys)
