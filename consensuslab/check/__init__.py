"""Safety invariants and the linearizability checker.

``check_linearizable(history, model)`` decides whether a client history of
:class:`Operation` s is linearizable against a sequential model (``"kv"``, ``"register"``,
``"cas-register"`` or a :class:`Model`), after the sound pruning rules of
:mod:`consensuslab.check.rules`, within a time, state and memory budget; the loaders read
Jepsen-style histories (strictly: :class:`HistoryFormatError` names the file and line).

Modules, bottom up: ``history`` (Operation, UNKNOWN), ``models``, ``rules``,
``linearizability``, ``jepsen``; ``safety`` stands apart.
"""

from consensuslab.check.history import HistoryError
from consensuslab.check.jepsen import (
    HistoryFormatError,
    from_events,
    load_jepsen_etcd,
    load_porcupine_kv,
)
from consensuslab.check.linearizability import (
    LinearizabilityResult,
    Operation,
    PartitionResult,
    check_linearizable,
    history_frame,
    linearization_points,
)
from consensuslab.check.models import (
    UNKNOWN,
    CASRegisterModel,
    KVInput,
    KVModel,
    Model,
    NondeterministicModel,
    RegisterInput,
    RegisterModel,
    get_model,
)
from consensuslab.check.safety import SafetyViolation

__all__ = [
    "SafetyViolation",
    "Operation",
    "check_linearizable",
    "LinearizabilityResult",
    "PartitionResult",
    "history_frame",
    "linearization_points",
    "UNKNOWN",
    "Model",
    "RegisterInput",
    "KVInput",
    "RegisterModel",
    "CASRegisterModel",
    "KVModel",
    "NondeterministicModel",
    "get_model",
    "from_events",
    "load_jepsen_etcd",
    "load_porcupine_kv",
    "HistoryFormatError",
    "HistoryError",
]
