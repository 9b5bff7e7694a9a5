"""Raft: a sans-I/O node, its messages, its configuration and its safety monitor.

Theory of operation
-------------------
A :class:`RaftNode` implements Figure 2 of Ongaro & Ousterhout (2014), "In Search of an
Understandable Consensus Algorithm", and the options of Ongaro's dissertation (2014). Each node
is a follower, a (pre-)candidate or a leader (:class:`Role`); every input is handled by exactly
one guarded branch, named after the paper's rule and section.

Election (§5.2). A follower that hears nothing from a leader for a randomized election timeout
(drawn with ``self.rng.uniform(lo, hi)`` every time the timer is reset) becomes a candidate:
it increments its term, votes for itself (persisted before any RequestVote leaves) and asks the
others for votes. A server grants at most one vote per term (persisted before the reply) and
only to a candidate whose log is at least as up to date as its own (§5.4.1: compare the last
entries' terms, then the lengths). A majority makes a leader, which appends a no-op entry of its
term (§8) so that earlier entries can be committed, and sends heartbeats every ``heartbeat`` ms.

Replication (§5.3). The leader keeps ``next_index``/``match_index`` per follower and sends
AppendEntries carrying the entries from ``next_index`` (at most ``max_entries``). A follower
accepts only if its log holds ``(prev_log_index, prev_log_term)``; it deletes a conflicting
suffix and appends what it lacks. On a mismatch it answers with the conflicting term and the
first index it holds for that term (fast backtracking, §5.3 last paragraphs; dissertation
§3.5), so the leader skips a whole term per round trip instead of one entry.

Commitment (§5.4.2, Figure 8). The leader commits index ``N`` only when a majority has it
**and** ``log[N].term == current_term``; earlier entries become committed indirectly. Followers
learn the commit index from ``leader_commit``. Committed entries are applied in order to a
:class:`~consensuslab.protocols.kv.KVStore` with per-client sessions (exactly-once, dissertation
§6.3). **Reads go through the log**: a ``get`` is appended like a write and answered once
applied, so it is linearizable without clocks (dissertation §6.4 discusses ReadIndex, which we
do not implement).

Persistence. ``term``, ``voted_for`` and the log are written with ``persist`` before any message
that depends on them is sent (effects are performed in emission order). Persisted keys:
``"term"``, ``"voted_for"``, ``"log"`` (a tuple of :class:`Entry` after the snapshot point) and
``"snapshot"`` = ``(last_included_index, last_included_term, kv_snapshot)``. ``on_start``
recovers from ``self.stable``; volatile state (commit index, roles) starts afresh.

Options (all off by default): **Pre-Vote** (dissertation §9.6): before incrementing its term a
node asks whether it *could* win; a voter says yes only if the log is up to date and it has not
heard from a leader within the minimum election timeout. **CheckQuorum** (dissertation §6.2 and
§4.2.3): a leader steps down after a minimum election timeout without hearing from a majority,
and a follower that heard from its leader within that time ignores RequestVote (the leader
lease), so a partitioned server cannot disrupt a healthy cluster. **Leadership transfer**
(dissertation §3.10): :meth:`RaftNode.transfer_leadership` brings the target up to date and
sends it :class:`TimeoutNow`; it then campaigns at once, and its RequestVotes bypass the lease.
**Log compaction** (§7): after ``snapshot_threshold`` applied entries a node snapshots its state
machine and discards the log prefix; a follower that lags behind the leader's snapshot receives
:class:`InstallSnapshot`.

Index conventions: log indices start at 1; ``self.log[k]`` is the entry at index
``snapshot_index + 1 + k`` (``snapshot_index == 0`` without compaction, so then ``log[k]`` is
index ``k + 1``). ``self.applied[k]`` is the command at index ``applied_base + 1 + k`` (no-ops
included); ``applied_base`` is the snapshot index the node restarted from or installed.

References
----------
Ongaro, D. and Ousterhout, J. (2014). In search of an understandable consensus algorithm.
USENIX ATC 2014 (extended version).
Ongaro, D. (2014). Consensus: bridging theory and practice. PhD thesis, Stanford University.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from consensuslab._validate import check_float, check_int, check_range_pair, describe
from consensuslab.protocols.base import Monitor, ProtocolConfig
from consensuslab.protocols.kv import NOOP, ClientRequest, ClientResponse, Command, KVStore
from consensuslab.sim.node import Node, NodeId

if TYPE_CHECKING:
    from consensuslab.protocols.raft_monitor import RaftMonitor

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
    "RaftConfig",
    "RaftNode",
    "RaftMonitor",
    "invoke",
    "ClusterState",
    "cluster_state",
    "log_frame",
    "roles_frame",
    "Figure8Replay",
    "figure8_replay",
    "LeaderCrashRun",
    "leader_crash_scenario",
    "PartitionRepairRun",
    "partition_repair_scenario",
    "FaultRun",
    "fault_injection_run",
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


# -- configuration --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RaftConfig(ProtocolConfig):
    """Raft's options; builds nodes and monitors for :class:`~consensuslab.cluster.Cluster`.

    Parameters
    ----------
    n : int
        Number of servers, >= 1.
    election_timeout : (float, float)
        Range ``(lo, hi)`` in ms of the randomized election timeout; ``lo == hi`` disables the
        randomization (the paper's "no randomness" case). ``lo`` must exceed ``heartbeat``.
    heartbeat : float
        Interval between a leader's AppendEntries rounds, ms, > 0.
    pre_vote : bool
        Run the Pre-Vote phase before an election (dissertation §9.6).
    check_quorum : bool
        Leader steps down without a majority within ``lo`` ms; followers honour a leader lease.
    snapshot_threshold : int or None
        Take a snapshot once this many applied entries sit in the log (None: never compact).
    max_entries : int
        Most entries per AppendEntries.
    figure8_rule : bool
        ``True`` (the paper): commit by counting replicas only entries of the current term.
        ``False`` is **unsafe** — it also commits older-term entries by counting, which
        Figure 8 shows can lose a committed entry; it exists to demonstrate the monitor.

    Raises
    ------
    ValueError, TypeError
        For a bad value or type (e.g. ``heartbeat >= election_timeout[0]``).

    Examples
    --------
    >>> RaftConfig(n=3, election_timeout=(150, 300), heartbeat=50).majority
    2
    """

    n: int
    election_timeout: tuple[float, float] = (150.0, 300.0)
    heartbeat: float = 50.0
    pre_vote: bool = False
    check_quorum: bool = False
    snapshot_threshold: int | None = None
    max_entries: int = 64
    figure8_rule: bool = True

    def __post_init__(self) -> None:
        check_int("n", self.n, 1)
        lo, hi = check_range_pair("election_timeout", self.election_timeout, 0.0)
        if lo <= 0:
            raise ValueError(f"`election_timeout` must have a positive lower bound; got {tuple(self.election_timeout)}.")
        object.__setattr__(self, "election_timeout", (lo, hi))
        hb = check_float("heartbeat", self.heartbeat, 0.0, low_open=True)
        object.__setattr__(self, "heartbeat", hb)
        if hb >= lo:
            raise ValueError(
                f"`heartbeat` must be < election_timeout[0] = {lo}; got {hb}."
            )
        for name in ("pre_vote", "check_quorum", "figure8_rule"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"`{name}` must be a bool; got {describe(getattr(self, name))}.")
        if self.snapshot_threshold is not None:
            check_int("snapshot_threshold", self.snapshot_threshold, 1)
        check_int("max_entries", self.max_entries, 1)

    @property
    def majority(self) -> int:
        """Votes or replicas needed: ``n // 2 + 1``."""
        return self.n // 2 + 1

    def make_node(
        self, node_id: NodeId, peers: tuple[NodeId, ...], rng: np.random.Generator, stable: dict
    ) -> RaftNode:
        return RaftNode(node_id, peers, rng, stable, config=self)

    def monitor(self) -> Monitor:
        """A fresh :class:`~consensuslab.protocols.raft_monitor.RaftMonitor`."""
        from consensuslab.protocols.raft_monitor import RaftMonitor

        return RaftMonitor()

    def leader(self, sim: Any) -> NodeId | None:
        """The live leader with the highest term, or ``None``."""
        best: NodeId | None = None
        best_term = -1
        for node in sim.nodes:
            if node is not None and node.role is Role.LEADER and node.term > best_term:
                best, best_term = node.id, node.term
        return best

    def applied(self, sim: Any, i: NodeId) -> list:
        """Client commands node ``i`` applied, in order (no-ops left out)."""
        node = sim.nodes[i]
        if node is None:
            return []
        return [c for c in node.applied if c.op != "noop"]


# -- the node -------------------------------------------------------------------------------

_LEADER = Role.LEADER
_FOLLOWER = Role.FOLLOWER
_CANDIDATE = Role.CANDIDATE
_PRE = Role.PRE_CANDIDATE


class RaftNode(Node):
    """A Raft server (sans-I/O). See the module docstring for the rules and conventions.

    Parameters
    ----------
    node_id, peers, rng, stable
        As for :class:`~consensuslab.sim.node.Node`.
    config : RaftConfig, optional
        Options; default ``RaftConfig(n=len(peers))``.

    Attributes
    ----------
    role : Role
    term : int
        ``currentTerm`` (persisted).
    voted_for : int or None
        ``votedFor`` (persisted).
    log : list of Entry
        Entries after the snapshot point (persisted as a tuple).
    commit_index, last_applied : int
        Volatile; invariant ``snapshot_index <= last_applied <= commit_index <= last_log_index``.
    leader_id : int or None
        The leader this node currently follows (itself when leading).
    applied : list of Command
        Commands applied since ``applied_base``, no-ops included.
    kv : KVStore
        The replicated state machine.
    """

    def __init__(
        self,
        node_id: NodeId,
        peers: tuple[NodeId, ...],
        rng: np.random.Generator,
        stable: dict | None = None,
        config: RaftConfig | None = None,
    ) -> None:
        super().__init__(node_id, peers, rng, stable)
        self.config = config if config is not None else RaftConfig(n=len(self.peers))
        self.role = _FOLLOWER
        self.term: Term = 0
        self.voted_for: NodeId | None = None
        self.log: list[Entry] = []
        self.snapshot_index = 0
        self.snapshot_term: Term = 0
        self.commit_index = 0
        self.last_applied = 0
        self.leader_id: NodeId | None = None
        self.applied: list[Command] = []
        self.applied_base = 0
        self.kv = KVStore()
        self.log_version = 0  # bumped on every log mutation (lets the monitor skip idle steps)
        # candidate / leader volatile state
        self.votes: set[NodeId] = set()
        self.next_index: dict[NodeId, int] = {}
        self.match_index: dict[NodeId, int] = {}
        self.pending: dict[int, ClientRequest] = {}
        self.transferee: NodeId | None = None
        self._active: set[NodeId] = set()
        # election timer bookkeeping: the timer fires at _timer_at and re-arms itself if the
        # deadline moved later; a contact only re-arms it when the deadline moves earlier.
        self._deadline = 0.0
        self._timer_at: float | None = None
        self._last_leader_contact = -float("inf")
        self._others = tuple(p for p in self.peers if p != self.id)
        self._majority = len(self.peers) // 2 + 1

    # ---- derived views --------------------------------------------------------------------
    @property
    def last_log_index(self) -> int:
        return self.snapshot_index + len(self.log)

    @property
    def last_log_term(self) -> Term:
        return self.log[-1].term if self.log else self.snapshot_term

    def term_at(self, index: int) -> Term:
        """Term of the entry at ``index`` (``snapshot_index <= index <= last_log_index``)."""
        if index == self.snapshot_index:
            return self.snapshot_term
        return self.log[index - self.snapshot_index - 1].term

    def entry_at(self, index: int) -> Entry:
        """The entry at ``index`` (``snapshot_index < index <= last_log_index``)."""
        return self.log[index - self.snapshot_index - 1]

    def full_log(self) -> list[Entry | None]:
        """The log by index from 1, ``None`` for compacted entries."""
        return [None] * self.snapshot_index + list(self.log)

    # ---- start / recovery -----------------------------------------------------------------
    def on_start(self) -> None:
        """Recover ``term``, ``voted_for``, the log and the snapshot from stable storage."""
        st = self.stable
        self.term = int(st.get("term", 0))
        self.voted_for = st.get("voted_for")
        self.log = list(st.get("log", ()))
        snap = st.get("snapshot")
        if snap is not None:
            self.snapshot_index, self.snapshot_term, data = snap
            self.kv = KVStore.restore(data)
        self.commit_index = self.last_applied = self.applied_base = self.snapshot_index
        self.note("role", role=self.role.value, term=self.term)
        self._reset_election_timer()

    # ---- timers ---------------------------------------------------------------------------
    def _reset_election_timer(self) -> None:
        lo, hi = self.config.election_timeout
        deadline = self.now + float(self.rng.uniform(lo, hi))
        self._deadline = deadline
        if self._timer_at is None or deadline < self._timer_at:
            self._timer_at = deadline
            self.set_timer("election", deadline - self.now)

    def on_timer(self, name: str) -> None:
        if name == "heartbeat":
            if self.role is _LEADER:  # §5.2: leaders send periodic heartbeats
                self._broadcast_append()
                self.set_timer("heartbeat", self.config.heartbeat)
        elif name == "election":
            self._timer_at = None
            if self.role is _LEADER:
                return  # a leader does not time out (its timer was cancelled; stale firing)
            remaining = self._deadline - self.now
            if remaining > 1e-9:  # heard from a leader / voted since the timer was armed
                self._timer_at = self._deadline
                self.set_timer("election", remaining)
                return
            # §5.2: election timeout elapsed -> start an election (Pre-Vote first, §9.6)
            if self.config.pre_vote:
                self.become_pre_candidate()
            else:
                self.become_candidate()
        elif name == "check_quorum":
            if self.role is _LEADER:  # dissertation §6.2: step down without a majority
                if len(self._active) + 1 < self._majority:
                    self.become_follower(self.term, None)
                    return
                self._active = set()
                self.set_timer("check_quorum", self.config.election_timeout[0])
        elif name == "transfer":
            self.transferee = None  # §3.10: abort a transfer that took an election timeout
        else:
            raise RaftError(f"node {self.id}: unknown timer {name!r}")

    # ---- role transitions -----------------------------------------------------------------
    def _set_role(self, role: Role) -> None:
        self.role = role
        self.note("role", role=role.value, term=self.term)

    def become_follower(self, term: Term, leader: NodeId | None) -> None:
        """Adopt ``term`` (>= current) as a follower of ``leader`` (§5.1)."""
        if term < self.term:
            raise RaftError(f"node {self.id}: cannot move back from term {self.term} to {term}")
        old = self.role
        new_term = term > self.term
        if new_term:
            self.term = term
            self.voted_for = None
            self.persist(term=term, voted_for=None)
        self.leader_id = leader
        if old is _LEADER:
            self.cancel_timer("heartbeat")
            if self.config.check_quorum:
                self.cancel_timer("check_quorum")
            self._fail_pending()
            self.transferee = None
        if old is not _FOLLOWER or new_term:
            self._set_role(_FOLLOWER)
        if self._timer_at is None:
            self._reset_election_timer()

    def become_pre_candidate(self) -> None:
        """Pre-Vote (§9.6): probe term ``term + 1`` without changing any persistent state."""
        if self.role is _LEADER:
            raise RaftError(f"node {self.id}: a leader cannot become a pre-candidate")
        self.leader_id = None
        self._set_role(_PRE)
        self.votes = {self.id}
        self._reset_election_timer()
        if len(self.votes) >= self._majority:
            self.become_candidate()
            return
        self.broadcast(RequestVote(self.term + 1, self.id, self.last_log_index, self.last_log_term, pre_vote=True))

    def become_candidate(self, transfer: bool = False) -> None:
        """§5.2: increment the term, vote for self (persisted first), request votes."""
        if self.role is _LEADER:
            raise RaftError(f"node {self.id}: a leader cannot become a candidate")
        self.term += 1
        self.voted_for = self.id
        self.persist(term=self.term, voted_for=self.id)  # before any RequestVote leaves
        self.leader_id = None
        self._set_role(_CANDIDATE)
        self.votes = {self.id}
        self._reset_election_timer()
        if len(self.votes) >= self._majority:
            self.become_leader()
            return
        self.broadcast(RequestVote(self.term, self.id, self.last_log_index, self.last_log_term, transfer=transfer))

    def become_leader(self) -> None:
        """§5.2/§5.3: initialise next/match indices, append a no-op (§8), send AppendEntries."""
        if self.role is not _CANDIDATE:
            raise RaftError(f"node {self.id}: only a candidate can become leader (is {self.role.value})")
        self.leader_id = self.id
        self._set_role(_LEADER)
        self.cancel_timer("election")
        self._timer_at = None
        nxt = self.last_log_index + 1
        self.next_index = {p: nxt for p in self._others}
        self.match_index = {p: 0 for p in self._others}
        self.pending = {}
        self.transferee = None
        self._active = set()
        self._append_local(Entry(self.term, NOOP))
        self._broadcast_append()
        self.set_timer("heartbeat", self.config.heartbeat)
        if self.config.check_quorum:
            self.set_timer("check_quorum", self.config.election_timeout[0])
        self._advance_commit()  # a single-server cluster commits at once

    # ---- log mutation (the only places the log changes) ------------------------------------
    def _append_local(self, entry: Entry) -> int:
        self.log.append(entry)
        self.log_version += 1
        self.persist(log=tuple(self.log))  # before the AppendEntries that carry it
        return self.last_log_index

    def _merge_entries(self, prev: int, entries: tuple[Entry, ...]) -> None:
        """Append ``entries`` after ``prev``; truncate a conflicting suffix first (§5.3)."""
        base = self.snapshot_index
        log = self.log
        changed = False
        if prev == base + len(log):  # common case: pure append
            if entries:
                log.extend(entries)
                changed = True
        else:
            for k, e in enumerate(entries):
                pos = prev - base + k  # position of index prev + 1 + k in self.log
                if pos < len(log):
                    if log[pos].term == e.term:
                        continue  # §5.3: already present (same index and term)
                    del log[pos:]  # §5.3: conflict -> delete it and all that follow
                log.extend(entries[k:])
                changed = True
                break
        if changed:
            self.log_version += 1
            self.persist(log=tuple(log))  # before the reply that acknowledges them

    # ---- messages -------------------------------------------------------------------------
    def on_message(self, src: NodeId, msg: Any) -> None:
        match msg:
            case AppendEntries():
                self._on_append(src, msg)
            case AppendEntriesReply():
                self._on_append_reply(src, msg)
            case RequestVote():
                self._on_request_vote(src, msg)
            case RequestVoteReply():
                self._on_vote_reply(src, msg)
            case InstallSnapshot():
                self._on_install_snapshot(src, msg)
            case InstallSnapshotReply():
                self._on_snapshot_reply(src, msg)
            case TimeoutNow():
                self._on_timeout_now(src, msg)
            case _:
                raise RaftError(f"node {self.id}: unknown message {msg!r} from {src}")

    def _in_lease(self) -> bool:
        """Heard from a live leader within the minimum election timeout (§4.2.3, §9.6)."""
        if self.role is _LEADER:
            return True
        return self.leader_id is not None and self.now - self._last_leader_contact < self.config.election_timeout[0]

    def _on_request_vote(self, src: NodeId, m: RequestVote) -> None:
        up_to_date = (m.last_log_term, m.last_log_index) >= (self.last_log_term, self.last_log_index)
        if m.pre_vote:
            if m.term <= self.term:  # §9.6: a probe for a term we already reached
                self.send(src, RequestVoteReply(self.term, False, pre_vote=True))
            elif self._in_lease() and not m.transfer:
                self.send(src, RequestVoteReply(self.term, False, pre_vote=True))  # §9.6: a leader is alive
            else:
                # §9.6: would we vote? A refusal carries our own term (as etcd does), so the
                # pre-candidate never adopts a term that no election has reached.
                self.send(src, RequestVoteReply(m.term if up_to_date else self.term, up_to_date, pre_vote=True))
            return
        if m.term > self.term and self.config.check_quorum and not m.transfer and self._in_lease():
            return  # §4.2.3: leader lease -- ignore a disruptive RequestVote (no term change)
        if m.term > self.term:  # §5.1: a higher term makes us a follower
            self.become_follower(m.term, None)
        if m.term < self.term:  # §5.1: stale candidate
            self.send(src, RequestVoteReply(self.term, False))
            return
        if self.voted_for in (None, m.candidate_id) and up_to_date:  # §5.2, §5.4.1
            self.voted_for = m.candidate_id
            self.persist(voted_for=m.candidate_id)  # before the reply
            self._reset_election_timer()  # Figure 2: granting a vote resets the timer
            self.send(src, RequestVoteReply(self.term, True))
        else:  # §5.2: one vote per term / §5.4.1: candidate's log is behind
            self.send(src, RequestVoteReply(self.term, False))

    def _on_vote_reply(self, src: NodeId, m: RequestVoteReply) -> None:
        if m.pre_vote:
            if self.role is _PRE and m.term == self.term + 1 and m.vote_granted:  # §9.6
                self.votes.add(src)
                if len(self.votes) >= self._majority:
                    self.become_candidate()
            elif m.term > self.term and not m.vote_granted:  # the voter is ahead: catch up
                self.become_follower(m.term, None)
            return  # otherwise a stale or refused probe: nothing to do
        if m.term > self.term:  # §5.1
            self.become_follower(m.term, None)
            return
        if self.role is not _CANDIDATE or m.term != self.term:
            return  # a reply to an earlier election
        if m.vote_granted:  # §5.2: a majority of votes wins
            self.votes.add(src)
            if len(self.votes) >= self._majority:
                self.become_leader()

    def _on_append(self, src: NodeId, m: AppendEntries) -> None:
        if m.term < self.term:  # §5.1: reject a stale leader (it learns our term)
            self.send(src, AppendEntriesReply(self.term, False))
            return
        if self.role is _LEADER and m.term == self.term:
            raise RaftError(f"node {self.id}: two leaders in term {m.term} ({self.id} and {m.leader_id})")
        if m.term > self.term or self.role is not _FOLLOWER:  # §5.2: a candidate steps down
            self.become_follower(m.term, m.leader_id)
        self.leader_id = m.leader_id
        self._last_leader_contact = self.now
        self._reset_election_timer()
        prev, entries = m.prev_log_index, m.entries
        base = self.snapshot_index
        if prev < base:  # our snapshot covers the prefix: committed, hence matching
            skip = base - prev
            if skip >= len(entries):
                self.send(src, AppendEntriesReply(self.term, True, match_index=prev + len(entries)))
                return
            entries = entries[skip:]
            prev = base
        elif prev > self.last_log_index:  # §5.3 consistency check: we lack prev
            self.send(src, AppendEntriesReply(self.term, False, conflict_index=self.last_log_index + 1))
            return
        elif prev > base and self.log[prev - base - 1].term != m.prev_log_term:  # §5.3 mismatch
            ct = self.log[prev - base - 1].term
            first = prev
            while first - 1 > base and self.log[first - base - 2].term == ct:
                first -= 1
            self.send(src, AppendEntriesReply(self.term, False, conflict_index=first, conflict_term=ct))
            return
        self._merge_entries(prev, entries)
        last_new = prev + len(entries)
        if m.leader_commit > self.commit_index:  # Figure 2: min(leaderCommit, last new entry)
            new_commit = min(m.leader_commit, last_new)
            if new_commit > self.commit_index:
                self.commit_index = new_commit
                self._apply_committed()
        self.send(src, AppendEntriesReply(self.term, True, match_index=last_new))

    def _on_append_reply(self, src: NodeId, m: AppendEntriesReply) -> None:
        if m.term > self.term:  # §5.1
            self.become_follower(m.term, None)
            return
        if self.role is not _LEADER or m.term != self.term:
            return  # a reply to a leader we no longer are
        self._active.add(src)
        if m.success:
            if m.match_index > self.match_index[src]:
                self.match_index[src] = m.match_index
                self._advance_commit()
            if self.next_index[src] <= m.match_index:
                self.next_index[src] = m.match_index + 1
            if self.transferee == src and self.match_index[src] == self.last_log_index:
                self.send(src, TimeoutNow(self.term, self.id))  # §3.10: target caught up
            elif self.next_index[src] <= self.last_log_index and m.match_index == self.next_index[src] - 1:
                self._send_append(src)  # still behind: keep streaming
            return
        # §5.3 fast backtracking: skip the follower's whole conflicting term
        nxt = m.conflict_index
        if m.conflict_term is not None:
            k = self._last_index_of_term(m.conflict_term)
            if k is not None:
                nxt = k + 1
        # any next_index is safe (the consistency check guards it); never below a known match
        self.next_index[src] = min(max(nxt, self.match_index[src] + 1, 1), self.last_log_index + 1)
        self._send_append(src)

    def _last_index_of_term(self, term: Term) -> int | None:
        log = self.log
        for pos in range(len(log) - 1, -1, -1):
            t = log[pos].term
            if t == term:
                return self.snapshot_index + pos + 1
            if t < term:
                break
        if self.snapshot_term == term and self.snapshot_index > 0:
            return self.snapshot_index
        return None

    def _on_install_snapshot(self, src: NodeId, m: InstallSnapshot) -> None:
        if m.term < self.term:  # §5.1
            self.send(src, InstallSnapshotReply(self.term, 0))
            return
        if m.term > self.term or self.role is not _FOLLOWER:
            self.become_follower(m.term, m.leader_id)
        self.leader_id = m.leader_id
        self._last_leader_contact = self.now
        self._reset_election_timer()
        idx, t = m.last_included_index, m.last_included_term
        if idx <= self.commit_index:  # §7: we already have (and committed) all of it
            self.send(src, InstallSnapshotReply(self.term, self.commit_index))
            return
        if idx <= self.last_log_index and self.term_at(idx) == t:
            self.log = self.log[idx - self.snapshot_index:]  # §7: keep the matching suffix
        else:
            self.log = []  # §7: discard the whole log
        self.snapshot_index, self.snapshot_term = idx, t
        self.log_version += 1
        self.kv = KVStore.restore(m.data)
        self.commit_index = self.last_applied = self.applied_base = idx
        self.applied = []
        self.persist(snapshot=(idx, t, m.data), log=tuple(self.log))
        self.send(src, InstallSnapshotReply(self.term, idx))

    def _on_snapshot_reply(self, src: NodeId, m: InstallSnapshotReply) -> None:
        if m.term > self.term:
            self.become_follower(m.term, None)
            return
        if self.role is not _LEADER or m.term != self.term:
            return  # stale
        self._active.add(src)
        if m.match_index > self.match_index[src]:
            self.match_index[src] = m.match_index
            self._advance_commit()
        self.next_index[src] = max(self.next_index[src], m.match_index + 1)
        if self.next_index[src] <= self.last_log_index:
            self._send_append(src)

    def _on_timeout_now(self, src: NodeId, m: TimeoutNow) -> None:
        if m.term < self.term:
            return  # §3.10: from a deposed leader; ignore
        if m.term > self.term:
            self.become_follower(m.term, m.leader_id)
        if self.role is _LEADER:
            return  # cannot happen with one leader per term; ignore defensively
        self.become_candidate(transfer=True)  # §3.10: campaign at once, bypassing the lease

    # ---- leader side ----------------------------------------------------------------------
    def _send_append(self, peer: NodeId) -> None:
        ni = self.next_index[peer]
        base = self.snapshot_index
        if ni <= base:  # §7: the entries it needs were compacted
            self.send(peer, InstallSnapshot(self.term, self.id, base, self.snapshot_term, self._snapshot_data))
            return
        prev = ni - 1
        prev_term = self.snapshot_term if prev == base else self.log[prev - base - 1].term
        start = prev - base
        entries = tuple(self.log[start:start + self.config.max_entries])
        self.send(peer, AppendEntries(self.term, self.id, prev, prev_term, entries, self.commit_index))

    def _broadcast_append(self) -> None:
        for p in self._others:
            self._send_append(p)

    def _advance_commit(self) -> None:
        """§5.3/§5.4.2: commit the highest index on a majority whose term is the current one."""
        matches = [self.last_log_index, *self.match_index.values()]  # the leader holds its log
        matches.sort(reverse=True)
        n = matches[self._majority - 1]
        if n <= self.commit_index:
            return
        if self.config.figure8_rule and self.term_at(n) != self.term:
            return  # Figure 8: never commit an earlier term's entry by counting replicas
        self.commit_index = n
        self._apply_committed()

    def _apply_committed(self) -> None:
        base = self.snapshot_index
        log = self.log
        kv = self.kv
        leading = self.role is _LEADER and self.pending
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            entry = log[self.last_applied - base - 1]
            result = kv.apply(entry.command)
            self.applied.append(entry.command)
            if leading:
                req = self.pending.pop(self.last_applied, None)
                if req is not None:
                    self.reply(req, ClientResponse(req.client, req.seq, True, value=result, leader_hint=self.id))
        thr = self.config.snapshot_threshold
        if thr is not None and self.last_applied - self.snapshot_index >= thr:
            self._take_snapshot()

    def _take_snapshot(self) -> None:
        """§7: replace the applied prefix of the log by a snapshot of the state machine."""
        idx = self.last_applied
        t = self.term_at(idx)
        data = self.kv.snapshot()
        self.log = self.log[idx - self.snapshot_index:]
        self.snapshot_index, self.snapshot_term = idx, t
        self.log_version += 1
        self.persist(snapshot=(idx, t, data), log=tuple(self.log))

    @property
    def _snapshot_data(self) -> Any:
        snap = self.stable.get("snapshot")
        return snap[2] if snap is not None else KVStore().snapshot()

    def _fail_pending(self) -> None:
        for req in self.pending.values():
            self.reply(req, ClientResponse(req.client, req.seq, False, leader_hint=self.leader_id, error="not leader"))
        self.pending = {}

    # ---- clients --------------------------------------------------------------------------
    def on_client(self, request: Any) -> None:
        """Serve a :class:`ClientRequest` (leader only) or a :class:`TransferLeadership`."""
        match request:
            case TransferLeadership():
                if self.role is not _LEADER:
                    self.reply(request, ClientResponse(request.client, request.seq, False,
                                                       leader_hint=self.leader_id, error="not leader"))
                    return
                ok = self.transfer_leadership(request.target)
                self.reply(request, ClientResponse(request.client, request.seq, ok, leader_hint=self.id))
            case ClientRequest():
                self._on_client_request(request)
            case _:
                raise RaftError(f"node {self.id}: unknown client request {request!r}")

    def _on_client_request(self, req: ClientRequest) -> None:
        if self.role is not _LEADER or self.transferee is not None:  # redirect (§8)
            hint = self.leader_id if self.role is not _LEADER else None
            self.reply(req, ClientResponse(req.client, req.seq, False, leader_hint=hint, error="not leader"))
            return
        last = self.kv.sessions.get(req.client)
        if last is not None and req.seq <= last[0]:
            if req.seq == last[0]:  # §6.3: already applied -- answer from the session table
                self.reply(req, ClientResponse(req.client, req.seq, True, value=last[1], leader_hint=self.id))
            return  # older than the client's latest operation: the client gave up on it
        index = self._append_local(Entry(self.term, req.command))
        self.pending[index] = req
        for p in self._others:  # replicate at once (the heartbeat would add up to 50 ms)
            if self.next_index[p] == index:
                self._send_append(p)
        self._advance_commit()

    def transfer_leadership(self, target: NodeId) -> bool:
        """Hand leadership to ``target`` (dissertation §3.10).

        Stops accepting client requests, brings ``target`` up to date, then sends it
        :class:`TimeoutNow`. Aborted after a minimum election timeout. Returns False if this
        node is not the leader or ``target`` is itself or unknown.
        Call it from a handler (e.g. via :class:`TransferLeadership` or :func:`invoke`).
        """
        if self.role is not _LEADER or target == self.id or target not in self.match_index:
            return False
        self.transferee = target
        self.set_timer("transfer", self.config.election_timeout[0])
        if self.match_index[target] == self.last_log_index:
            self.send(target, TimeoutNow(self.term, self.id))
        else:
            self._send_append(target)
        return True

    def campaign(self) -> None:
        """Start an election now, as if the election timer fired (tests, scenarios)."""
        if self.role is _LEADER:
            return
        if self.config.pre_vote:
            self.become_pre_candidate()
        else:
            self.become_candidate()

    def __repr__(self) -> str:
        return (f"<RaftNode {self.id} {self.role.value} term={self.term} log={self.last_log_index} "
                f"commit={self.commit_index}>")


def invoke(sim: Any, i: NodeId, method: str, *args: Any) -> Any:
    """Call ``sim.nodes[i].<method>(*args)`` as a handler, performing the effects it emits.

    Used by scenarios to make a given node campaign or transfer leadership at a chosen moment.
    """
    if sim.nodes[i] is None:
        raise RaftError(f"node {i} is down")
    return sim.call(i, method, *args)


# -- observation helpers (plots, notebooks, scenario tests) ----------------------------------


@dataclass(frozen=True)
class ClusterState:
    """A picture of every server at one moment (crashed servers show their stable storage).

    ``logs[i]`` is node ``i``'s log as entry terms from index 1 (``0`` for a compacted entry);
    ``roles[i]`` is the role's value or ``"down"``.
    """

    label: str
    caption: str
    time: float
    logs: tuple[tuple[int, ...], ...]
    commit: tuple[int, ...]
    roles: tuple[str, ...]
    terms: tuple[int, ...]


def cluster_state(sim: Any, label: str = "", caption: str = "") -> ClusterState:
    """Capture a :class:`ClusterState` of a simulator running :class:`RaftNode` s."""
    logs, commit, roles, terms = [], [], [], []
    for i in range(sim.n):
        node = sim.nodes[i]
        if node is None:
            st = sim.storage[i]
            snap = st.get("snapshot")
            base = snap[0] if snap is not None else 0
            logs.append((0,) * base + tuple(e.term for e in st.get("log", ())))
            commit.append(0)
            roles.append("down")
            terms.append(int(st.get("term", 0)))
        else:
            logs.append((0,) * node.snapshot_index + tuple(e.term for e in node.log))
            commit.append(node.commit_index)
            roles.append(node.role.value)
            terms.append(node.term)
    return ClusterState(label, caption, float(sim.now), tuple(logs), tuple(commit), tuple(roles), tuple(terms))


def log_frame(states: Iterable[ClusterState]) -> Any:
    """Tidy table of logs: one row per (stage, node, index) with ``term`` and ``committed``."""
    import pandas as pd

    rows = []
    for k, st in enumerate(states):
        for node, (log, c) in enumerate(zip(st.logs, st.commit)):
            for idx, t in enumerate(log, start=1):
                rows.append({"stage": k, "label": st.label, "node": node, "index": idx, "term": t,
                             "committed": idx <= c, "role": st.roles[node]})
    return pd.DataFrame(rows, columns=["stage", "label", "node", "index", "term", "committed", "role"])


def roles_frame(trace: Any, end: float | None = None) -> Any:
    """Role/term intervals per node from the ``"role"`` trace notes (and crashes/restarts).

    Returns a DataFrame with ``node, start, end, role, term`` (``role == "down"`` while crashed).
    Requires a cluster built with ``trace=True``.
    """
    import pandas as pd

    current: dict[int, tuple[float, str, int]] = {}
    rows = []
    last_time = 0.0
    for time, event, node, _peer, kind, detail, _mid in trace.records:
        last_time = time
        if event == "note" and kind == "role":
            new = (time, detail["role"], int(detail["term"]))
        elif event == "crash":
            new = (time, "down", current.get(node, (0, "", 0))[2])
        else:
            continue
        if node in current:
            t0, r0, term0 = current[node]
            if time > t0:
                rows.append({"node": node, "start": t0, "end": time, "role": r0, "term": term0})
        current[node] = new
    stop = last_time if end is None else end
    for node, (t0, r0, term0) in current.items():
        if stop > t0:
            rows.append({"node": node, "start": t0, "end": stop, "role": r0, "term": term0})
    df = pd.DataFrame(rows, columns=["node", "start", "end", "role", "term"])
    return df.sort_values(["node", "start"], kind="stable").reset_index(drop=True)


@dataclass
class Figure8Replay:
    """The Figure 8 scenario, stage by stage; ``violation`` is set if the monitor fired."""

    states: list[ClusterState]
    cluster: Any
    violation: Any = None


def figure8_replay(branch: str = "d", figure8_rule: bool = True, seed: int = 0) -> Figure8Replay:
    """Replay Figure 8 of the Raft paper (§5.4.2) on five servers ``S1..S5`` (ids 0..4).

    (a) S1 leads term 2 and has replicated index 2 only to S2; (b) S1 crashes, S5 is elected in
    term 3 (votes of S3, S4) and appends a different index 2; (c) S5 crashes, S1 restarts, is
    elected in term 4 and replicates its term-2 entry to S3 (now on a majority) while its own
    term-4 entry reaches only S2 — with the rule, index 2 is *not* committed; then either
    (d) S1 crashes and S5 is re-elected (votes of S3, S4) and overwrites index 2 everywhere, or
    (e) S1 first replicates its term-4 entry to a majority, which commits indices 2 and 3, so S5
    can no longer win. Elections are started on purpose (:meth:`RaftNode.campaign`); the long
    election timeout keeps servers from starting their own. One difference from the paper's
    picture: S2 also holds S1's term-4 entry in (c), so S5's votes in (d) come from S3 and S4.

    With ``figure8_rule=False`` the leader commits index 2 in (c) by counting replicas, and in
    (d) the monitor raises State Machine Safety when S5 overwrites it: ``violation`` holds it.

    Parameters
    ----------
    branch : {"d", "e"}
        Which ending to play.
    figure8_rule : bool
        Whether leaders follow the §5.4.2 commitment rule.
    seed : int
        Root seed of the simulation.

    Returns
    -------
    Figure8Replay
    """
    from consensuslab._validate import check_choice
    from consensuslab.check.safety import SafetyViolation
    from consensuslab.cluster import Cluster

    check_choice("branch", branch, ["d", "e"])
    c = Cluster("raft", n=5, seed=seed, latency=5.0, clients=0, check_every_step=True, trace=True,
                election_timeout=(5000.0, 6000.0), heartbeat=50.0, max_entries=1,
                figure8_rule=figure8_rule)
    sim = c.sim
    states: list[ClusterState] = []
    nodes = cast("list[RaftNode | None]", sim.nodes)  # a "raft" cluster builds RaftNodes

    def node(i: NodeId) -> RaftNode:
        nd = nodes[i]
        if nd is None:
            raise RaftError(f"figure8_replay: S{i + 1} is down")
        return nd

    def until(pred: Any, what: str) -> None:
        if not sim.run_until(pred, timeout=1000.0):
            raise RaftError(f"figure8_replay: {what} did not happen")

    try:
        invoke(sim, 4, "campaign")  # term 1: S5 leads and replicates index 1 everywhere
        until(lambda: all(node(i).commit_index >= 1 for i in sim.ids), "index 1 committed")
        states.append(cluster_state(sim, "start", "S5 led term 1; index 1 is committed everywhere"))
        invoke(sim, 0, "campaign")  # (a)
        until(lambda: node(0).role is _LEADER and node(0).term == 2, "S1 elected in term 2")
        sim.partition([0, 1], [2, 3, 4])  # its AppendEntries reach S2 only
        until(lambda: node(1).last_log_index == 2, "S2 receiving index 2")
        states.append(cluster_state(sim, "a", "S1 leads term 2; index 2 reaches only S2"))
        sim.crash(0)  # (b)
        invoke(sim, 4, "campaign")
        until(lambda: node(4).role is _LEADER and node(4).term == 3, "S5 elected in term 3")
        sim.partition([4], [0, 1], [2, 3])  # its new index 2 stays on S5
        sim.run_for(20.0)
        states.append(cluster_state(sim, "b", "S1 crashed; S5 elected in term 3 (S3, S4, S5), "
                                               "appends a different index 2"))
        sim.crash(4)  # (c)
        sim.restart(0)
        sim.heal()
        invoke(sim, 0, "campaign")  # term 3: S3, S4 already voted for S5 -> no majority
        sim.run_for(20.0)
        invoke(sim, 0, "campaign")  # term 4: votes of S2, S3, S4
        until(lambda: node(0).role is _LEADER and node(0).term == 4, "S1 elected in term 4")
        sim.cut_link(0, 3)  # S4 gets nothing
        until(lambda: node(0).match_index[2] == 2 and node(0).match_index[1] == 3,
              "index 2 on S3 and index 3 on S2")
        if branch == "d":
            sim.isolate(0)  # the term-4 entry must not reach S3
            sim.run_for(20.0)
            states.append(cluster_state(sim, "c", "S5 crashed; S1 elected in term 4 replicates index 2 "
                                                   "(term 2) to a majority; index 3 (term 4) reaches S2"))
            sim.crash(0)  # (d)
            sim.heal()
            sim.restart(4)
            invoke(sim, 4, "campaign")  # term 4: everyone already voted for S1
            sim.run_for(20.0)
            invoke(sim, 4, "campaign")  # term 5
            until(lambda: node(4).role is _LEADER, "S5 elected")
            until(lambda: all(nd is None or nd.commit_index >= 3 for nd in nodes), "S5's log committed")
            states.append(cluster_state(sim, "d", f"S1 crashed; S5 elected in term {node(4).term} "
                                                   "(S3, S4) overwrites index 2 everywhere"))
        else:
            until(lambda: node(0).commit_index >= 3, "index 3 committed")
            states.append(cluster_state(sim, "c", "S5 crashed; S1 elected in term 4 replicates index 3 "
                                                   "(term 4) to a majority: indices 2-3 commit"))
            sim.crash(0)  # (e)
            sim.heal()
            sim.restart(4)
            for _ in range(2):  # terms 4 and 5: refused, S5's log is behind
                invoke(sim, 4, "campaign")
                sim.run_for(20.0)
            sim.run_for(200.0)
            states.append(cluster_state(sim, "e", "S1 crashed; S5 cannot win (its log is behind): "
                                                   "index 2 of term 2 stays committed"))
    except SafetyViolation as exc:
        states.append(cluster_state(sim, "violation", str(exc)))
        return Figure8Replay(states, c, exc)
    return Figure8Replay(states, c, None)


@dataclass
class LeaderCrashRun:
    """Outcome of :func:`leader_crash_scenario`.

    ``roles`` is the role timeline (:func:`roles_frame`), ``crashed`` the leaders crashed in
    order, ``leaders`` maps each term that had a leader to that leader's id.
    """

    roles: Any
    crashed: list[NodeId]
    leaders: dict[int, NodeId]
    cluster: Any


def leader_crash_scenario(
    n: int = 5,
    seed: int = 1,
    crashes: int = 2,
    commands: int = 12,
    latency: tuple[float, float] = (5.0, 15.0),
    election_timeout: tuple[float, float] = (150.0, 300.0),
    heartbeat: float = 50.0,
) -> LeaderCrashRun:
    """Elect a leader, then crash the current leader ``crashes`` times (§5.2), then restart all.

    Before each crash ``commands // 2`` puts are committed; after it the run waits for a new
    leader and 300 ms more. At the end every crashed server restarts and the run lasts 800 ms
    longer, so the timeline shows the restarted servers rejoining as followers.

    Parameters
    ----------
    n, seed : int
        Cluster size and root seed.
    crashes : int
        How many leaders to crash, one after the other (at most ``(n - 1) // 2``, so a majority
        stays up).
    commands : int
        Puts issued in total (``commands // 2`` per leader before it is crashed).
    latency, election_timeout : (float, float)
        One-way delay range and election-timeout range, ms.
    heartbeat : float
        Heartbeat interval, ms.

    Returns
    -------
    LeaderCrashRun

    Raises
    ------
    RaftError
        If no leader is elected within the waiting time.
    """
    from consensuslab.cluster import Cluster

    check_int("n", n, 1, 15)
    check_int("crashes", crashes, 0, (n - 1) // 2)
    check_int("commands", commands, 0)
    c = Cluster("raft", n=n, seed=seed, latency=latency, trace=True, check_every_step=True,
                election_timeout=election_timeout, heartbeat=heartbeat)
    if not c.run_until(lambda: c.leader() is not None, timeout=2000.0):
        raise RaftError("leader_crash_scenario: no initial leader")
    crashed: list[NodeId] = []
    for _ in range(crashes):
        for i in range(commands // 2):
            c.put(f"k{i}", i)
        leader = c.leader()
        if leader is None:
            raise RaftError("leader_crash_scenario: no leader to crash")
        crashed.append(leader)
        c.crash(leader)
        if not c.run_until(lambda: c.leader() is not None, timeout=3000.0):
            raise RaftError("leader_crash_scenario: no leader after a crash")
        c.run_for(300.0)
    for i in crashed:
        c.restart(i)
    c.run_for(800.0)
    roles = roles_frame(c.trace, end=c.now)
    first = roles[roles["role"] == "leader"].groupby("term")["node"].first()
    leaders = {int(t): int(nd) for t, nd in first.items()}
    return LeaderCrashRun(roles, crashed, leaders, c)


@dataclass
class PartitionRepairRun:
    """Outcome of :func:`partition_repair_scenario`: the logs while partitioned and after
    healing, the old leader and its minority, and ``summary`` (the numbers printed)."""

    before: ClusterState
    after: ClusterState
    old_leader: NodeId
    minority: list[NodeId]
    summary: dict[str, Any]


def partition_repair_scenario(
    n: int = 5,
    seed: int = 2,
    commands: int = 6,
    latency: tuple[float, float] = (5.0, 15.0),
    heal_for: float = 1500.0,
) -> PartitionRepairRun:
    """Cut a leader off with one follower, let both sides take commands, heal, watch §5.3 repair.

    Three puts commit first. The old leader and the next server form the minority; a client
    sends ``commands // 2`` puts that reach only the old leader (never committed), the majority
    elects a new leader and commits ``commands // 2`` puts of its own. After healing for
    ``heal_for`` ms, Log Matching repair overwrites the old leader's uncommitted suffix.

    Parameters
    ----------
    n, seed : int
        Cluster size (>= 3) and root seed.
    commands : int
        Commands per side is ``commands // 2``.
    latency : (float, float)
        One-way delay range, ms.
    heal_for : float
        How long to run after healing, ms.

    Returns
    -------
    PartitionRepairRun
        ``summary`` holds ``"old leader"``, ``"uncommitted suffix"`` (entries past the old
        leader's commit index before healing), ``"replaced"`` (of them, how many hold another
        term after healing), ``"log length before"``, ``"log length after"`` and
        ``"identical logs"`` (all servers' logs equal after healing).

    Raises
    ------
    RaftError
        If no leader (or no new leader on the majority side) is elected in time.
    """
    from consensuslab.cluster import Cluster

    check_int("n", n, 3, 15)
    check_int("commands", commands, 0)
    heal_for = check_float("heal_for", heal_for, 0.0)
    c = Cluster("raft", n=n, seed=seed, latency=latency, clients=2, trace=True,
                check_every_step=True, op_timeout=600.0)
    if not c.run_until(lambda: c.leader() is not None, timeout=2000.0):
        raise RaftError("partition_repair_scenario: no initial leader")
    for i in range(3):
        c.put("x", i)
    old = c.leader()
    if old is None:
        raise RaftError("partition_repair_scenario: no leader before the partition")
    minority = [old, (old + 1) % n]
    c.partition(minority, [i for i in range(n) if i not in minority])
    for i in range(commands // 2):
        c.put("x", f"lost{i}", client=0, wait=False)  # reaches only the old leader
        c.run_for(60.0)
    if not c.run_until(lambda: c.leader() not in (None, old), timeout=3000.0):
        raise RaftError("partition_repair_scenario: the majority elected no new leader")
    for i in range(commands // 2):
        c.put("y", i, client=1)
    before = cluster_state(c.sim, "partitioned", "during the partition")
    c.heal()
    c.run_for(heal_for)
    after = cluster_state(c.sim, "healed", "after healing")
    suffix = range(before.commit[old], len(before.logs[old]))
    summary = {
        "old leader": old,
        "uncommitted suffix": len(suffix),
        "replaced": sum(i >= len(after.logs[old]) or after.logs[old][i] != before.logs[old][i]
                        for i in suffix),
        "log length before": len(before.logs[old]),
        "log length after": len(after.logs[old]),
        "identical logs": len(set(after.logs)) == 1,
    }
    return PartitionRepairRun(before, after, old, minority, summary)


@dataclass
class FaultRun:
    """Outcome of :func:`fault_injection_run`: the numbers shown, the role timeline, the final
    logs, and the safety violation if the monitor caught one (``None`` when safety held)."""

    summary: dict[str, Any]
    roles: Any
    state: ClusterState
    violation: Any = None


def fault_injection_run(
    n: int = 5,
    seed: int = 0,
    duration: float = 3000.0,
    crash: bool = True,
    partition: bool = True,
    max_loss: float = 0.2,
    clients: int = 3,
    ops_per_client: int = 10,
    pre_vote: bool = False,
    check_quorum: bool = False,
    interval: tuple[float, float] = (100.0, 500.0),
    catchup_timeout: float = 5000.0,
) -> FaultRun:
    """Run Raft under a seeded nemesis with concurrent clients, checking safety every step.

    Clients append unique values to one key while the nemesis crashes and restarts servers,
    partitions the network and drops messages (the enabled kinds) for ``duration`` ms; then it
    heals and the run continues until every operation finished, a leader exists and every
    server has applied every acknowledged value (or ``catchup_timeout`` ms pass). The summary
    keeps **safety** (``"safety violations"``: the monitor, after every step; ``"linearizable"``:
    the client history) apart from **progress** (``"caught up"``: every live server applied
    every acknowledged value before the timeout; ``"catch-up time (ms)"``: how long after the
    clients finished that took, ``nan`` if it did not happen). A server that has not caught up
    is not a safety violation: it was down or cut off and is still being repaired.

    Parameters
    ----------
    n, seed, duration : int, int, float
        Cluster size, root seed, nemesis duration in ms.
    crash, partition : bool
        Enable crash/restart and partition/heal faults.
    max_loss : float
        Largest message-loss probability of a loss burst (0 disables loss).
    clients, ops_per_client : int
        Workload size.
    pre_vote, check_quorum : bool
        Raft options.
    interval : (float, float)
        Range of the gap between two faults, ms.
    catchup_timeout : float
        How long to wait, after the clients finished and a leader exists, for every live server
        to apply every acknowledged value, ms.

    Returns
    -------
    FaultRun
    """
    from consensuslab._validate import check_probability
    from consensuslab.check import check_linearizable
    from consensuslab.check.safety import SafetyViolation
    from consensuslab.cluster import Cluster

    check_int("n", n, 1, 15)
    check_int("clients", clients, 1)
    check_int("ops_per_client", ops_per_client, 1)
    max_loss = check_probability("max_loss", max_loss)
    duration = check_float("duration", duration, 0.0)
    catchup_timeout = check_float("catchup_timeout", catchup_timeout, 0.0)
    c = Cluster("raft", n=n, seed=seed, clients=clients, check_every_step=True, trace=True,
                client_timeout=200.0, op_timeout=2000.0, pre_vote=pre_vote, check_quorum=check_quorum)
    c.nemesis(seed, duration=duration, interval=interval, crash=crash, partition=partition,
              loss=max_loss > 0, max_loss=max_loss)
    ops = [c.submit("append", "log", f"<{cl}.{k}>", client=cl)
           for k in range(ops_per_client) for cl in range(clients)]
    nodes = cast("list[RaftNode | None]", c.sim.nodes)  # a "raft" cluster builds RaftNodes
    seen = [0] * n  # per node: how many applied commands were already searched
    searched: list[Any] = [None] * n  # ... in which node object (a restart builds a new one)

    def caught_up() -> bool:
        # every live server has applied every acknowledged value (progress, not safety);
        # incremental: only commands applied since the last call are searched
        want = {o.command.value for o in ops if o.ok}
        for i, node in enumerate(nodes):
            if node is None:
                return False
            if node is not searched[i] or len(node.applied) < seen[i]:  # restarted / snapshot
                searched[i], seen[i], found[i] = node, 0, set()
            for cmd in node.applied[seen[i]:]:
                if cmd.op != "noop":
                    found[i].add(cmd.value)
            seen[i] = len(node.applied)
            if not want <= found[i]:
                return False
        return True

    found: list[set[Any]] = [set() for _ in range(n)]
    violation = None
    caught = False
    catchup_time = float("nan")
    try:
        c.run_for(duration)
        c.run_until(lambda: all(o.done for o in ops), timeout=20000.0)
        t_done = c.now
        c.run_until(lambda: c.leader() is not None, timeout=5000.0)
        caught = c.run_until(caught_up, timeout=catchup_timeout)
        if caught:
            catchup_time = float(c.now - t_done)
    except SafetyViolation as exc:
        violation = exc
    roles = roles_frame(c.trace, end=c.now)
    leaders = roles[roles["role"] == "leader"]
    acked = [o for o in ops if o.ok]
    summary = {
        "operations": len(ops),
        "acknowledged": len(acked),
        "unknown outcome": len(ops) - len(acked),
        "elections won": int(leaders[["term"]].drop_duplicates().shape[0]),
        "highest term": int(max(cast("RaftNode", node).term for node in c.sim.nodes if node is not None)),
        "messages": int(c.messages_sent),
        "steps checked": int(cast("RaftMonitor", c.monitor).steps),
        "safety violations": 0 if violation is None else 1,
        "linearizable": bool(check_linearizable(c.history, "kv").ok),
        "caught up": bool(caught),
        "catch-up time (ms)": catchup_time,
    }
    return FaultRun(summary, roles, cluster_state(c.sim, "end", "after healing"), violation)


def __getattr__(name: str) -> Any:
    # RaftMonitor lives in raft_monitor.py (which imports this module); load it lazily
    if name == "RaftMonitor":
        from consensuslab.protocols.raft_monitor import RaftMonitor

        return RaftMonitor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
