"""Operator actions on a running VeSTA deployment (notebook 07, tests).

:func:`reconfigure` installs a new member set on the ring (an operator's action, delivered to
every live node as a :class:`~consensuslab.protocols.vesta.Reconfigure` request), and
:func:`holders` reads which live nodes hold a key. Both take a
:class:`~consensuslab.cluster.Cluster` or its :class:`~consensuslab.sim.Simulator`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from consensuslab._validate import check_int
from consensuslab.node import NodeId
from consensuslab.protocols.vesta import Reconfigure, Version

__all__ = ["reconfigure", "holders"]


def _sim(target: Any) -> Any:
    return getattr(target, "sim", target)


def reconfigure(target: Any, members: Iterable[int]) -> int:
    """Operator action: install ``members`` as the ring's node set on every live node.

    Parameters
    ----------
    target : Cluster or Simulator
        The running VeSTA deployment.
    members : iterable of int
        The new member set (node ids of the simulator).

    Returns
    -------
    int
        The new epoch. Nodes that are down learn it later through transfers or anti-entropy.
    """
    sim = _sim(target)
    mem = tuple(sorted(check_int("members[]", m, 0, sim.n - 1) for m in members))
    if not mem:
        raise ValueError("`members` must name at least 1 node; got ().")
    cfg = getattr(target, "config", None)
    if cfg is not None and cfg.replicas > len(mem):
        raise ValueError(f"`members` must hold at least replicas={cfg.replicas} nodes; got {len(mem)}.")
    epoch = 1 + max((node.epoch for node in sim.nodes if node is not None), default=0)
    for i in sim.ids:
        if sim.nodes[i] is not None:
            sim.request(0, i, Reconfigure(epoch, mem))
    return epoch


def holders(target: Any, key: str) -> dict[NodeId, Version]:
    """Which live nodes hold ``key`` in their state machine, and which version."""
    sim = _sim(target)
    return {i: node.store[key] for i, node in enumerate(sim.nodes) if node is not None and key in node.store}
