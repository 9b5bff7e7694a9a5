"""Ballot Leader Election (BLE), the leader election of Omni-Paxos: a sans-I/O component.

Theory of operation
-------------------
BLE elects a leader that is *quorum-connected* (QC): a server that heard from a majority in its
last heartbeat round. It looks only at connectivity, never at logs, and servers tell each other
only their *own* ballot, never the identity of their leader (Ng, Haridi & Carbone, "Omni-Paxos:
Breaking the Barriers of Partial Connectivity", EuroSys 2023, §4; the Omni-Paxos blog post of
May 2023, "How OmniPaxos handles partial connectivity"). In the paper's code
(``haraldng/omnipaxos-artifacts``, ``ble.rs``; ``omnipaxos`` ``ballot_leader_election.rs``) a
round lasts one election timeout. The rules, each one guarded branch below:

R1 *round*: every ``period`` ms a server starts round ``r``: it sends ``HeartbeatRequest(r)`` to
   every peer and forgets what it collected in the previous round.
R2 *reply*: a server answers ``HeartbeatRequest(r)`` with ``HeartbeatReply(r, ballot, qc)``:
   its own ballot and its own quorum-connected flag.
R3 *collect*: a reply counts only in the round it answers; a late reply is dropped.
R4 *round end*: a server that heard from a majority (itself included) is quorum-connected and
   is a candidate (its own ``(ballot, True)`` joins the collected set), then runs
   ``check_leader``; one that did not is not quorum-connected and elects nothing this round.
R5 *check_leader*: ``top`` is the highest ballot among the quorum-connected candidates heard.
   (a) ``top < leader``: the leader was not heard, or no longer claims quorum-connectivity: the
   server raises its own ballot above the leader's (``n := leader.n + 1``) and forgets the
   leader; (b) otherwise, if ``top`` differs from the leader, ``top`` becomes the leader and
   BLE reports it (a ``Leader`` event to Sequence Paxos).

A ballot is ``(n, pid)``, :class:`~consensuslab.protocols.paxos.Ballot` ``(round, proposer)``,
ordered lexicographically, so two servers never share one. Because R2 sends a server's *own*
ballot, a server that cannot reach the new leader never hears of it (the blog's chained
scenario): it cannot be talked into fighting it.

Where the paper is silent we chose (see also :mod:`consensuslab.protocols.omnipaxos`):

* *Initial flag.* The paper's implementations start every server as a candidate
  (``candidate: true``). Here a server reports ``quorum_connected=False`` until it has finished
  a round, and elects nothing at the end of its first round after a (re)start (the flags it
  collected then were claimed before anyone had evidence). So every claim of
  quorum-connectivity is backed by a round that heard a majority, which the monitor checks;
  the cost is one extra round (one election timeout) at cluster start.
* *Rounds across restarts.* A round is ``(incarnation, number)``; the incarnation is persisted,
  so a restarted server never counts a reply addressed to its previous life (R3).
* *Duplicates.* Replies are kept per sender: a duplicated reply is not a second vote towards
  the majority of R4 (the paper's code appends to a vector).
* *Durable ballot.* The ballot number is persisted (``ble_round``) before it can leave in a
  reply: Sequence Paxos uses BLE ballots as its own, and a ballot must never be reused.
* :meth:`BallotLeaderElection.increment` also raises the ballot above a given ballot on demand
  (the host's rules for a stale ballot); R5a is ``increment(leader)``.

:class:`BLEMonitor` checks, from ghost state, after every step: *the quorum-connected flag is
honest* (a reply claims it only if the sender's last finished round heard a majority);
*elections use only quorum-connected candidates* (the elected ballot was reported with the flag
set, in that round, by its owner); *at most one leader per ballot* (a server that elects itself
does so with its own current ballot, so a ballot ``(n, pid)`` can lead only at ``pid``); and
*monotonicity* (a server's ballot never decreases; the leaders it elects strictly increase
within one incarnation).

References
----------
Ng, H., Haridi, S. and Carbone, P. (2023). Omni-Paxos: Breaking the Barriers of Partial
Connectivity. EuroSys '23, §4 (Ballot Leader Election), §2 and Figure 1 (the scenarios).
Harrison, K. and Ng, H. (2023). How OmniPaxos handles partial connectivity - and why other
protocols can't. omnipaxos.com/blog (May 2023).

Examples
--------
Five servers run BLE alone; after two rounds the highest initial ballot leads everywhere:

>>> from consensuslab.sim.simulator import simulate
>>> sim = simulate(BLEConfig(n=5, election_timeout=100.0), seed=1, latency=5.0)
>>> sim.run_for(350.0)
>>> sorted({node.ble.leader for node in sim.nodes})
[Ballot(round=1, proposer=4)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from consensuslab._validate import check_float, check_int
from consensuslab.check.safety import SafetyViolation
from consensuslab.node import ClusterView, Node, NodeId
from consensuslab.protocols.base import Monitor, ProtocolConfig
from consensuslab.protocols.paxos import Ballot

__all__ = [
    "HeartbeatRequest",
    "HeartbeatReply",
    "RoundRecord",
    "BallotLeaderElection",
    "BLEConfig",
    "BLENode",
    "BLEMonitor",
]

#: A heartbeat round: ``(incarnation, number)``.
Round = tuple[int, int]


# -- messages ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HeartbeatRequest:
    """R1: round ``round`` has begun at the sender."""

    round: Round


@dataclass(frozen=True, slots=True)
class HeartbeatReply:
    """R2: the sender's own ballot and quorum-connected flag, for round ``round``."""

    round: Round
    ballot: Ballot
    quorum_connected: bool


