"""Scripted Raft runs for notebook 04, its explorer and the scenario tests.

Theory of operation
-------------------
Nothing here is Raft: it is what a reader *does* with Raft. Each function builds a
:class:`~consensuslab.cluster.Cluster` (or drives its simulator directly), scripts a story —
the Figure 8 replay of the Raft paper, a leader crash, a partition and its repair, a random
fault run — and returns a small dataclass of what the notebook draws and prints:

:func:`invoke`
    call one handler of one node at a chosen moment (make it campaign, transfer leadership);
:func:`cluster_state`, :func:`log_frame`, :func:`roles_frame`
    snapshots of every server's log, commit index and role, as rows for the plots;
:func:`figure8_replay`
    Figure 8 of the Raft paper, step by step, with the current-term commit rule on or off;
:func:`membership_bug_replay`
    the 2015 single-server membership bug, step by step, with its fix on or off;
:func:`leader_crash_scenario`, :func:`partition_repair_scenario`, :func:`fault_injection_run`
    the stories of notebook 04 and :class:`~consensuslab.widgets.raft.RaftFaultExplorer`.

The protocol lives in :mod:`consensuslab.protocols.raft`; this module only drives it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from consensuslab._validate import check_choice, check_float, check_int, check_probability
from consensuslab.check import check_linearizable
from consensuslab.check.safety import SafetyViolation
from consensuslab.cluster import Cluster
from consensuslab.node import NodeId
from consensuslab.protocols.kv import ClientRequest, ClientResponse, Command
from consensuslab.protocols.raft import MembershipError, RaftError, RaftMonitor, RaftNode, Role

_LEADER = Role.LEADER

__all__ = [
    "invoke",
    "ClusterState",
    "cluster_state",
    "log_frame",
    "roles_frame",
    "fault_tally",
    "Figure8Replay",
    "figure8_replay",
    "MembershipReplay",
    "membership_bug_replay",
    "LeaderCrashRun",
    "leader_crash_scenario",
    "PartitionRepairRun",
    "partition_repair_scenario",
    "FaultRun",
    "fault_injection_run",
]


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
    #: per node: the configuration it uses (``str`` of its Membership), "" for a down node
    members: tuple[str, ...] = ()
    #: per node: the log indices that hold configuration entries
    config_entries: tuple[tuple[int, ...], ...] = ()


def cluster_state(sim: Any, label: str = "", caption: str = "") -> ClusterState:
    """Capture a :class:`ClusterState` of a simulator running :class:`RaftNode` s."""
    logs, commit, roles, terms, members, configs = [], [], [], [], [], []
    for i in range(sim.n):
        node = sim.nodes[i]
        if node is None:
            st = sim.storage[i]
            snap = st.get("snapshot")
            base = snap[0] if snap is not None else 0
            log = tuple(st.get("log", ()))
            logs.append((0,) * base + tuple(e.term for e in log))
            commit.append(0)
            roles.append("down")
            terms.append(int(st.get("term", 0)))
            members.append("")
        else:
            base = node.snapshot_index
            log = tuple(node.log)
            logs.append((0,) * base + tuple(e.term for e in log))
            commit.append(node.commit_index)
            roles.append(node.role.value)
            terms.append(node.term)
            members.append(str(node.membership))
        configs.append(tuple(base + 1 + k for k, e in enumerate(log) if getattr(e, "config", None) is not None))
    return ClusterState(label, caption, float(sim.now), tuple(logs), tuple(commit), tuple(roles), tuple(terms),
                        tuple(members), tuple(configs))


def log_frame(states: Iterable[ClusterState]) -> Any:
    """Tidy table of logs: one row per (stage, node, index) with ``term`` and ``committed``."""

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
        states.append(cluster_state(sim, "violation", f"{exc.invariant} violated: {exc.detail}"))
        return Figure8Replay(states, c, exc)
    return Figure8Replay(states, c, None)


@dataclass
class MembershipReplay:
    """The 2015 single-server bug, stage by stage (see :func:`membership_bug_replay`).

    ``violation`` is the monitor's :class:`~consensuslab.check.SafetyViolation` (``None`` if
    safety held); ``refusals`` the membership changes the leaders refused, as text.
    """

    states: list[ClusterState]
    cluster: Any
    violation: Any = None
    refusals: list[str] | None = None


def membership_bug_replay(membership_rule: bool = False, seed: int = 0) -> MembershipReplay:
    """Replay the 2015 single-server membership bug on servers ``S1..S5`` (ids 0..4).

    Ongaro reported it on the raft-dev list (July 2015, "bug in single-server membership
    changes"): two single-server changes that overlap across a leader change can leave two
    configurations whose majorities do not intersect. The story, with ``C0 = {S1..S4}``:

    (a) S1 leads term 1 and starts adding S5: ``C1 = {S1..S5}`` reaches only S5.
    (b) S1 crashes; S2 wins term 2 under ``C0`` (votes of S3, S4) and at once starts
        removing S1: ``C2 = {S2, S3, S4}``. Its AppendEntries reach only S3, but S2 and S3 are a
        majority of ``C2``, so ``C2`` commits — S2 never committed an entry of term 2 under
        ``C0`` first.
    (c) The network splits into {S1, S4, S5} and {S2, S3}; S1 restarts with ``C1`` in its log.
        S3 wins term 3 under ``C2`` (votes:
        S2, S3); S1 wins term 3 under ``C1`` (votes: S1, S4, S5 — S4 never saw term 2's entries,
        so S1's log looks up to date). Two leaders in term 3: the monitor raises Election
        Safety.

    With the fix (``membership_rule=True``) S2 refuses to start the change until its term-2
    no-op is committed under ``C0``, which takes S4; then S4's log holds term 2, S1 cannot get
    its vote, and only S3 leads term 3. Elections are started on purpose
    (:meth:`RaftNode.campaign`) under a long election timeout, as in :func:`figure8_replay`.

    Parameters
    ----------
    membership_rule : bool
        Whether leaders follow the fix (commit an entry of the current term before a change).
    seed : int
        Root seed.

    Returns
    -------
    MembershipReplay
    """

    if not isinstance(membership_rule, bool):
        raise TypeError(f"`membership_rule` must be a bool; got {membership_rule!r}.")
    c = Cluster("raft", n=5, seed=seed, latency=5.0, clients=0, check_every_step=True, trace=True,
                election_timeout=(5000.0, 6000.0), heartbeat=50.0, members=(0, 1, 2, 3),
                membership_rule=membership_rule)
    sim = c.sim
    states: list[ClusterState] = []
    refusals: list[str] = []
    nodes = cast("list[RaftNode | None]", sim.nodes)

    def node(i: NodeId) -> RaftNode:
        nd = nodes[i]
        if nd is None:
            raise RaftError(f"membership_bug_replay: S{i + 1} is down")
        return nd

    def until(pred: Any, what: str) -> None:
        if not sim.run_until(pred, timeout=1000.0):
            raise RaftError(f"membership_bug_replay: {what} did not happen")

    def remove_s1() -> bool:
        try:
            invoke(sim, 1, "propose_membership", "remove", 0)
        except MembershipError as exc:
            refusals.append(f"S2 refused to remove S1 at t={sim.now:.0f} ms: {exc}")
            return False
        return True

    try:
        invoke(sim, 0, "campaign")  # term 1: S1 leads C0 and commits its no-op everywhere
        until(lambda: all(node(i).commit_index >= 1 for i in range(4)), "index 1 committed")
        states.append(cluster_state(sim, "start", "S1 leads term 1 in C0 = {S1..S4}; index 1 committed"))
        sim.partition([0, 4], [1, 2, 3])  # (a) only S5 hears S1
        invoke(sim, 0, "propose_membership", "add_voter", 4)
        until(lambda: node(4).last_log_index == 2, "S5 receiving C1")
        states.append(cluster_state(sim, "a", "S1 appends C1 = {S1..S5}; it reaches only S5"))
        sim.crash(0)  # (b) S1 crashes; S2 wins term 2 under C0 with S3 and S4
        invoke(sim, 1, "campaign")
        until(lambda: node(1).role is _LEADER, "S2 elected in term 2")
        sim.cut_link(1, 3)  # S2's AppendEntries (its no-op, then C2) never reach S4
        if not remove_s1():  # the fix: first commit the term-2 no-op under C0 (needs S4)
            sim.partition([0, 4], [1, 2, 3])
            until(lambda: node(1).commit_index >= 2, "S2 committing its term-2 no-op")
            if not remove_s1():
                raise RaftError("membership_bug_replay: S2 still refuses the change")
        until(lambda: node(1).commit_index >= 3 and node(2).last_log_index >= 3, "C2 committed")
        states.append(cluster_state(sim, "b", "S2 leads term 2, appends C2 = {S2,S3,S4} and commits it "
                                               + ("with S3 alone" if not membership_rule else "after its no-op")))
        sim.partition([0, 3, 4], [1, 2])  # (c)
        sim.restart(0)  # S1 comes back with C1 in its log
        invoke(sim, 2, "campaign")  # S3: term 3 under C2, votes of S2 and S3
        until(lambda: node(2).role is _LEADER, "S3 elected in term 3")
        invoke(sim, 0, "campaign")  # S1: term 2 -- S4 already voted for S2
        sim.run_for(20.0)
        invoke(sim, 0, "campaign")  # S1: term 3 under C1
        sim.run_for(20.0)
        states.append(cluster_state(sim, "c", f"S3 leads term {node(2).term} under C2; S1 campaigned "
                                               f"up to term {node(0).term} under C1 and is a {node(0).role.value}"))
    except SafetyViolation as exc:
        states.append(cluster_state(sim, "violation", str(exc)))
        return MembershipReplay(states, c, exc, refusals)
    return MembershipReplay(states, c, None, refusals)


@dataclass
class LeaderCrashRun:
    """Outcome of :func:`leader_crash_scenario`.

    ``roles`` is the role timeline (:func:`roles_frame`), ``crashed`` the leaders crashed in
    order, ``leaders`` maps each term that had a leader to that leader's id, ``downtime`` holds,
    per crash, the ms from the crash until a new leader was elected (§5.2: an election timeout
    plus a vote round).
    """

    roles: Any
    crashed: list[NodeId]
    leaders: dict[int, NodeId]
    cluster: Any
    downtime: list[float] = field(default_factory=list)

    @property
    def max_leaders_per_term(self) -> int:
        """The most distinct servers that led one term (Election Safety: at most 1)."""
        led = self.roles[self.roles["role"] == "leader"]
        return int(led.groupby("term")["node"].nunique().max()) if len(led) else 0


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

    check_int("n", n, 1, 15)
    check_int("crashes", crashes, 0, (n - 1) // 2)
    check_int("commands", commands, 0)
    c = Cluster("raft", n=n, seed=seed, latency=latency, trace=True, check_every_step=True,
                election_timeout=election_timeout, heartbeat=heartbeat)
    if not c.run_until(lambda: c.leader() is not None, timeout=2000.0):
        raise RaftError("leader_crash_scenario: no initial leader")
    crashed: list[NodeId] = []
    downtime: list[float] = []
    for _ in range(crashes):
        for i in range(commands // 2):
            c.put(f"k{i}", i)
        leader = c.leader()
        if leader is None:
            raise RaftError("leader_crash_scenario: no leader to crash")
        crashed.append(leader)
        c.crash(leader)
        t_crash = c.now
        if not c.run_until(lambda: c.leader() is not None, timeout=3000.0):
            raise RaftError("leader_crash_scenario: no leader after a crash")
        downtime.append(float(c.now - t_crash))
        c.run_for(300.0)
    for i in crashed:
        c.restart(i)
    c.run_for(800.0)
    roles = roles_frame(c.trace, end=c.now)
    first = roles[roles["role"] == "leader"].groupby("term")["node"].first()
    leaders = {int(t): int(nd) for t, nd in first.items()}
    return LeaderCrashRun(roles, crashed, leaders, c, downtime)


@dataclass
class PartitionRepairRun:
    """Outcome of :func:`partition_repair_scenario`: the logs while partitioned and after
    healing, the old leader and its minority, and ``summary`` (the numbers printed)."""

    before: ClusterState
    after: ClusterState
    old_leader: NodeId
    minority: list[NodeId]
    summary: dict[str, Any]

    @property
    def discarded_cells(self) -> list[tuple[int, int]]:
        """``(server, 0-based log position)`` of the old leader's entries that were past its
        commit index while partitioned (the cells :func:`~consensuslab.plots.raft.log_grid`
        outlines)."""
        old = self.old_leader
        return [(old, k) for k in range(self.before.commit[old], len(self.before.logs[old]))]


class _PinnedClient:
    """A client that reaches one server only (it sits on that server's side of a partition).

    It sends each command once, never retries elsewhere, and records the answers, so what
    happens to its commands is exactly what that one server does with them.
    """

    def __init__(self, cluster: Cluster, node: NodeId) -> None:
        self.cluster = cluster
        self.node = node
        self.id = cluster.sim.add_client(self._on_reply)
        self.seq = 0
        self.answers: dict[int, ClientResponse] = {}

    def _on_reply(self, node: NodeId, resp: Any) -> None:
        if isinstance(resp, ClientResponse):
            self.answers[resp.seq] = resp

    def put(self, key: str, value: Any) -> int:
        self.seq += 1
        cmd = Command(self.id, self.seq, "put", key, value)
        self.cluster.sim.request(self.id, self.node, ClientRequest(self.id, self.seq, cmd))
        return self.seq

    @property
    def acknowledged(self) -> int:
        return sum(r.ok for r in self.answers.values())


def partition_repair_scenario(
    n: int = 5,
    seed: int = 2,
    commands: int = 6,
    latency: tuple[float, float] = (5.0, 15.0),
    heal_for: float = 1500.0,
) -> PartitionRepairRun:
    """Cut a leader off with one follower, let both sides take commands, heal, watch §5.3 repair.

    Three puts commit first. The old leader and the next server form the minority. A client on
    the minority side (it reaches only the old leader, and never retries elsewhere) sends
    ``commands // 2`` puts, 20 ms apart: the old leader, unaware it was cut off, appends every
    one and replicates it to its one follower, but can never commit it. The majority elects a
    new leader, and a client on that side commits ``commands // 2`` puts of its own. After
    healing for ``heal_for`` ms, Log Matching repair (§5.3) overwrites the old leader's
    uncommitted suffix: the minority's commands are discarded, never applied anywhere.

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
        ``summary`` holds ``"old leader"``, ``"sent to the old leader"`` (the minority client's
        commands), ``"acknowledged to the minority client"`` (0: none could commit),
        ``"uncommitted suffix"`` (entries past the old leader's commit index before healing),
        ``"replaced"`` (of them, how many hold another term after healing), ``"discarded
        commands applied"`` (of the minority's commands, how many any server applied: 0),
        ``"new term"`` (the term of the entries that replaced them), ``"log length before"``,
        ``"log length after"`` and ``"identical logs"`` (all servers' logs equal after healing).

    Raises
    ------
    RaftError
        If no leader (or no new leader on the majority side) is elected in time, or the
        majority's commands do not commit.
    """

    check_int("n", n, 3, 15)
    check_int("commands", commands, 0)
    heal_for = check_float("heal_for", heal_for, 0.0)
    c = Cluster("raft", n=n, seed=seed, latency=latency, clients=1, trace=True,
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
    lost = [f"lost{i}" for i in range(commands // 2)]
    minority_client = _PinnedClient(c, old)
    for value in lost:
        minority_client.put("x", value)  # reaches only the old leader
        c.run_for(20.0)
    if not c.run_until(lambda: c.leader() not in (None, old), timeout=3000.0):
        raise RaftError("partition_repair_scenario: the majority elected no new leader")
    new = c.leader()
    assert new is not None  # run_until above
    majority_client = _PinnedClient(c, new)
    for i in range(commands // 2):
        majority_client.put("y", i)
    if not c.run_until(lambda: majority_client.acknowledged == commands // 2, timeout=3000.0):
        raise RaftError("partition_repair_scenario: the majority's commands did not commit")
    before = cluster_state(c.sim, "partitioned", "during the partition")
    c.heal()
    c.run_for(heal_for)
    after = cluster_state(c.sim, "healed", "after healing")
    suffix = range(before.commit[old], len(before.logs[old]))
    applied = {cmd.value for i in range(n) for cmd in c.committed(i) if cmd.op != "noop"}
    summary = {
        "old leader": old,
        "sent to the old leader": len(lost),
        "acknowledged to the minority client": minority_client.acknowledged,
        "uncommitted suffix": len(suffix),
        "replaced": sum(i >= len(after.logs[old]) or after.logs[old][i] != before.logs[old][i]
                        for i in suffix),
        "discarded commands applied": sum(v in applied for v in lost),
        "new term": int(max(after.logs[old])) if after.logs[old] else 0,
        "log length before": len(before.logs[old]),
        "log length after": len(after.logs[old]),
        "identical logs": len(set(after.logs)) == 1,
    }
    return PartitionRepairRun(before, after, old, minority, summary)


def _pct(x: float) -> str:
    """A proportion as a percentage for people: 0 %, 0.4 %, 12 %, 100 %."""
    v = 100.0 * float(x)
    return f"{v:.1f} %" if 0 < v < 1 or 99 < v < 100 else f"{v:.0f} %"


def fault_tally(runs: Sequence[FaultRun]) -> pd.DataFrame:
    """What many :func:`fault_injection_run` s add up to, as a table for people.

    Counts are summed, proportions get a 95% Wilson interval (:func:`consensuslab.stats.wilson`:
    "0 of 20 runs" is an estimate, not a proof), and catch-up times are summarized over the runs
    that caught up (median, 90th percentile, slowest run; ``nan`` if none did) -- never summed,
    a sum of waits in different runs means nothing.

    Parameters
    ----------
    runs : sequence of FaultRun
        At least one run.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``quantity``; ``value`` holds the headline number (an int, or a float in ms)
        and ``shown`` the formatted text.

    Raises
    ------
    ValueError
        If ``runs`` is empty.
    """
    from consensuslab.stats import wilson

    if not runs:
        raise ValueError("`runs` must hold at least 1 FaultRun; got 0.")
    df = pd.DataFrame([r.summary for r in runs])
    k = len(df)

    def share(count: int) -> str:
        lo, hi = wilson(int(count), k)
        return f"{int(count)} of {k} ({_pct(lo)}–{_pct(hi)}, 95 % CI)"

    ops, acked = int(df["operations"].sum()), int(df["acknowledged"].sum())
    won = df["elections won"].astype(int)
    bad_safety = int((df["safety violations"] > 0).sum())
    bad_lin = int((~df["linearizable"].astype(bool)).sum())
    caught = int(df["caught up"].astype(bool).sum())
    times = df.loc[df["caught up"].astype(bool), "catch-up time (ms)"].to_numpy(dtype=float)
    q50, q90, q100 = np.quantile(times, [0.5, 0.9, 1.0]) if times.size else (np.nan,) * 3

    def ms(x: float) -> str:
        return "none caught up" if math.isnan(x) else f"{x:.0f} ms"

    rows = [
        ("runs", k, f"{k}"),
        ("operations issued", ops, f"{ops:,} ({ops / k:.0f} per run)"),
        ("acknowledged", acked, f"{acked:,} ({_pct(acked / max(ops, 1))})"),
        ("elections won per run", float(won.median()),
         f"median {won.median():g} (range {won.min()}–{won.max()})"),
        ("safety checks (one per simulator step)", int(df["steps checked"].sum()),
         f"{int(df['steps checked'].sum()):,}"),
        ("runs with a safety violation", bad_safety, share(bad_safety)),
        ("runs with a non-linearizable history", bad_lin, share(bad_lin)),
        ("runs in which every server caught up", caught, share(caught)),
        ("catch-up time, median", float(q50), ms(q50)),
        ("catch-up time, 90th percentile", float(q90), ms(q90)),
        ("catch-up time, slowest run", float(q100), ms(q100)),
    ]
    return pd.DataFrame({"quantity": [r[0] for r in rows],
                         "value": pd.Series([r[1] for r in rows], dtype=object),  # ints stay ints
                         "shown": [r[2] for r in rows]}).set_index("quantity")


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
