"""Raft's vocabulary: terms, roles, log entries and one frozen dataclass per message kind.

Both the node (:mod:`consensuslab.protocols.raft`) and its safety monitor
(:mod:`consensuslab.protocols.raft_monitor`) import these, so neither imports the other's
module for a type. Field names follow Figure 2 of the Raft paper (Ongaro & Ousterhout 2014).
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
class Entry:
    """A log entry: the term in which a leader created it and the state-machine command."""

    term: Term
    command: Command


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
    """AppendEntries RPC (§5.3); empty ``entries`` is a heartbeat."""

    term: Term
    leader_id: NodeId
    prev_log_index: int
    prev_log_term: Term
    entries: tuple[Entry, ...]
    leader_commit: int


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


@dataclass(frozen=True, slots=True)
class InstallSnapshot:
    """InstallSnapshot RPC (§7), sent whole (no chunking): ``data`` is a KV snapshot."""

    term: Term
    leader_id: NodeId
    last_included_index: int
    last_included_term: Term
    data: Any


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