class RoundRecord(NamedTuple):
    """Ghost record of one round end (or of a (re)start, ``start=True``)."""

    time: float
    start: bool
    heard: frozenset[NodeId]
    quorum_connected: bool
    ballot: Ballot


# -- the component ------------------------------------------------------------------------------
class BallotLeaderElection:
    """The BLE state machine, embedded in a host :class:`~consensuslab.node.Node`.

    It emits its effects through the host (``send``, ``broadcast``, ``set_timer``, ``persist``,
    ``note``) and appends its ghost records to the host's ``ghost_ble_*`` lists, so any node
    (:class:`BLENode`, :class:`~consensuslab.protocols.omnipaxos.OmniPaxosNode`) can carry it.

    Parameters
    ----------
    host : Node
        The node it runs in; it must own the lists ``ghost_ble_rounds``, ``ghost_ble_replies``
        and ``ghost_ble_elections``.
    ballot : Ballot
        The starting ballot (``proposer`` must be the host's id).
    period : float
        Round length, ms: one election timeout.
    incarnation : int
        Distinguishes this life's rounds from earlier ones (the host persists it).
    timer : str
        Name of the host timer that ends a round.

    Attributes
    ----------
    ballot : Ballot
        This server's ballot (R2 sends it).
    quorum_connected : bool
        Heard from a majority in the last finished round (R4).
    leader : Ballot or None
        The elected leader's ballot (R5).
    candidates : frozenset of int
        Servers that were quorum-connected candidates at the last round end (self included
        when quorum-connected).
    """

    def __init__(self, host: Node, ballot: Ballot, period: float, incarnation: int = 1,
                 timer: str = "ble") -> None:
        if ballot.proposer != host.id:
            raise ValueError(f"`ballot` must belong to node {host.id}; got {ballot}.")
        self.host = host
        self.period = check_float("period", period, 0.0, low_open=True)
        self.timer = timer
        self.majority = len(host.peers) // 2 + 1
        self.incarnation = incarnation
        self.number = 0
        self.ballot = ballot
        self.quorum_connected = False  # no evidence yet (see the module docstring)
        self.leader: Ballot | None = None
        self.candidates: frozenset[NodeId] = frozenset()
        self.heard: dict[NodeId, tuple[Ballot, bool]] = {}
        self.round_started = host.now
        self._rounds_ended = 0
        host.ghost_ble_rounds.append(RoundRecord(host.now, True, frozenset(), False, ballot))  # type: ignore[attr-defined]

    @property
    def round(self) -> Round:
        return (self.incarnation, self.number)

    def start(self) -> None:
        """Begin the first round (call from the host's ``on_start``)."""
        self._new_round()

    # -- R1 -----------------------------------------------------------------------------------
    def _new_round(self) -> None:
        self.number += 1
        self.heard = {}
        self.round_started = self.host.now
        self.host.broadcast(HeartbeatRequest(self.round))
        self.host.set_timer(self.timer, self.period)

    # -- R2 -----------------------------------------------------------------------------------
    def on_request(self, src: NodeId, m: HeartbeatRequest) -> None:
        """R2: answer with our own ballot and flag (never our leader's)."""
        host = self.host
        host.send(src, HeartbeatReply(m.round, self.ballot, self.quorum_connected))
        host.ghost_ble_replies.append(  # type: ignore[attr-defined]
            (host.now, src, m.round, self.ballot, self.quorum_connected, len(host.ghost_ble_rounds))  # type: ignore[attr-defined]
        )

    # -- R3 -----------------------------------------------------------------------------------
    def on_reply(self, src: NodeId, m: HeartbeatReply) -> None:
        """R3: keep a reply only if it answers the current round (one per sender)."""
        if m.round != self.round:
            return  # a late reply to an earlier round (or an earlier life): R3 drops it
        self.heard[src] = (m.ballot, m.quorum_connected)

    # -- R4 / R5 ------------------------------------------------------------------------------
    def on_timeout(self) -> Ballot | None:
        """R4: end the round, run R5 if quorum-connected, start the next round.

        Returns the newly elected leader's ballot, or None if the leader did not change.
        """
        host = self.host
        heard = frozenset(self.heard)
        elected: Ballot | None = None
        was = self.quorum_connected
        first = self._rounds_ended == 0
        self._rounds_ended += 1
        if len(heard) + 1 >= self.majority:  # R4: heard from a majority, self included
            self.quorum_connected = True
            qc = [(b, src) for src, (b, flag) in self.heard.items() if flag]
            self.candidates = frozenset([src for _, src in qc] + [host.id])
            host.ghost_ble_rounds.append(RoundRecord(host.now, False, heard, True, self.ballot))  # type: ignore[attr-defined]
            if not first:  # the first round's flags predate any evidence: elect from the next
                top = max([b for b, _ in qc] + [self.ballot])
                elected = self._check_leader(top)
        else:  # R4: not quorum-connected: not a candidate, no election this round
            self.quorum_connected = False
            self.candidates = frozenset()
            host.ghost_ble_rounds.append(RoundRecord(host.now, False, heard, False, self.ballot))  # type: ignore[attr-defined]
        if was != self.quorum_connected:
            host.note("ble_qc", quorum_connected=self.quorum_connected, heard=sorted(heard))
        self._new_round()
        return elected

    def _check_leader(self, top: Ballot) -> Ballot | None:
        host = self.host
        if self.leader is not None and top < self.leader:
            # R5a: the leader was not heard or is no longer quorum-connected: take over above it
            lost = self.leader
            self.leader = None
            self.increment(lost)
            host.note("ble_leader_lost", leader=lost, ballot=self.ballot)
            return None
        if top != self.leader:  # R5b: a new (higher) quorum-connected leader
            self.leader = top
            record = len(host.ghost_ble_rounds) - 1  # type: ignore[attr-defined]  # this round's end
            host.ghost_ble_elections.append((host.now, self.round, top, record))  # type: ignore[attr-defined]
            host.note("ble_leader", leader=top)
            return top
        return None  # the same leader: nothing to report

    def increment(self, above: Ballot) -> None:
        """Raise our ballot above ``above`` (and above our own); persisted before it can leave."""
        n = max(self.ballot.round, above.round) + 1
        self.ballot = Ballot(n, self.host.id)
        self.host.persist(ble_round=n)


