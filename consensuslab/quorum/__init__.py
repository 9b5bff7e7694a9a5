"""Quorum systems, exact availability, load/capacity (LP) and the PBS staleness model.

Theory of operation
-------------------
A quorum system is a family of node sets any two of which (or any read/write pair of which)
intersect, so that an operation that reached one quorum is seen by the next. This package
models the classic systems (:class:`Majority`, :class:`Threshold`, :class:`Weighted`,
:class:`Grid`), general ones given by a list of quorums (:class:`Explicit`) or a boolean
expression (:func:`expr`, ``"(a & b) | (c & d)"``), read/write pairs (:class:`ReadWrite`,
:class:`FlexiblePaxos`, :class:`ReadWriteSystem`), probabilistic quorums
(:class:`Probabilistic`), and the PBS staleness model (:mod:`consensuslab.quorum.pbs`).

Every system has ``n``, ``nodes``, a vectorized ``is_quorum(alive)``, ``availability(p)``
(``p`` = per-node **failure** probability, scalar or vector), ``load()``/``capacity()``
(Naor-Wool LP, closed forms where known), ``minimal_quorums()`` and ``resilience()``.
:func:`intersecting` checks that every quorum of one system meets every quorum of another.
"""

from consensuslab.quorum import pbs
from consensuslab.quorum._core import ENUMERATION_LIMIT
from consensuslab.quorum.expr import And, Choose, Expr, Node, Or, choose, parse
from consensuslab.quorum.systems import (
    MINIMAL_QUORUM_LIMIT,
    Explicit,
    ExprSystem,
    FlexiblePaxos,
    Grid,
    Majority,
    Probabilistic,
    QuorumSystem,
    ReadWrite,
    ReadWriteSystem,
    Strategy,
    Threshold,
    Weighted,
    expr,
    intersecting,
)

__all__ = [
    "QuorumSystem",
    "Majority",
    "Threshold",
    "Weighted",
    "Grid",
    "Explicit",
    "ExprSystem",
    "expr",
    "Probabilistic",
    "ReadWriteSystem",
    "ReadWrite",
    "FlexiblePaxos",
    "Strategy",
    "intersecting",
    "Expr",
    "Node",
    "And",
    "Or",
    "Choose",
    "choose",
    "parse",
    "pbs",
    "ENUMERATION_LIMIT",
    "MINIMAL_QUORUM_LIMIT",
]
