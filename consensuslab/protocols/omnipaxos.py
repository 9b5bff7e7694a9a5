"""Omni-Paxos: Ballot Leader Election driving the project's Multi-Paxos log replication.

Theory of operation
-------------------
Omni-Paxos separates *who leads* from *how the log is replicated* (Ng, Haridi & Carbone,
EuroSys 2023, §3). Leader election is :mod:`consensuslab.protocols.ble` (BLE): it elects the
quorum-connected server with the highest ballot, looking only at connectivity. Replication is
the Multi-Paxos of :mod:`consensuslab.protocols.multipaxos` (the paper's Sequence Paxos plays
this part): prepare once for every slot from the decided prefix on, then one accept round per
command. The two meet in ballots: a BLE ballot ``(n, pid)`` *is* the Paxos ballot a leader
prepares with, so BLE's total order on ballots is Paxos's.

:class:`OmniPaxosNode` subclasses :class:`~consensuslab.protocols.multipaxos.MultiPaxosNode` and
changes only leader election:

* no failure-detector timer: Multi-Paxos's election timer is never armed; BLE rounds run on the
  ``"ble"`` timer (one election timeout each);
* *Leader event for ourselves* (BLE R5b elects our ballot ``b``): run phase 1 with ``b``
  (``Prepare(b, decided_upto)``), resent every ``heartbeat`` ms to the servers that have not
  promised yet, until a majority promised — then Multi-Paxos's ``become_leader`` adopts the
  promises as usual. The paper's Sequence Paxos does this (§5: "upon ⟨Leader, b⟩ with
  ``b.pid = self`` and ``b > promise``: prepare");
* *Leader event for another server*: a leader or candidate with a lower ballot steps down;
  followers use the elected server as the leader hint they give clients;
* a leader keeps Multi-Paxos's heartbeat, but only for replication (re-sending accepts lost on
  the way, and ``decided_upto`` for catch-up), never as a failure detector.

Where the paper is silent (Sequence Paxos assumes FIFO sessions that re-synchronise after a
disconnection and has no rejections; the simulator loses messages and restarts servers), we
chose, in addition to BLE's own choices listed in :mod:`consensuslab.protocols.ble`:

C1 *stale own ballot*: BLE elects us with ``b`` but our own acceptor promised a higher ballot:
   raise our BLE ballot above that promise; BLE re-elects us with it a round later. (A ballot
   ``b`` equal to our promise is ours: phase 1 may run again with it, our own acceptor holds
   every value we proposed in it.)
C2 *rejection*: Multi-Paxos's ``Nack`` carries one more bit, ``orphaned``: the promise that
   rejects us belongs to a server that is not among the rejecting acceptor's quorum-connected
   candidates (crashed, or cut off). A rejected leader or candidate steps down; only if the
   promise is *orphaned* does it raise its BLE ballot above it. A rejection because of a live,
   quorum-connected leader never makes us fight it — in the chained scenario the old leader B
   is rejected by A on behalf of C, and stays quiet (the blog's point: no leader gossip).
C3 *reconcile*: at each round end, a quorum-connected server that BLE still elects (with its
   current ballot) but that lost its Paxos leadership runs phase 1 again with the same ballot;
   C1/C2 then decide whether it must climb. Without C2 and C3 a promise made to a candidate that
   crashed before anyone's BLE elected it would block the cluster forever.
C4 *majority quorums only*: BLE's quorum-connectivity is defined for majorities, so phases 1
   and 2 use majorities (no flexible quorums here).

Safety does not depend on any of this: it is Paxos's (promises and accepts are persisted before
the message that depends on them, ballots are unique and never reused). The monitor is
Multi-Paxos's (agreement per slot, State Machine Safety, validity, promise durability) together
with :class:`~consensuslab.protocols.ble.BLEMonitor` (BLE's flag honesty, quorum-connected
leaders, one leader per ballot, monotonic ballots).

References
----------
Ng, H., Haridi, S. and Carbone, P. (2023). Omni-Paxos: Breaking the Barriers of Partial
Connectivity. EuroSys '23, §3-§5.
Harrison, K. and Ng, H. (2023). How OmniPaxos handles partial connectivity - and why other
protocols can't. omnipaxos.com/blog (May 2023).

Examples
--------
>>> from consensuslab.cluster import Cluster
>>> c = Cluster("omnipaxos", n=3, seed=1)
>>> c.put("x", "1").ok, c.get("x").value
(True, '1')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from consensuslab._validate import check_float, check_int
from consensuslab.node import ClusterView, NodeId
from consensuslab.protocols.base import Monitor, ProtocolConfig
from consensuslab.protocols.ble import (
    BallotLeaderElection,
    BLEMonitor,
    HeartbeatReply,
    HeartbeatRequest,
    RoundRecord,
)
from consensuslab.protocols.multipaxos import MultiPaxosMonitor, MultiPaxosNode, Nack, Prepare, Role
from consensuslab.protocols.paxos import Ballot, Quorum, phase_quorums

__all__ = ["Rejected", "OmniPaxosConfig", "OmniPaxosNode", "OmniPaxosMonitor"]


@dataclass(frozen=True, slots=True)
class Rejected:
    """Multi-Paxos's ``Nack`` plus C2's bit: is the rejecting promise ``orphaned``?"""

    ballot: Ballot
    promised: Ballot
    orphaned: bool


@dataclass(frozen=True)
class OmniPaxosConfig(ProtocolConfig):
    """Omni-Paxos configuration (registered as ``"omnipaxos"``).

    Parameters
    ----------
    n : int
        Number of servers, >= 1.
    election_timeout : float
        BLE round length in ms (the paper's ``hb_delay``: one election timeout), > 0.
    heartbeat : float
        The leader's replication heartbeat in ms (re-sends, catch-up), > 0.
    catchup_batch : int
        Most decisions sent in answer to one ``CatchUp``.

    Raises
    ------
    ValueError, TypeError
        For a bad value or type.
    """

    n: int = 5
    election_timeout: float = 150.0
    heartbeat: float = 50.0
    catchup_batch: int = 64
    phase1: Quorum = field(init=False, repr=False, compare=False)
    phase2: Quorum = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = check_int("n", self.n, 1)
        check_float("election_timeout", self.election_timeout, 0.0, low_open=True)
        check_float("heartbeat", self.heartbeat, 0.0, low_open=True)
        check_int("catchup_batch", self.catchup_batch, 1)
        _, _, phase1, phase2 = phase_quorums(n, None, None, None, False)  # C4: majorities
        object.__setattr__(self, "phase1", phase1)
        object.__setattr__(self, "phase2", phase2)

    def make_node(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: np.random.Generator,
                  stable: dict) -> "OmniPaxosNode":
        return OmniPaxosNode(node_id, peers, rng, stable, self)

    def monitor(self) -> "OmniPaxosMonitor":
        return OmniPaxosMonitor(self)

    def leader(self, sim: Any) -> NodeId | None:
        """The live Paxos leader with the highest ballot (None if no server leads)."""
        best: tuple[Ballot, NodeId] | None = None
        for node in sim.nodes:
            if node is not None and node.role is Role.LEADER:
                if best is None or node.ballot > best[0]:
                    best = (node.ballot, node.id)
        return None if best is None else best[1]

    def applied(self, sim: Any, i: NodeId) -> list:
        """Client commands node ``i`` has applied, in slot order (no-ops left out)."""
        node = sim.nodes[i]
        return [c for c in node.log if c.client >= 0] if node is not None else []


class OmniPaxosNode(MultiPaxosNode):
    """Multi-Paxos replication led by Ballot Leader Election (see the module docstring)."""

    config: OmniPaxosConfig  # type: ignore[assignment]

    def __init__(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: np.random.Generator,
                 stable: dict | None, config: OmniPaxosConfig) -> None:
        super().__init__(node_id, peers, rng, stable, config)  # type: ignore[arg-type]
        # ghost state of BLE (for BLEMonitor; never read by the protocol; kept across restarts)
        self.ghost_ble_rounds: list[RoundRecord] = []
        self.ghost_ble_replies: list[tuple] = []
        self.ghost_ble_elections: list[tuple] = []

    def on_start(self) -> None:
        super().on_start()  # Multi-Paxos recovery (its election timer stays unarmed)
        incarnation = int(self.stable.get("ble_incarnation", 0)) + 1
        self.persist(ble_incarnation=incarnation)
        n = max(1, int(self.stable.get("ble_round", 1)), self.round)
        self.ble = BallotLeaderElection(self, Ballot(n, self.id), self.config.election_timeout, incarnation)
        self.ble.start()

    # -- BLE replaces the failure detector -------------------------------------------------------
    def _arm_election(self) -> None:
        """Multi-Paxos's failure detector is not used: BLE decides who leads."""

    def on_timer(self, name: str) -> None:
        match name:
            case "ble":  # BLE R4/R5: a round ends
                elected = self.ble.on_timeout()
                if elected is not None:
                    self._on_leader(elected)
                elif (self.ble.quorum_connected and self.ble.leader == self.ble.ballot
                      and self.role is Role.FOLLOWER):
                    self._on_leader(self.ble.ballot)  # C3: BLE still elects us; lead again
                self._drain()
            case "prepare":  # phase 1 not complete yet: ask the servers that have not promised
                if self.role is Role.CANDIDATE:
                    for dst in self.others:
                        if dst not in self.promises:
                            self.send(dst, Prepare(self.ballot, self.decided_upto))
                    self.set_timer("prepare", self.config.heartbeat)
                # else: phase 1 finished or abandoned
            case _:
                super().on_timer(name)

    def _on_leader(self, b: Ballot) -> None:
        """A BLE Leader event (or C3's reminder): follow it, or lead with ``b``."""
        if b.proposer != self.id:
            if self.role is not Role.FOLLOWER and b > self.ballot:
                self.become_follower(b.proposer)  # a higher quorum-connected leader was elected
            elif self.role is Role.FOLLOWER:
                self.leader_hint = b.proposer
            return
        if self.role is Role.LEADER and self.ballot == b:
            return  # already leading with this ballot
        if self.promised <= b:  # b is above our promise, or is our own promise (ours alone)
            self._campaign(b)
        else:  # C1: our own acceptor promised a higher ballot: climb above it first
            self.ble.increment(self.promised)

    def _campaign(self, b: Ballot) -> None:
        """Phase 1 with BLE's ballot ``b`` for every slot from our decided prefix on."""
        if self.role is Role.LEADER:
            self.become_follower(self.id)  # leading with an older ballot of ours: start afresh
        self.role = Role.CANDIDATE
        self.ballot = b
        self.round = max(self.round, b.round)
        self.seen_round = max(self.seen_round, b.round)
        self.persist(round=self.round)
        self.promises = {}
        self.leader_hint = None
        self.note("role", role="candidate", ballot=b)
        self._to_all(Prepare(b, self.decided_upto))
        self.set_timer("prepare", self.config.heartbeat)

    # -- messages --------------------------------------------------------------------------------
    def _dispatch(self, src: NodeId, msg: Any) -> None:
        match msg:
            case HeartbeatRequest():
                self.ble.on_request(src, msg)
            case HeartbeatReply():
                self.ble.on_reply(src, msg)
            case Rejected():
                self._on_rejected(src, msg)
            case _:
                super()._dispatch(src, msg)

    def _to(self, dst: NodeId, msg: Any) -> None:
        if type(msg) is Nack:  # C2: say whether the promise that rejects belongs to a live QC server
            msg = Rejected(msg.ballot, msg.promised, msg.promised.proposer not in self.ble.candidates)
        super()._to(dst, msg)

    def _on_rejected(self, src: NodeId, m: Rejected) -> None:
        self._saw(m.promised)
        if self.role is Role.FOLLOWER or m.ballot != self.ballot:
            return  # a rejection of a ballot we no longer use
        if m.orphaned and m.promised > self.ble.ballot:
            self.ble.increment(m.promised)  # C2: nobody alive holds that promise: climb above it
        self.become_follower(None if m.orphaned else m.promised.proposer)

    def __repr__(self) -> str:
        return (f"<OmniPaxosNode {self.id} {self.role.value} ballot={self.ballot} "
                f"ble={self.ble.ballot} leader={self.ble.leader} qc={self.ble.quorum_connected}>")


class OmniPaxosMonitor(Monitor):
    """Multi-Paxos's safety properties and BLE's, after every step.

    Most steps change nothing either monitor looks at (a heartbeat, a BLE reply), so the
    Multi-Paxos monitor runs only when some server's ghost records, applied log, promise or
    incarnation changed since the last step; its verdict is the same, it is only skipped when it
    would have had nothing new to read.
    """

    def __init__(self, config: OmniPaxosConfig) -> None:
        self.paxos = MultiPaxosMonitor(config)  # type: ignore[arg-type]
        self.ble = BLEMonitor(config.n)
        self._seen: list[tuple] = [()] * config.n

    def observe(self, sim: ClusterView) -> None:
        changed = False
        seen = self._seen
        nodes = sim.nodes
        for i, g in enumerate(sim.ghosts):
            node = nodes[i]
            sig = (len(g.get("ghost_requests", ())), len(g.get("ghost_accepts", ())), len(g.get("ghost_learned", ())),
                   id(node), 0 if node is None else len(node.log), None if node is None else node.promised)
            if sig != seen[i]:
                seen[i] = sig
                changed = True
        if changed:
            self.paxos.observe(sim)
        self.ble.observe(sim)
