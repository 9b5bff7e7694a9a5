"""Placement algorithms by name: :data:`ALGORITHMS` and :func:`make`.

Kept apart from the package's ``__init__`` so that modules inside :mod:`consensuslab.hashing`
(the study behind the explorer) can build algorithms by name without importing their own package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from consensuslab._validate import check_choice, describe
from consensuslab.hashing.anchor import AnchorHash
from consensuslab.hashing.base import PlacementAlgorithm
from consensuslab.hashing.bounded import BoundedLoad
from consensuslab.hashing.jump import Jump
from consensuslab.hashing.maglev import Maglev
from consensuslab.hashing.multiprobe import MultiProbe
from consensuslab.hashing.rendezvous import Rendezvous
from consensuslab.hashing.ring import Ring, RingMode

__all__ = ["ALGORITHMS", "make"]


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
