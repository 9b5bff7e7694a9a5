"""How a protocol plugs into :class:`~consensuslab.cluster.Cluster`.

Each protocol module defines a configuration class (a frozen dataclass, validated in
``__post_init__``) that subclasses :class:`ProtocolConfig` and is registered by name in
:data:`PROTOCOLS`. The cluster builds it as ``Config(n=n, **options)`` and asks it for:

``make_node(node_id, peers, rng, stable)``
    a fresh node (the simulator's node factory);
``monitor()``
    a new :class:`Monitor` that checks the protocol's safety properties;
``leader(sim)``
    the current leader's id or ``None`` (for leaderless protocols: ``None``);
``applied(sim, i)``
    the commands node ``i`` has applied, in order.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from consensuslab.node import ClusterView, Node, NodeId

__all__ = ["ProtocolConfig", "Monitor", "PROTOCOLS", "config_class"]

#: protocol name -> "module:ConfigClass", imported on first use.
PROTOCOLS: dict[str, str] = {
    "raft": "consensuslab.protocols.raft:RaftConfig",
    "multipaxos": "consensuslab.protocols.multipaxos:MultiPaxosConfig",
    "omnipaxos": "consensuslab.protocols.omnipaxos:OmniPaxosConfig",
    "paxos": "consensuslab.protocols.paxos:PaxosConfig",
    "vesta": "consensuslab.protocols.vesta:VestaConfig",
}


class Monitor:
    """Checks safety properties; :meth:`observe` runs after every simulator step."""

    def observe(self, sim: ClusterView) -> None:  # pragma: no cover - interface
        """Raise :class:`~consensuslab.check.SafetyViolation` if a property is broken.

        ``sim`` is whatever drives the nodes (the simulator, a walkthrough, an explorer of
        interleavings); the monitor reads only the :class:`~consensuslab.node.ClusterView` part.
        """
        raise NotImplementedError


class ProtocolConfig:
    """Base of the protocol configuration dataclasses (see module docstring)."""

    n: int

    def make_node(
        self, node_id: NodeId, peers: tuple[NodeId, ...], rng: np.random.Generator, stable: dict
    ) -> Node:  # pragma: no cover - interface
        raise NotImplementedError

    def monitor(self) -> Monitor:  # pragma: no cover - interface
        raise NotImplementedError

    def leader(self, sim: Any) -> NodeId | None:
        return None

    def applied(self, sim: Any, i: NodeId) -> list:
        node = sim.nodes[i]
        return list(getattr(node, "applied", [])) if node is not None else []


def config_class(protocol: str) -> type[ProtocolConfig]:
    """The configuration class registered for ``protocol``."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"`protocol` must be one of {sorted(PROTOCOLS)}; got {protocol!r}.")
    module, _, cls = PROTOCOLS[protocol].partition(":")
    return getattr(importlib.import_module(module), cls)