# -- a node that runs BLE alone -------------------------------------------------------------------
@dataclass(frozen=True)
class BLEConfig(ProtocolConfig):
    """BLE on its own (no log): for tests and for watching elections. Not a Cluster protocol.

    Parameters
    ----------
    n : int
        Number of servers, >= 1.
    election_timeout : float
        Round length in ms (one election timeout), > 0.
    """

    n: int = 5
    election_timeout: float = 150.0

    def __post_init__(self) -> None:
        check_int("n", self.n, 1)
        check_float("election_timeout", self.election_timeout, 0.0, low_open=True)

    def make_node(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: np.random.Generator,
                  stable: dict) -> "BLENode":
        return BLENode(node_id, peers, rng, stable, self)

    def monitor(self) -> "BLEMonitor":
        return BLEMonitor(self.n)

    def leader(self, sim: Any) -> NodeId | None:
        """The server that the most live servers currently elect (None if none elects)."""
        votes: dict[NodeId, int] = {}
        for node in sim.nodes:
            if node is not None and node.ble.leader is not None:
                votes[node.ble.leader.proposer] = votes.get(node.ble.leader.proposer, 0) + 1
        return max(votes, key=lambda k: (votes[k], k)) if votes else None


class BLENode(Node):
    """A server that runs only :class:`BallotLeaderElection` (its ``ble`` attribute)."""

    def __init__(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: np.random.Generator,
                 stable: dict | None, config: BLEConfig) -> None:
        super().__init__(node_id, peers, rng, stable)
        self.config = config
        # ghost state for BLEMonitor (never read by the protocol; kept across restarts)
        self.ghost_ble_rounds: list[RoundRecord] = []
        self.ghost_ble_replies: list[tuple] = []
        self.ghost_ble_elections: list[tuple] = []

    def on_start(self) -> None:
        incarnation = int(self.stable.get("ble_incarnation", 0)) + 1
        self.persist(ble_incarnation=incarnation)
        n = max(1, int(self.stable.get("ble_round", 1)))
        self.ble = BallotLeaderElection(self, Ballot(n, self.id), self.config.election_timeout, incarnation)
        self.ble.start()

    def on_message(self, src: NodeId, msg: Any) -> None:
        match msg:
            case HeartbeatRequest():
                self.ble.on_request(src, msg)
            case HeartbeatReply():
                self.ble.on_reply(src, msg)
            case _:
                raise TypeError(f"node {self.id}: unexpected message {msg!r}")

    def on_timer(self, name: str) -> None:
        if name != "ble":
            raise ValueError(f"unknown timer {name!r}")
        self.ble.on_timeout()


