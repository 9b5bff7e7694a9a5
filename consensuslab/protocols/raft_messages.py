"""Raft's vocabulary: terms, roles, configurations, log entries and one frozen dataclass per
message kind.

Both the node (:mod:`consensuslab.protocols.raft`) and its safety monitor
(:mod:`consensuslab.protocols.raft_monitor`) import these, so neither imports the other's
module for a type. Field names follow Figure 2 of the Raft paper (Ongaro & Ousterhout 2014).

A cluster configuration (:class:`Membership`) travels in the log as an entry whose ``config``
is set (its command is the no-op): the voters, the learners (etcd's non-voting members), and
during joint consensus (Raft paper §6) the old voters as well, ``C_old,new``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from consensuslab.node import NodeId
from consensuslab.protocols.kv import Command

__all__ = [
    "Term",
    "Role",
    "Entry",
    "Membership",
    "ChangeMembership",
    "RequestVote",
    "RequestVoteReply",
    "AppendEntries",
    "AppendEntriesReply",
    "InstallSnapshot",
    "InstallSnapshotReply",
    "TimeoutNow",
    "TransferLeadership",
    "RaftError",
]

Term = int


class RaftError(RuntimeError):
    """Protocol misuse: an illegal role transition or an operation a role cannot perform."""


class Role(enum.Enum):
    """The role of a Raft server (§5.1); ``PRE_CANDIDATE`` only with Pre-Vote (§9.6)."""

    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre_candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


@dataclass(frozen=True, slots=True)
class Membership:
    """A cluster configuration: who votes, who only listens, and (joint consensus) who voted.

    ``voters`` is ``C_new`` (or the one configuration outside a change); ``voters_old`` is
    ``C_old`` while the cluster is in the joint configuration ``C_old,new`` (Raft paper §6),
    ``None`` otherwise; ``learners`` receive the log but neither vote nor count (etcd).

    A set of servers is a **quorum** when it holds a majority of ``voters`` and, in a joint
    configuration, also a majority of ``voters_old`` (paper §6: "agreement requires separate
    majorities from both the old and new configurations").

    Examples
    --------
    >>> m = Membership(frozenset({0, 1, 2}), voters_old=frozenset({0, 1, 2, 3, 4}))
    >>> m.is_quorum({0, 1, 3}), m.is_quorum({0, 1, 3, 4})
    (False, True)
    """

    voters: frozenset[NodeId]
    learners: frozenset[NodeId] = frozenset()
    voters_old: frozenset[NodeId] | None = None

    @property
    def joint(self) -> bool:
        """In the joint configuration ``C_old,new``."""
        return self.voters_old is not None

    @property
    def members(self) -> frozenset[NodeId]:
        """Everyone the leader replicates to: voters (old and new) and learners."""
        old = self.voters_old or frozenset()
        return self.voters | old | self.learners

    def is_voter(self, i: NodeId) -> bool:
        """Whether ``i`` votes (in ``C_new`` or, while joint, in ``C_old``)."""
        return i in self.voters or (self.voters_old is not None and i in self.voters_old)

    def is_quorum(self, ids: Any) -> bool:
        """Whether ``ids`` holds a majority of the voters (of both sets while joint)."""
        if 2 * len(self.voters.intersection(ids)) <= len(self.voters):
            return False
        old = self.voters_old
        return old is None or 2 * len(old.intersection(ids)) > len(old)

    def __str__(self) -> str:
        def fmt(s: frozenset[NodeId]) -> str:
            return "{" + ",".join(map(str, sorted(s))) + "}"

        text = fmt(self.voters) if self.voters_old is None else f"{fmt(self.voters_old)}->{fmt(self.voters)}"
        return text + (f" learners {fmt(self.learners)}" if self.learners else "")


@dataclass(frozen=True, slots=True)
class Entry:
    """A log entry: the term in which a leader created it and the state-machine command.

    A configuration entry (dissertation §4.1, paper §6) carries ``config`` and the no-op
    command; a server uses the latest configuration in its log, committed or not.
    """

    term: Term
    command: Command
    config: Membership | None = None


# -- messages (one class per kind) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestVote:
    """RequestVote RPC (§5.2). ``pre_vote``: a Pre-Vote probe for term ``term`` (§9.6);
    ``transfer``: sent after :class:`TimeoutNow`, so it overrides the leader lease."""

    term: Term
    candidate_id: NodeId
    last_log_index: int
    last_log_term: Term
    pre_vote: bool = False
    transfer: bool = False


@dataclass(frozen=True, slots=True)
class RequestVoteReply:
    """Reply to :class:`RequestVote`; a granted pre-vote echoes the probed term."""

    term: Term
    vote_granted: bool
    pre_vote: bool = False


@dataclass(frozen=True, slots=True)
class AppendEntries:
    """AppendEntries RPC (§5.3); empty ``entries`` is a heartbeat.

    ``read_round`` (ReadIndex and lease reads, dissertation §6.4) numbers the leader's
    heartbeat rounds; the reply echoes it, so the leader knows which round a majority has
    acknowledged (0 when reads go through the log).
    """

    term: Term
    leader_id: NodeId
    prev_log_index: int
    prev_log_term: Term
    entries: tuple[Entry, ...]
    leader_commit: int
    read_round: int = 0


@dataclass(frozen=True, slots=True)
class AppendEntriesReply:
    """Reply to :class:`AppendEntries`.

    On success ``match_index`` is the index of the last entry known to match the leader's log.
    On failure ``conflict_term`` is the term of the follower's entry at ``prev_log_index``
    (``None`` if its log is too short) and ``conflict_index`` the first index the follower
    holds for that term (or its log length + 1) — fast backtracking.
    """

    term: Term
    success: bool
    match_index: int = 0
    conflict_index: int = 0
    conflict_term: Term | None = None
    read_round: int = 0


@dataclass(frozen=True, slots=True)
class InstallSnapshot:
    """InstallSnapshot RPC (§7), sent whole (no chunking): ``data`` is a KV snapshot;
    ``membership`` the configuration as of the last included entry (``None``: the initial one)."""

    term: Term
    leader_id: NodeId
    last_included_index: int
    last_included_term: Term
    data: Any
    membership: Membership | None = None


@dataclass(frozen=True, slots=True)
class InstallSnapshotReply:
    """Reply to :class:`InstallSnapshot`; ``match_index`` is the follower's snapshot index."""

    term: Term
    match_index: int


@dataclass(frozen=True, slots=True)
class TimeoutNow:
    """Leadership transfer (dissertation §3.10): start an election now."""

    term: Term
    leader_id: NodeId


@dataclass(frozen=True, slots=True)
class TransferLeadership:
    """A client-style request asking the leader to hand leadership to ``target``."""

    client: int
    seq: int
    target: NodeId


@dataclass(frozen=True, slots=True)
class ChangeMembership:
    """A client-style request asking the leader to change the configuration.

    ``action`` is ``"add_voter"`` (a single-server change, dissertation §4.1; promotes a
    learner), ``"add_learner"``, ``"remove"`` (a voter or a learner; single-server) or
    ``"joint"`` (move to the voter set ``voters`` through ``C_old,new``, paper §6).
    """

    client: int
    seq: int
    action: str
    node: NodeId | None = None
    voters: tuple[NodeId, ...] | None = None
