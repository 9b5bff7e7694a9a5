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

from collections.abc import Sequence
from typing import Any

from consensuslab._validate import check_choice, describe
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
from consensuslab.hashing.ring import Ring, RingMode
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

#: lowercase name -> class, for :func:`make`
ALGORITHMS: dict[str, type[PlacementAlgorithm]] = {
    "ring": Ring,
    "jump": Jump,
    "rendezvous": Rendezvous,
    "maglev": Maglev,
    "multiprobe": MultiProbe,
    "bounded": BoundedLoad,
    "anchor": AnchorHash,
}


def make(algorithm: str, nodes: Sequence[str], **options: Any) -> PlacementAlgorithm:
    """Build a placement algorithm by name.

    Parameters
    ----------
    algorithm : {"ring", "jump", "rendezvous", "maglev", "multiprobe", "bounded", "anchor"}
        Algorithm name (``"ketama"`` and ``"uhashring"`` are shortcuts for
        ``Ring(..., mode=...)``; ``"hrw"`` for rendezvous, ``"bounded-load"`` for bounded, ``"anchorhash"`` for anchor).
    nodes : sequence of str
        Node names.
    **options
        Passed to the class (``weights``, ``vnodes``, ``table_size``, ``probes``, ``c``, ``capacity``...).

    Returns
    -------
    PlacementAlgorithm

    Examples
    --------
    >>> make("maglev", ["a", "b"], table_size=7).table_size
    7
    """
    if not isinstance(algorithm, str):
        raise TypeError(f"`algorithm` must be a str; got {describe(algorithm)}.")
    name = algorithm.lower()
    aliases = {"hrw": "rendezvous", "bounded-load": "bounded", "boundedload": "bounded", "multi-probe": "multiprobe",
               "anchorhash": "anchor"}
    name = aliases.get(name, name)
    if name in ("ketama", "uhashring"):
        mode: RingMode = "ketama" if name == "ketama" else "uhashring"
        return Ring(nodes, mode=mode, **options)
    check_choice("algorithm", name, list(ALGORITHMS) + ["ketama", "uhashring"])
    return ALGORITHMS[name](nodes, **options)
