"""Raft: the sans-I/O node and its configuration (messages in raft_messages, the monitor in raft_monitor).

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
§6.3). **Reads** (``read_mode``): by default a ``get`` goes through the log — appended like a
write and answered once applied, linearizable without clocks. ``"read_index"`` (dissertation
§6.4) skips the log: the leader waits until an entry of its term is committed, records its
commit index as the read index, confirms it still leads with a round of heartbeats a majority
acknowledges (rounds are numbered, ``AppendEntries.read_round``, and echoed), then answers from
its state machine once it has applied up to the read index — one round trip, no log entry.
``"lease"`` (§6.4.1) answers at once, with no message, while the leader holds a lease: a round
sent at time ``s`` (the leader's clock) and acknowledged by a majority extends it to ``s +
lease``. Followers that heard from a leader refuse votes for ``election_timeout[0]`` on *their*
clocks (CheckQuorum, required), so the lease is safe only while ``lease * (1 + drift) <
election_timeout[0]``, ``drift`` the rate by which followers' clocks outrun the leader's;
outside its lease, or while transferring leadership, the leader falls back to ReadIndex.

**Membership** (dissertation §4, paper §6). A configuration (:class:`Membership`: voters,
learners, and the old voters during joint consensus) is a log entry; every server uses the
latest one in its log, committed or not, and a configuration is undone if its entry is
truncated. Single-server changes (:meth:`RaftNode.propose_membership`) go one at a time, and —
with ``membership_rule``, the fix of the 2015 bug — only once the leader has committed an entry
of its term. A joint change appends ``C_old,new``, which needs majorities of both sets for
elections and commitment, and once that is committed ``C_new``. Learners receive the log but
neither vote, count nor campaign (etcd); servers outside the configuration never campaign. A
leader outside the configuration it committed steps down. Snapshots carry the configuration as
of their last entry.

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

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from consensuslab._validate import check_choice, check_float, check_int, check_range_pair, describe
from consensuslab.protocols.base import Monitor, ProtocolConfig
from consensuslab.protocols.kv import NOOP, ClientRequest, ClientResponse, Command, KVStore
from consensuslab.node import Node, NodeId
from consensuslab.protocols.raft_messages import (
    AppendEntries,
    AppendEntriesReply,
    ChangeMembership,
    Entry,
    Membership,
    InstallSnapshot,
    InstallSnapshotReply,
    RaftError,
    RequestVote,
    RequestVoteReply,
    Role,
    Term,
    TimeoutNow,
    TransferLeadership,
)
from consensuslab.protocols.raft_monitor import RaftMonitor


__all__ = [
    "Term",
    "Role",
    "Entry",
    "Membership",
    "ChangeMembership",
    "MembershipError",
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
]


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
    members : tuple of int, optional
        The initial voters (default: all ``n`` servers). Servers outside it start as
        non-members: they take part once a configuration entry adds them.
    membership_rule : bool
        ``True`` (the fix of the 2015 single-server bug, Ongaro on raft-dev): a leader starts
        a membership change only after it has committed an entry of its current term.
        ``False`` is **unsafe** — two changes across a leader change can then produce
        configurations without a common majority; it exists to demonstrate the bug.
    read_mode : {"log", "read_index", "lease"}
        How the leader serves ``get``: through the log (the default), with ReadIndex (record
        the commit index, confirm leadership with a heartbeat round, wait for the apply;
        dissertation §6.4), or from a lease (§6.4.1; needs ``check_quorum``).
    lease : float, optional
        Lease length in ms, measured on the leader's clock from the send time of a heartbeat
        round a majority acknowledged. Default ``election_timeout[0] / (1 + drift_allowance)``.
        Leases are safe only while ``lease * (1 + drift) < election_timeout[0]``, ``drift`` the
        rate by which followers' clocks outrun the leader's.
    drift_allowance : float
        The clock-drift allowance of the default lease (a rate, >= 0).

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
    members: tuple[int, ...] | None = None
    membership_rule: bool = True
    read_mode: Literal["log", "read_index", "lease"] = "log"
    lease: float | None = None
    drift_allowance: float = 0.05

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
        for name in ("pre_vote", "check_quorum", "figure8_rule", "membership_rule"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"`{name}` must be a bool; got {describe(getattr(self, name))}.")
        if self.snapshot_threshold is not None:
            check_int("snapshot_threshold", self.snapshot_threshold, 1)
        check_int("max_entries", self.max_entries, 1)
        if self.members is not None:
            if isinstance(self.members, (str, bytes)) or not isinstance(self.members, Iterable):
                raise TypeError(f"`members` must be a tuple of node ids; got {describe(self.members)}.")
            ids = [check_int("members[]", i, 0, self.n - 1) for i in self.members]
            if not ids or len(set(ids)) != len(ids):
                raise ValueError(f"`members` must be distinct node ids, at least one; got {tuple(self.members)}.")
            object.__setattr__(self, "members", tuple(sorted(ids)))
        check_choice("read_mode", self.read_mode, ["log", "read_index", "lease"])
        if self.lease is not None:
            object.__setattr__(self, "lease", check_float("lease", self.lease, 0.0, low_open=True))
        object.__setattr__(self, "drift_allowance", check_float("drift_allowance", self.drift_allowance, 0.0))
        if self.read_mode == "lease" and not self.check_quorum:
            raise ValueError(
                "`read_mode` 'lease' needs `check_quorum=True`: followers must refuse votes while they "
                "hear from a leader, or a new leader can be elected inside the lease (dissertation "
                "§6.4.1; etcd's ReadOnlyLeaseBased has the same rule); got check_quorum=False."
            )

    @property
    def lease_duration(self) -> float:
        """The leader's lease in ms: ``lease``, or ``election_timeout[0] / (1 + drift_allowance)``."""
        return self.lease if self.lease is not None else self.election_timeout[0] / (1.0 + self.drift_allowance)

    @property
    def majority(self) -> int:
        """Votes or replicas needed: ``n // 2 + 1``."""
        return self.n // 2 + 1

    def make_node(
        self, node_id: NodeId, peers: tuple[NodeId, ...], rng: np.random.Generator, stable: dict
    ) -> RaftNode:
        # every server, however late it joined the simulation, starts from the same initial
        # configuration (the first ``n`` servers, or ``members``)
        bootstrap = self.members if self.members is not None else tuple(range(self.n))
        return RaftNode(node_id, peers, rng, stable, config=self, bootstrap=bootstrap)

    def monitor(self) -> Monitor:
        """A fresh :class:`~consensuslab.protocols.raft_monitor.RaftMonitor`."""
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


