"""Deterministic discrete-event network simulator.

See :mod:`consensuslab.node` for the sans-I/O node interface, :mod:`.network` for the
latency/loss/partition model, :mod:`.simulator` for the event loop and faults, :mod:`.nemesis`
for random fault schedules and :mod:`.trace` for trace records.
"""

from consensuslab.sim.nemesis import FaultEvent, Nemesis
from consensuslab.sim.network import (
    Constant,
    Empirical,
    Exponential,
    Latency,
    Link,
    LogNormal,
    Mixture,
    Pareto,
    Shifted,
    Uniform,
    as_latency,
)
from consensuslab.node import (
    Broadcast,
    CancelTimer,
    Node,
    NodeId,
    Note,
    Persist,
    Reply,
    Send,
    SetTimer,
)
from consensuslab.sim.simulator import AUX, CLIENTS, NETWORK, NODES, SimulationError, Simulator, simulate, stream
from consensuslab.sim.trace import Trace

__all__ = [
    "Simulator", "simulate", "SimulationError", "stream", "NETWORK", "NODES", "CLIENTS", "AUX",
    "Node", "NodeId", "Send", "Broadcast", "SetTimer", "CancelTimer", "Persist", "Reply", "Note",
    "Latency", "Constant", "Uniform", "Exponential", "LogNormal", "Pareto", "Empirical", "Shifted", "Mixture",
    "as_latency", "Link", "Nemesis", "FaultEvent", "Trace",
]
