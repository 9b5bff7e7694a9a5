"""Exhaustive model checking of the same sans-I/O nodes the simulator and the notebooks run.

Modules, bottom up: ``fingerprint`` (canonical encodings of states), ``model`` (the model
protocol, properties, paths), ``search`` (BFS/DFS with bounds), ``system`` (TLA+-style
transition systems), ``actors`` (sans-I/O nodes, a network, clients, faults within budgets).
Models of particular systems live in :mod:`consensuslab.explore.models`.

>>> from consensuslab.explore import TransitionSystem, always, check
>>> check(TransitionSystem([0], {"Inc": lambda s: s + 1 if s < 2 else None},
...                        [always("small", lambda s: s <= 2)])).unique_states
3
"""

from consensuslab.explore.actors import (
    NETWORKS,
    ActorModel,
    ActorState,
    Crash,
    Deliver,
    Drop,
    Restart,
    Timeout,
    monitor_invariant,
)
from consensuslab.explore.fingerprint import (
    FingerprintError,
    canonical,
    fingerprint,
    node_state,
)
from consensuslab.explore.model import (
    CheckerError,
    Model,
    Path,
    Property,
    always,
    sometimes,
)
from consensuslab.explore.search import Progress, Result, check
from consensuslab.explore.system import TransitionSystem

__all__ = [
    "NETWORKS",
    "ActorModel",
    "ActorState",
    "CheckerError",
    "Crash",
    "Deliver",
    "Drop",
    "FingerprintError",
    "Model",
    "Path",
    "Progress",
    "Property",
    "Restart",
    "Result",
    "Timeout",
    "TransitionSystem",
    "always",
    "canonical",
    "check",
    "fingerprint",
    "monitor_invariant",
    "node_state",
    "sometimes",
]