# -- the monitor ----------------------------------------------------------------------------------
class BLEMonitor(Monitor):
    """BLE's safety properties, checked incrementally from ghost state (module docstring)."""

    def __init__(self, n: int) -> None:
        self.n = check_int("n", n, 1)
        self.majority = n // 2 + 1
        self._cursor = [(0, 0, 0)] * n  # (rounds, replies, elections) seen per node
        self._ballot: list[Ballot | None] = [None] * n  # last ballot seen in round records
        self._last_elected: list[tuple[int, Ballot] | None] = [None] * n  # (incarnation, ballot)
        self._replies: dict[tuple[NodeId, NodeId, Round], list[tuple[Ballot, bool]]] = {}

    def observe(self, sim: ClusterView) -> None:
        now = sim.now
        ghosts = sim.ghosts
        fresh: list[tuple[int, list, list, list]] = []
        for i in range(self.n):
            g = ghosts[i]
            rounds = g.get("ghost_ble_rounds")
            if rounds is None:
                continue
            replies, elections = g["ghost_ble_replies"], g["ghost_ble_elections"]
            cr, cp, ce = self._cursor[i]
            if cr == len(rounds) and cp == len(replies) and ce == len(elections):
                continue
            fresh.append((i, rounds, replies, elections))
        if not fresh:
            return
        # 1. round records: honest flag, ballot monotonic
        for i, rounds, _, _ in fresh:
            cr = self._cursor[i][0]
            for rec in rounds[cr:]:
                prev = self._ballot[i]
                if prev is not None and rec.ballot < prev:
                    raise SafetyViolation("BLE ballot monotonicity", f"node {i}: ballot {rec.ballot} after {prev}", now)
                self._ballot[i] = rec.ballot
                if not rec.start and rec.quorum_connected != (len(rec.heard) + 1 >= self.majority):
                    raise SafetyViolation(
                        "BLE quorum-connected flag", f"node {i} at t={rec.time}: flag {rec.quorum_connected} "
                        f"after hearing {sorted(rec.heard)} (majority {self.majority})", now)
        # 2. replies: a claim of quorum-connectivity is backed by the sender's last round end
        for i, rounds, replies, _ in fresh:
            cp = self._cursor[i][1]
            for time, to, rnd, ballot, qc, k in replies[cp:]:
                if qc:
                    last = rounds[k - 1] if k > 0 else None
                    if last is None or last.start or not last.quorum_connected:
                        raise SafetyViolation(
                            "BLE quorum-connected flag", f"node {i} claimed quorum-connectivity to {to} at "
                            f"t={time} without a round that heard a majority (last record: {last})", now)
                self._replies.setdefault((i, to, rnd), []).append((ballot, qc))
        # 3. elections: only quorum-connected candidates, one leader per ballot, monotonic
        for i, rounds, _, elections in fresh:
            ce = self._cursor[i][2]
            for time, rnd, ballot, k in elections[ce:]:
                owner = ballot.proposer
                if not 0 <= owner < self.n:
                    raise SafetyViolation("BLE one leader per ballot", f"node {i} elected {ballot}: no such server", now)
                if owner == i:
                    last = rounds[k]
                    if last.start or not last.quorum_connected or last.ballot != ballot:
                        raise SafetyViolation(
                            "BLE one leader per ballot", f"node {i} elected itself with {ballot} at t={time}, "
                            f"not its own quorum-connected ballot (last record: {last})", now)
                elif not any(b == ballot and qc for b, qc in self._replies.get((owner, i, rnd), ())):
                    raise SafetyViolation(
                        "BLE elects only quorum-connected servers", f"node {i} elected {ballot} at t={time} in round "
                        f"{rnd}, but {owner} never reported that ballot as quorum-connected to it in that round", now)
                before = self._last_elected[i]
                if before is not None and before[0] == rnd[0] and not ballot > before[1]:
                    raise SafetyViolation("BLE leader monotonicity", f"node {i} elected {ballot} after {before[1]}", now)
                self._last_elected[i] = (rnd[0], ballot)
        for i, rounds, replies, elections in fresh:
            self._cursor[i] = (len(rounds), len(replies), len(elections))
