"""The vocabulary of concurrent histories: :class:`Operation` and the :data:`UNKNOWN` outcome.

Theory of operation
-------------------
A *history* is what the clients of a replicated object saw: a sequence of operations, each
invoked at ``call`` and answered at ``ret`` with some ``output``. An operation whose client gave
up (a timeout, a crash, Jepsen's ``:info``) has ``ret=None``: its outcome is unknown, it may have
taken effect at any instant after its call, or never. A sequential model is handed the
:data:`UNKNOWN` sentinel as the output of such an operation.

This module is the bottom of :mod:`consensuslab.check`: the models
(:mod:`~consensuslab.check.models`), the checker (:mod:`~consensuslab.check.linearizability`)
and the loaders (:mod:`~consensuslab.check.jepsen`) all import it, and it imports none of them,
so the arrows point one way::

    history  <-  models  <-  linearizability
       ^           ^
       +-- jepsen -+
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["UNKNOWN", "Operation", "HistoryError"]


class _Unknown:
    """Type of the :data:`UNKNOWN` sentinel (the output of an operation with unknown outcome)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        # pickled by name: ``consensuslab.check.history.UNKNOWN`` (one instance per process)
        return "UNKNOWN"


#: The output passed to a model's ``step`` for an operation whose outcome is unknown.
UNKNOWN: Any = _Unknown()


class HistoryError(ValueError, TypeError):
    """An operation of a history that the chosen model cannot interpret.

    Raised by :func:`~consensuslab.check.check_linearizable` with the index and the ``repr`` of
    the offending operation and the input form the model expects (or the model's own error when
    one of its steps fails). It is both a ``ValueError`` and a ``TypeError``, so code catching
    either for bad input keeps working.
    """


@dataclass(frozen=True, slots=True)
class Operation:
    """One client operation of a concurrent history.

    Parameters
    ----------
    client : hashable
        Who issued it (a client or process id); only used for display.
    call : float
        Invocation time.
    ret : float or None
        Response time (``>= call``), or ``None`` if the outcome is unknown: the operation may
        take effect at any instant after ``call``, or never.
    input : object
        The operation and its arguments, in the model's convention (e.g.
        ``KVInput("put", "k", "v")``, ``RegisterInput("read")``).
    output : object
        What the client received (ignored when ``ret is None``).

    Examples
    --------
    >>> Operation(0, 1.0, None, ("write", 3)).unknown
    True
    """

    client: Any
    call: float
    ret: float | None
    input: Any
    output: Any = None

    @property
    def unknown(self) -> bool:
        """``True`` if the outcome of the operation is unknown (``ret is None``)."""
        return self.ret is None