class MembershipError(RaftError):
    """A membership change the leader refuses (not leader, a change in progress, the rule)."""


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
        As for :class:`~consensuslab.node.Node`.
    config : RaftConfig, optional
        Options; default ``RaftConfig(n=len(peers))``.
    bootstrap : tuple of int, optional
        The initial voters; default ``config.members``, else ``peers``.

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
        bootstrap: Iterable[NodeId] | None = None,
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
        # leader only: (client, seq) -> log index of every client command in this leader's log
        # that is not applied yet, so that a retry joins its entry instead of appending a copy
        # (invariant: every index here is > last_applied and holds that command)
        self.in_log: dict[tuple[int, int], int] = {}
        self.transferee: NodeId | None = None
        self._active: set[NodeId] = set()
        # leader only, reads outside the log (dissertation §6.4): heartbeat rounds
        self._round = 0  # the last round sent
        self._round_sent: dict[int, float] = {}  # round -> leader clock when sent
        self._acked_round: dict[NodeId, int] = {}  # peer -> highest round it echoed this term
        self._confirmed = 0  # highest round a quorum acknowledged
        self._lease_until = -float("inf")  # leader clock
        self._term_start = 0  # index of this leader's no-op
        self._reads: list[tuple[int, int, ClientRequest]] = []  # (round, read index, request)
        self.reads_served = {"read_index": 0, "lease": 0}
        # election timer bookkeeping: the timer fires at _timer_at and re-arms itself if the
        # deadline moved later; a contact only re-arms it when the deadline moves earlier.
        self._deadline = 0.0
        self._timer_at: float | None = None
        self._last_leader_contact = -float("inf")
        self._restart_lease_until = -float("inf")  # lease reads: no vote right after a restart
        self._others = tuple(p for p in self.peers if p != self.id)
        # membership (dissertation §4.1): the latest configuration in the log, committed or not
        if bootstrap is None:
            bootstrap = self.config.members if self.config.members is not None else self.peers
        self._bootstrap = Membership(frozenset(bootstrap))
        self._snap_membership = self._bootstrap  # the configuration as of snapshot_index
        self._configs: list[tuple[int, Membership]] = []  # (index, config) entries in the log
        self._set_membership(self._bootstrap, 0)
        # ghost state for the monitor: never read by the protocol; the driver keeps it across
        # restarts (consensuslab.node.adopt_ghosts). The terms this server led, so that Election
        # Safety ("at most one leader per term", Figure 3) is a function of the cluster's state
        # even when the monitor is asked once, after one of two leaders of a term stepped down.
        self.ghost_led: list[Term] = []

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

    # ---- membership (dissertation §4, paper §6) ---------------------------------------------
    def _set_membership(self, m: Membership, index: int) -> None:
        """Adopt ``m`` (the entry at ``index``; 0: the initial one) and its derived views."""
        self.membership = m
        self._config_index = index
        members = m.members
        voters = m.voters | (m.voters_old or frozenset())
        # keep the peers' order (identical sends without membership changes), then newcomers
        self._targets = (tuple(p for p in self._others if p in members)
                         + tuple(sorted(members.difference(self.peers))))
        self._vote_targets = (tuple(p for p in self._others if p in voters)
                              + tuple(sorted(voters.difference(self.peers))))
        self._vote_broadcast = self._vote_targets == self._others
        self._promotable = m.is_voter(self.id)
        self._voter_sets = tuple(tuple(sorted(v)) for v in (m.voters, m.voters_old) if v is not None)
        if self.role is _LEADER:  # replicate to newcomers from the end of the log (§5.3 repairs)
            nxt = self.last_log_index + 1
            for p in self._targets:
                if p not in self.next_index:
                    self.next_index[p] = nxt
                    self.match_index[p] = 0

    def _latest_membership(self) -> None:
        """Re-derive the configuration from the log after it changed (§4.1: latest wins)."""
        if self._configs:
            index, m = self._configs[-1]
        else:
            index, m = self.snapshot_index, self._snap_membership
        if m != self.membership:
            self._set_membership(m, index)
            self.note("membership", config=str(m), index=index, term=self.term)
        else:
            self._config_index = index

    def _scan_configs(self, start: int) -> None:
        """Forget configuration entries at indices >= ``start`` and re-read them from the log."""
        configs = self._configs
        while configs and configs[-1][0] >= start:
            configs.pop()
        base = self.snapshot_index
        for index in range(max(start, base + 1), self.last_log_index + 1):
            e = self.log[index - base - 1]
            if e.config is not None:
                configs.append((index, e.config))
        self._latest_membership()

    def _membership_at(self, index: int) -> Membership:
        """The configuration in force at log index ``index`` (>= snapshot_index)."""
        m = self._snap_membership
        for i, c in self._configs:
            if i > index:
                break
            m = c
        return m

    def _send_to_voters(self, msg: Any) -> None:
        """Send ``msg`` to every other voter (one Broadcast while they are all the peers)."""
        if self._vote_broadcast:
            self.broadcast(msg)
        else:
            for p in self._vote_targets:
                self.send(p, msg)

    def _quorum_match(self) -> int:
        """The highest index held by a quorum of voters (both majorities while joint)."""
        best = -1
        for voters in self._voter_sets:
            vals = [self.last_log_index if v == self.id else self.match_index.get(v, 0) for v in voters]
            vals.sort(reverse=True)
            n = vals[len(vals) // 2]
            if best < 0 or n < best:
                best = n
        return best

    def propose_membership(self, action: str, node: NodeId | None = None,
                           voters: Iterable[NodeId] | None = None) -> int:
        """Append a configuration entry (leader only); return its index.

        ``action``: ``"add_voter"``, ``"add_learner"``, ``"remove"`` (single-server changes,
        dissertation §4.1) or ``"joint"`` with the new voter set ``voters`` (paper §6: the
        leader appends ``C_old,new`` and, once that is committed, ``C_new``). The new
        configuration takes effect on every server as soon as it is in its log.

        Raises
        ------
        MembershipError
            Not the leader; a change is still uncommitted (one at a time, §4.1); with
            ``membership_rule``, no entry of this leader's term is committed yet (the 2015
            fix); or the change is impossible (already a member, not a member, the last voter).
        """
        if self.role is not _LEADER:
            raise MembershipError(f"node {self.id} is not the leader")
        if self._config_index > self.commit_index:  # §4.1: one change at a time
            raise MembershipError(f"the change at index {self._config_index} is not committed yet")
        if self.config.membership_rule and self.term_at(self.commit_index) != self.term:
            # the fix of the 2015 single-server bug: commit an entry of this term first
            raise MembershipError(f"leader {self.id} has not committed an entry of term {self.term} yet")
        m = self.membership
        if action == "joint":
            if voters is None:
                raise MembershipError("a joint change needs the new `voters`")
            new = frozenset(int(v) for v in voters)
            if not new:
                raise MembershipError("the new configuration needs at least one voter")
            if new == m.voters:
                raise MembershipError(f"the voters are already {sorted(new)}")
            target = Membership(new, m.learners - new, voters_old=m.voters)
        elif node is None:
            raise MembershipError(f"`{action}` needs a node")
        elif action == "add_voter":
            if node in m.voters:
                raise MembershipError(f"node {node} is already a voter")
            target = Membership(m.voters | {node}, m.learners - {node})
        elif action == "add_learner":
            if node in m.members:
                raise MembershipError(f"node {node} is already a member")
            target = Membership(m.voters, m.learners | {node})
        elif action == "remove":
            if node not in m.members:
                raise MembershipError(f"node {node} is not a member")
            if m.voters == {node}:
                raise MembershipError(f"node {node} is the last voter")
            target = Membership(m.voters - {node}, m.learners - {node})
        else:
            raise MembershipError(f"unknown membership action {action!r}")
        index = self._append_local(Entry(self.term, NOOP, target))
        for p in self._targets:  # replicate at once
            if self.next_index[p] >= index:
                self.next_index[p] = index
                self._send_append(p)
        self._advance_commit()
        return index

    def _after_commit(self) -> None:
        """Leader bookkeeping once a configuration entry is committed (paper §6, diss. §4.2.2)."""
        m = self.membership
        if self._config_index > self.commit_index:
            return
        if m.joint:  # §6: C_old,new is committed -> append C_new
            self._append_local(Entry(self.term, NOOP, Membership(m.voters, m.learners)))
            self._broadcast_append()
            self._advance_commit()  # a leader alone in C_new commits it at once
        elif not m.is_voter(self.id):  # diss. §4.2.2: a removed leader steps down
            self.become_follower(self.term, None)

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
            self._snap_membership = st.get("snapshot_membership", self._bootstrap)
        self.commit_index = self.last_applied = self.applied_base = self.snapshot_index
        self._scan_configs(0)
        if self.config.read_mode == "lease":
            # a restarted server forgot when it last heard from a leader, and a leader may be
            # serving reads on a lease it helped grant: it waits one election timeout before
            # granting a vote, as if it had just heard from that leader (§6.4.1)
            self._restart_lease_until = self.now + self.config.election_timeout[0]
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
                if self.config.read_mode != "log":
                    self._new_round()  # §6.4.1: every round may extend the lease
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
            if not self._promotable:  # a learner or a non-member never campaigns (etcd)
                self._reset_election_timer()
                return
            # §5.2: election timeout elapsed -> start an election (Pre-Vote first, §9.6)
            if self.config.pre_vote:
                self.become_pre_candidate()
            else:
                self.become_candidate()
        elif name == "check_quorum":
            if self.role is _LEADER:  # dissertation §6.2: step down without a majority
                if not self.membership.is_quorum(self._active | {self.id}):
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
        if self.membership.is_quorum(self.votes):
            self.become_candidate()
            return
        self._send_to_voters(RequestVote(self.term + 1, self.id, self.last_log_index, self.last_log_term, pre_vote=True))

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
        if self.membership.is_quorum(self.votes):
            self.become_leader()
            return
        self._send_to_voters(RequestVote(self.term, self.id, self.last_log_index, self.last_log_term, transfer=transfer))

    def become_leader(self) -> None:
        """§5.2/§5.3: initialise next/match indices, append a no-op (§8), send AppendEntries."""
        if self.role is not _CANDIDATE:
            raise RaftError(f"node {self.id}: only a candidate can become leader (is {self.role.value})")
        self.leader_id = self.id
        self._set_role(_LEADER)
        self.ghost_led.append(self.term)
        self.cancel_timer("election")
        self._timer_at = None
        nxt = self.last_log_index + 1
        self.next_index = {p: nxt for p in self._targets}
        self.match_index = {p: 0 for p in self._targets}
        self.pending = {}
        self.in_log = self._unapplied_requests()
        self.transferee = None
        self._active = set()
        self._round, self._round_sent, self._acked_round, self._confirmed = 0, {}, {}, 0
        self._lease_until = -float("inf")
        self._reads = []
        self._term_start = self._append_local(Entry(self.term, NOOP))
        if self.config.read_mode != "log":
            self._new_round()
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
        if entry.config is not None:  # §4.1: in force as soon as it is in the log
            self._configs.append((self.last_log_index, entry.config))
            self._latest_membership()
        return self.last_log_index

    def _merge_entries(self, prev: int, entries: tuple[Entry, ...]) -> None:
        """Append ``entries`` after ``prev``; truncate a conflicting suffix first (§5.3)."""
        base = self.snapshot_index
        log = self.log
        changed = False
        first = 0  # first index written
        if prev == base + len(log):  # common case: pure append
            if entries:
                log.extend(entries)
                changed = True
                first = prev + 1
        else:
            for k, e in enumerate(entries):
                pos = prev - base + k  # position of index prev + 1 + k in self.log
                if pos < len(log):
                    if log[pos].term == e.term:
                        continue  # §5.3: already present (same index and term)
                    del log[pos:]  # §5.3: conflict -> delete it and all that follow
                log.extend(entries[k:])
                changed = True
                first = prev + 1 + k
                break
        if changed:
            self.log_version += 1
            self.persist(log=tuple(log))  # before the reply that acknowledges them
            # §4.1: a configuration is in force once in the log and undone if truncated
            if (self._configs and self._configs[-1][0] >= first) or any(e.config is not None for e in entries):
                self._scan_configs(first)

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
        if self.role is _LEADER or self.now < self._restart_lease_until:
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
                if self.membership.is_quorum(self.votes):
                    self.become_candidate()
            elif m.term > self.term and not m.vote_granted:  # the voter is ahead: catch up
                self.become_follower(m.term, None)
            return  # otherwise a stale or refused probe: nothing to do
        if m.term > self.term:  # §5.1
            self.become_follower(m.term, None)
            return
        if self.role is not _CANDIDATE or m.term != self.term:
            return  # a reply to an earlier election
        if m.vote_granted:  # §5.2: a majority of votes wins (§6: of both sets while joint)
            self.votes.add(src)
            if self.membership.is_quorum(self.votes):
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
                self.send(src, AppendEntriesReply(self.term, True, match_index=prev + len(entries), read_round=m.read_round))
                return
            entries = entries[skip:]
            prev = base
        elif prev > self.last_log_index:  # §5.3 consistency check: we lack prev
            self.send(src, AppendEntriesReply(self.term, False, conflict_index=self.last_log_index + 1, read_round=m.read_round))
            return
        elif prev > base and self.log[prev - base - 1].term != m.prev_log_term:  # §5.3 mismatch
            ct = self.log[prev - base - 1].term
            first = prev
            while first - 1 > base and self.log[first - base - 2].term == ct:
                first -= 1
            self.send(src, AppendEntriesReply(self.term, False, conflict_index=first, conflict_term=ct, read_round=m.read_round))
            return
        self._merge_entries(prev, entries)
        last_new = prev + len(entries)
        if m.leader_commit > self.commit_index:  # Figure 2: min(leaderCommit, last new entry)
            new_commit = min(m.leader_commit, last_new)
            if new_commit > self.commit_index:
                self.commit_index = new_commit
                self._apply_committed()
        self.send(src, AppendEntriesReply(self.term, True, match_index=last_new, read_round=m.read_round))

    def _on_append_reply(self, src: NodeId, m: AppendEntriesReply) -> None:
        if m.term > self.term:  # §5.1
            self.become_follower(m.term, None)
            return
        if self.role is not _LEADER or m.term != self.term:
            return  # a reply to a leader we no longer are
        self._active.add(src)
        if m.read_round > self._acked_round.get(src, 0):  # §6.4: it still follows us
            self._acked_round[src] = m.read_round
            self._confirm_reads()
        if m.success:
            if m.match_index > self.match_index[src]:
                self.match_index[src] = m.match_index
                self._advance_commit()
                if self.role is not _LEADER:
                    return  # it committed its own removal and stepped down (diss. §4.2.2)
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
            self._configs = [(i, c) for i, c in self._configs if i > idx]
        else:
            self.log = []  # §7: discard the whole log
            self._configs = []
        self.snapshot_index, self.snapshot_term = idx, t
        self.log_version += 1
        self.kv = KVStore.restore(m.data)
        self.commit_index = self.last_applied = self.applied_base = idx
        self.applied = []
        self.persist(snapshot=(idx, t, m.data), log=tuple(self.log))
        snap_m = m.membership if m.membership is not None else self._bootstrap
        if snap_m != self._snap_membership or "snapshot_membership" in self.stable:
            self.persist(snapshot_membership=snap_m)
        self._snap_membership = snap_m
        self._latest_membership()
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
            if self.role is not _LEADER:
                return  # stepped down after committing its own removal
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
        if not self._promotable:
            return  # a learner or non-member cannot take over; the transfer times out
        self.become_candidate(transfer=True)  # §3.10: campaign at once, bypassing the lease

    # ---- leader side ----------------------------------------------------------------------
    def _send_append(self, peer: NodeId) -> None:
        ni = self.next_index[peer]
        base = self.snapshot_index
        if ni <= base:  # §7: the entries it needs were compacted
            snap_m = None if self._snap_membership == self._bootstrap else self._snap_membership
            self.send(peer, InstallSnapshot(self.term, self.id, base, self.snapshot_term, self._snapshot_data, snap_m))
            return
        prev = ni - 1
        prev_term = self.snapshot_term if prev == base else self.log[prev - base - 1].term
        start = prev - base
        entries = tuple(self.log[start:start + self.config.max_entries])
        self.send(peer, AppendEntries(self.term, self.id, prev, prev_term, entries, self.commit_index, self._round))

    def _broadcast_append(self) -> None:
        for p in self._targets:
            self._send_append(p)

    def _advance_commit(self) -> None:
        """§5.3/§5.4.2: commit the highest index on a majority whose term is the current one
        (§6: on majorities of both configurations while joint)."""
        n = self._quorum_match()  # the leader holds its log; it counts only if it votes
        if n <= self.commit_index:
            return
        if self.config.figure8_rule and self.term_at(n) != self.term:
            return  # Figure 8: never commit an earlier term's entry by counting replicas
        self.commit_index = n
        self._apply_committed()
        if self._reads:
            self._serve_reads()
        if self._config_index and self._config_index <= n:
            self._after_commit()

    def _apply_committed(self) -> None:
        base = self.snapshot_index
        log = self.log
        kv = self.kv
        leading = self.role is _LEADER and (self.pending or self.in_log)
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            entry = log[self.last_applied - base - 1]
            result = kv.apply(entry.command)
            self.applied.append(entry.command)
            if leading:
                self.in_log.pop((entry.command.client, entry.command.seq), None)
                req = self.pending.pop(self.last_applied, None)
                if req is not None:
                    self.reply(req, ClientResponse(req.client, req.seq, True, value=result, leader_hint=self.id))
        thr = self.config.snapshot_threshold
        if thr is not None and self.last_applied - self.snapshot_index >= thr:
            self._take_snapshot()

    def _take_snapshot(self) -> None:
        """§7: replace the applied prefix of the log by a snapshot of the state machine
        (and the configuration as of its last entry, dissertation §5.1)."""
        idx = self.last_applied
        t = self.term_at(idx)
        data = self.kv.snapshot()
        snap_m = self._membership_at(idx)
        self.log = self.log[idx - self.snapshot_index:]
        self.snapshot_index, self.snapshot_term = idx, t
        self.log_version += 1
        self.persist(snapshot=(idx, t, data), log=tuple(self.log))
        if snap_m != self._snap_membership or "snapshot_membership" in self.stable:
            self.persist(snapshot_membership=snap_m)
        self._snap_membership = snap_m
        self._configs = [(i, c) for i, c in self._configs if i > idx]

    @property
    def _snapshot_data(self) -> Any:
        snap = self.stable.get("snapshot")
        return snap[2] if snap is not None else KVStore().snapshot()

    def _fail_pending(self) -> None:
        for req in self.pending.values():
            self.reply(req, ClientResponse(req.client, req.seq, False, leader_hint=self.leader_id, error="not leader"))
        for _, _, req in self._reads:
            self.reply(req, ClientResponse(req.client, req.seq, False, leader_hint=self.leader_id, error="not leader"))
        self.pending = {}
        self.in_log = {}
        self._reads = []
        self._lease_until = -float("inf")

    def _unapplied_requests(self) -> dict[tuple[int, int], int]:
        """(client, seq) -> index of the client commands after ``last_applied`` (a new leader's table)."""
        base = self.snapshot_index
        table: dict[tuple[int, int], int] = {}
        for index in range(self.last_applied + 1, self.last_log_index + 1):
            cmd = self.log[index - base - 1].command
            if cmd.op != "noop":
                table.setdefault((cmd.client, cmd.seq), index)
        return table

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
            case ChangeMembership():
                try:
                    index = self.propose_membership(request.action, request.node, request.voters)
                except MembershipError as exc:
                    hint = self.leader_id if self.role is not _LEADER else self.id
                    self.reply(request, ClientResponse(request.client, request.seq, False,
                                                       leader_hint=hint, error=str(exc)))
                    return
                self.reply(request, ClientResponse(request.client, request.seq, True, value=index,
                                                   leader_hint=self.id))
            case ClientRequest():
                self._on_client_request(request)
            case _:
                raise RaftError(f"node {self.id}: unknown client request {request!r}")

    def _on_client_request(self, req: ClientRequest) -> None:
        if self.role is not _LEADER or self.transferee is not None:  # redirect (§8)
            hint = self.leader_id if self.role is not _LEADER else None
            self.reply(req, ClientResponse(req.client, req.seq, False, leader_hint=hint, error="not leader"))
            return
        if req.command.op == "get" and self.config.read_mode != "log":
            self._read(req)
            return
        last = self.kv.sessions.get(req.client)
        if last is not None and req.seq <= last[0]:
            if req.seq == last[0]:  # §6.3: already applied -- answer from the session table
                self.reply(req, ClientResponse(req.client, req.seq, True, value=last[1], leader_hint=self.id))
            return  # older than the client's latest operation: the client gave up on it
        index = self.in_log.get((req.client, req.seq))
        if index is not None:  # a retry of a command already in the log: join it, answer this copy
            self.pending[index] = req
            return
        index = self._append_local(Entry(self.term, req.command))
        self.in_log[(req.client, req.seq)] = index
        self.pending[index] = req
        for p in self._targets:  # replicate at once (the heartbeat would add up to 50 ms)
            if self.next_index[p] == index:
                self._send_append(p)
        self._advance_commit()

    # ---- reads outside the log (dissertation §6.4) -------------------------------------------
    def _new_round(self) -> None:
        self._round += 1
        self._round_sent[self._round] = self.now

    def _read(self, req: ClientRequest) -> None:
        """§6.4.1: serve from the lease if it holds, else §6.4: ReadIndex."""
        if (self.config.read_mode == "lease" and self.now < self._lease_until
                and self.commit_index >= self._term_start):
            self.reads_served["lease"] += 1
            self._answer_read(req)
            return
        # §6.4 step 1-2: the read index is the commit index (at least this term's no-op)
        index = max(self.commit_index, self._term_start)
        # step 3: a new heartbeat round, unless one already left at this very moment
        if self._round_sent.get(self._round) != self.now or self._round <= self._confirmed:
            self._new_round()
            self._broadcast_append()
        self._reads.append((self._round, index, req))
        self._confirm_reads()  # a one-voter cluster confirms at once

    def _answer_read(self, req: ClientRequest) -> None:
        value = self.kv.data.get(req.command.key)
        self.reply(req, ClientResponse(req.client, req.seq, True, value=value, leader_hint=self.id))

    def _confirm_reads(self) -> None:
        """The highest round a quorum acknowledged; extend the lease; answer confirmed reads."""
        best = -1
        for voters in self._voter_sets:
            vals = [self._round if v == self.id else self._acked_round.get(v, 0) for v in voters]
            vals.sort(reverse=True)
            r = vals[len(vals) // 2]
            if best < 0 or r < best:
                best = r
        if best > self._confirmed:
            self._confirmed = best
            sent = self._round_sent[best]
            if self.config.read_mode == "lease" and self.transferee is None:
                self._lease_until = max(self._lease_until, sent + self.config.lease_duration)
            for r in [r for r in self._round_sent if r < best]:
                del self._round_sent[r]
        self._serve_reads()

    def _serve_reads(self) -> None:
        """§6.4 step 4-5: answer confirmed reads once the state machine reached their index."""
        if not self._reads:
            return
        keep = []
        for item in self._reads:
            r, index, req = item
            if r <= self._confirmed and self.last_applied >= index:
                self.reads_served["read_index"] += 1
                self._answer_read(req)
            else:
                keep.append(item)
        self._reads = keep

    def transfer_leadership(self, target: NodeId) -> bool:
        """Hand leadership to ``target`` (dissertation §3.10).

        Stops accepting client requests, brings ``target`` up to date, then sends it
        :class:`TimeoutNow`. Aborted after a minimum election timeout. Returns False if this
        node is not the leader or ``target`` is itself or unknown.
        Call it from a handler (e.g. via :class:`TransferLeadership` or :func:`invoke`).
        """
        if self.role is not _LEADER or target == self.id or target not in self._vote_targets:
            return False
        self.transferee = target
        self._lease_until = -float("inf")  # the target's election bypasses the followers' lease
        self.set_timer("transfer", self.config.election_timeout[0])
        if self.match_index[target] == self.last_log_index:
            self.send(target, TimeoutNow(self.term, self.id))
        else:
            self._send_append(target)
        return True

    def campaign(self) -> None:
        """Start an election now, as if the election timer fired (tests, scenarios).

        A learner or a server outside the configuration does not campaign."""
        if self.role is _LEADER or not self._promotable:
            return
        if self.config.pre_vote:
            self.become_pre_candidate()
        else:
            self.become_candidate()

    def __repr__(self) -> str:
        return (f"<RaftNode {self.id} {self.role.value} term={self.term} log={self.last_log_index} "
                f"commit={self.commit_index}>")
