"""Consistent hashing: eight placement algorithms behind one interface, and their metrics.

Every algorithm is an immutable object built from node names (and weights where supported)::

    algo = Ring(["a", "b", "c"])            # or Jump, Rendezvous, Maglev, MultiProbe, AnchorHash, ...
    algo.assign(keys)                       # node index per key
    algo.assign(keys, replicas=2)           # (len(keys), 2) preference lists, distinct nodes
    algo.with_node("d"); algo.without_node("a")   # new objects
    make("maglev", nodes, table_size=251)   # by lowercase name

Keys are numpy integer arrays or sequences of ``str``/``bytes``, hashed by the stable,
vectorized :func:`hash_keys` (see :mod:`consensuslab.hashing.keys`).
"""

from __future__ import annotations

from consensuslab.hashing.anchor import AnchorHash
from consensuslab.hashing.base import PlacementAlgorithm
from consensuslab.hashing.bounded import BoundedLoad
from consensuslab.hashing.jump import Jump, jump_hash
from consensuslab.hashing.keys import fmix64, hash_keys
from consensuslab.hashing.maglev import Maglev
from consensuslab.hashing.metrics import (
    balance,
    loads,
    movement,
    ring_cv_theory,
    ring_peak_to_mean_theory,
    ring_share_quantiles_theory,
)
from consensuslab.hashing.multiprobe import MultiProbe
from consensuslab.hashing.rendezvous import Rendezvous
from consensuslab.hashing.ring import Ring
from consensuslab.hashing.registry import ALGORITHMS, make
from consensuslab.hashing.study import study

__all__ = [
    "ALGORITHMS",
    "AnchorHash",
    "BoundedLoad",
    "Jump",
    "Maglev",
    "MultiProbe",
    "PlacementAlgorithm",
    "Rendezvous",
    "Ring",
    "balance",
    "fmix64",
    "hash_keys",
    "jump_hash",
    "loads",
    "make",
    "movement",
    "ring_cv_theory",
    "ring_peak_to_mean_theory",
    "ring_share_quantiles_theory",
    "study",
]
