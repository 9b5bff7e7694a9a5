"""consensuslab: a laboratory for fault-tolerant distributed systems.

Subpackages
-----------
sim          deterministic discrete-event network simulator
protocols    sans-I/O protocol cores (Paxos, Multi-Paxos, Raft, VeSTA)
hashing      consistent-hashing algorithms and balance/movement metrics
quorum       quorum systems, availability, load/capacity, PBS staleness
check        safety invariants and the linearizability checker
experiments  named, reproducible experiments and the parallel trial runner
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("consensuslab")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
