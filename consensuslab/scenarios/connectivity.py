"""Partial-connectivity scenarios as data: named patterns of cut links, applied at given moments.

Theory of operation
-------------------
A :class:`ConnectivityPattern` names its servers by *role* (``"A"`` .. ``"E"`` as in the
Omni-Paxos paper and blog, ``"1"`` .. ``"5"`` as in Howard & Abraham), says which role leads
when the fault begins, and lists :class:`Step` s: at ``at`` election timeouts after the fault
begins, the links in ``cut`` fail in both directions (and the servers in ``crash`` fail). A run
maps roles onto node ids (the current leader takes the leader's role, the others are shuffled
with the run's seed) and :meth:`ConnectivityPattern.apply` cuts the links through the
simulator's ``cut_link`` and ``crash`` — nothing else changes, so any protocol can be put
through any pattern. :meth:`ConnectivityPattern.links` is what is left: a graph that
``consensuslab.plots.connectivity`` draws; :meth:`ConnectivityPattern.quorum_connected` lists
the servers connected to a majority (themselves included) once every step has happened.

The named patterns (:data:`PATTERNS`, looked up with :func:`get_pattern`):

``quorum-loss``
    5 servers, leader C. Every link among B, C, D and E fails; A stays connected to all. Only A
    is quorum-connected, and A still hears the leader C, which can no longer commit.
    Omni-Paxos paper §2 and Figure 1a; blog "Quorum-Loss Scenario"; topology exactly as the
    paper's experiment builds it (``omnipaxos-artifacts``, ``client.rs``,
    ``NetworkScenario::QuorumLoss``: the first follower stays fully connected, every other pair
    is disconnected).
``constrained-election``
    5 servers, leader C. First A-C fails while everything else works, so C keeps committing with
    B, D and E and A's log falls behind; half an election timeout later C is cut from everyone
    and B, D, E from each other. A, the only quorum-connected server, has the oldest log. Paper
    §2 and Figure 1b; blog "Constrained-Election Scenario"; the two steps and the lag of
    ``election_timeout / 2`` are the artifact's (``NetworkScenario::ConstrainedElection``,
    ``LAGGING_DELAY_FACTOR = 2``). The blog's figure shows only B and E ahead of A; in the
    artifact all three are, and so here.
``chained``
    3 servers, leader B. B-C fails; A still reaches both. Paper §2 and Figure 1c; blog
    "Chained Scenario" (3 servers, B the leader); artifact ``NetworkScenario::Chained``.
``ha-disruptive``
    5 servers, leader 3. 1, 2, 3 fully connected; 4 reaches only 2; 5 reaches only 3. Howard &
    Abraham (2020), first example: plain Raft never keeps a stable leader; Pre-Vote fixes it.
``ha-prevote-deadlock``
    5 servers, leader 4. 1, 2, 3 fully connected; 4 reaches only 2; 5 has failed. Howard &
    Abraham (2020), second example: Raft with Pre-Vote alone deadlocks (2 still hears the
    leader 4 and refuses every pre-vote); CheckQuorum makes 4 step down. The paper does not say
    when 5 failed: here it crashes together with the cuts (*reconstructed*).

Timing of the fault relative to the heartbeats, the log contents beyond what is stated above,
and which follower takes which role are not given by the sources: a run draws them from its
seed. Every pattern records its source and what was reconstructed.

:func:`run_pattern` puts a protocol through a pattern (the trial of
:mod:`consensuslab.experiments.partial_connectivity`); :func:`role_timeline` and :func:`story`
turn a traced run into the step-through of notebook 12.

Examples
--------
>>> p = get_pattern("quorum-loss")
>>> p.quorum_connected(), p.links()[:2]
(['A'], [('A', 'B'), ('A', 'C')])
>>> run = run_pattern("chained", "omnipaxos", seed=5, cap=6.0)
>>> run.role_of[run.cluster.leader()], bool(run.downtime < run.election_timeout)
('C', True)
>>> get_pattern("split-brain")
Traceback (most recent call last):
...
ValueError: `scenario` must be one of ['quorum-loss', 'constrained-election', 'chained', 'ha-disruptive', 'ha-prevote-deadlock']; got 'split-brain'.

References
----------
Ng, H., Haridi, S. and Carbone, P. (2023). Omni-Paxos: Breaking the Barriers of Partial
Connectivity. EuroSys '23, §2, Figure 1; §7.2, Figure 7. Artifact: github.com/haraldng/
omnipaxos-artifacts (``kompact/src/bench/atomic_broadcast/client.rs``, ``util.rs``).
Harrison, K. and Ng, H. (2023). How OmniPaxos handles partial connectivity - and why other
protocols can't. omnipaxos.com/blog.
Howard, H. and Abraham, I. (2020). Raft does not Guarantee Liveness in the face of Network
Faults. decentralizedthoughts.github.io, 2020-12-12.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from consensuslab._validate import check_bool, check_choice, check_float, check_int, describe
from consensuslab.cluster import ClientOp, Cluster

__all__ = [
    "Step",
    "ConnectivityPattern",
    "PATTERNS",
    "OMNI_SCENARIOS",
    "HA_SCENARIOS",
    "get_pattern",
    "make_pattern",
    "VARIANTS",
    "LABELS",
    "cluster_options",
    "ConnectivityRun",
    "run_pattern",
    "role_timeline",
    "leader_timeline",
    "story",
]

Link = tuple[str, str]


@dataclass(frozen=True)
class Step:
    """What fails ``at`` election timeouts after the fault begins: links (both ways), servers."""

    at: float
    cut: tuple[Link, ...] = ()
    crash: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class ConnectivityPattern:
    """A named partial-connectivity fault (see the module docstring).

    Parameters
    ----------
    name, title : str
        Identifier and a one-line description.
    servers : tuple of str
        Role names, one per server.
    leader : str
        The role that leads when the fault begins.
    steps : tuple of Step
        What fails and when (``at`` in election timeouts, non-decreasing, the first at 0).
    log_state : str
        What the logs look like at the fault.
    source : str
        Where the topology, the log state and the timing come from.
    reconstructed : str
        What the sources leave open and was chosen here ("" if nothing).
    lagging : str or None
        A role whose log must be behind the others' when the last step happens.
    layout : mapping
        Role -> (x, y) for drawing (default: a circle).

    Raises
    ------
    ValueError
        A step names a server that is not in ``servers`` (the message lists the valid ones),
        the leader is unknown, a link joins a server to itself, or the steps are out of order.
    """

    name: str
    title: str
    servers: tuple[str, ...]
    leader: str
    steps: tuple[Step, ...]
    log_state: str = ""
    source: str = ""
    reconstructed: str = ""
    lagging: str | None = None
    layout: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        servers = tuple(str(s) for s in self.servers)
        if len(servers) < 2 or len(set(servers)) != len(servers):
            raise ValueError(f"`servers` must be at least 2 distinct names; got {self.servers!r}.")
        object.__setattr__(self, "servers", servers)
        valid = sorted(servers)

        def known(role: Any, what: str) -> str:
            if str(role) not in servers:
                raise ValueError(f"{what} names an unknown server {role!r}; the servers of {self.name!r} are {valid}.")
            return str(role)

        known(self.leader, "`leader`")
        if self.lagging is not None:
            known(self.lagging, "`lagging`")
        if not self.steps:
            raise ValueError(f"`steps` must hold at least one Step; got {self.steps!r}.")
        last = 0.0
        for k, step in enumerate(self.steps):
            if not isinstance(step, Step):
                raise TypeError(f"`steps[{k}]` must be a Step; got {describe(step)}.")
            at = check_float(f"steps[{k}].at", step.at, 0.0)
            if at < last:
                raise ValueError(f"`steps` must be in time order; step {k} at {at} comes after {last}.")
            last = at
            for a, b in step.cut:
                known(a, f"`steps[{k}].cut`")
                known(b, f"`steps[{k}].cut`")
                if str(a) == str(b):
                    raise ValueError(f"`steps[{k}].cut` links {a!r} to itself.")
            for s in step.crash:
                known(s, f"`steps[{k}].crash`")
        if self.steps[0].at != 0:
            raise ValueError(f"the first step must happen at 0 (the fault); got {self.steps[0].at}.")
        for role in self.layout:
            known(role, "`layout`")

    # -- the graph ---------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.servers)

    @property
    def duration(self) -> float:
        """Election timeouts from the first step to the last."""
        return self.steps[-1].at

    def cut_links(self, upto: int | None = None) -> frozenset[frozenset[str]]:
        """Links cut by steps ``0 .. upto`` (all by default), as unordered pairs."""
        steps = self.steps if upto is None else self.steps[: check_int("upto", upto, 0, len(self.steps) - 1) + 1]
        return frozenset(frozenset((str(a), str(b))) for s in steps for a, b in s.cut)

    def crashed(self, upto: int | None = None) -> frozenset[str]:
        steps = self.steps if upto is None else self.steps[: upto + 1]
        return frozenset(str(x) for s in steps for x in s.crash)

    def links(self, upto: int | None = None) -> list[Link]:
        """Links still working after steps ``0 .. upto`` (crashed servers have none)."""
        cut, down = self.cut_links(upto), self.crashed(upto)
        return [(a, b) for a, b in combinations(self.servers, 2)
                if frozenset((a, b)) not in cut and a not in down and b not in down]

    def quorum_connected(self, upto: int | None = None) -> list[str]:
        """Servers that reach a majority, themselves included, after steps ``0 .. upto``."""
        majority = self.n // 2 + 1
        degree = {s: 1 for s in self.servers if s not in self.crashed(upto)}
        for a, b in self.links(upto):
            degree[a] += 1
            degree[b] += 1
        return [s for s in self.servers if degree.get(s, 0) >= majority]

    def positions(self) -> dict[str, tuple[float, float]]:
        """Drawing positions: the pattern's layout, else a circle (first server on top)."""
        if self.layout:
            return {s: tuple(self.layout[s]) for s in self.servers}  # type: ignore[misc]
        angles = np.pi / 2 - 2 * np.pi * np.arange(self.n) / self.n
        return {s: (float(np.cos(t)), float(np.sin(t))) for s, t in zip(self.servers, angles)}

    # -- running it ----------------------------------------------------------------------------
    def assign(self, leader: int, ids: Sequence[int], rng: np.random.Generator | None = None) -> dict[str, int]:
        """Map roles to node ids: ``leader`` takes the leader's role, the rest are shuffled.

        Parameters
        ----------
        leader : int
            The node leading now.
        ids : sequence of int
            All node ids (``len(ids) == n``).
        rng : numpy.random.Generator, optional
            Shuffles the followers' roles (None: in id order).
        """
        ids = [int(i) for i in ids]
        if len(ids) != self.n or len(set(ids)) != self.n:
            raise ValueError(f"`ids` must be {self.n} distinct node ids for {self.name!r}; got {ids}.")
        if leader not in ids:
            raise ValueError(f"`leader` must be one of {ids}; got {leader!r}.")
        others = [i for i in ids if i != leader]
        if rng is not None:
            others = [others[k] for k in rng.permutation(len(others))]
        roles = [s for s in self.servers if s != self.leader]
        return {self.leader: leader, **dict(zip(roles, others))}

    def apply(self, target: Any, mapping: Mapping[str, int], step: int) -> None:
        """Make step ``step`` happen on ``target`` (a Cluster or a Simulator): cut, then crash."""
        s = self.steps[check_int("step", step, 0, len(self.steps) - 1)]
        missing = [r for r in self.servers if r not in mapping]
        if missing:
            raise ValueError(f"`mapping` must map every server of {self.name!r}; missing {missing}.")
        for a, b in s.cut:
            target.cut_link(mapping[a], mapping[b], both=True)
        for x in s.crash:
            target.crash(mapping[x])

    def describe_links(self) -> str:
        """One line: what fails (for tables and titles)."""
        parts = []
        for s in self.steps:
            cut = ", ".join(f"{a}-{b}" for a, b in s.cut)
            crash = f"; {', '.join(s.crash)} crash" if s.crash else ""
            parts.append(f"t={s.at:g} ET: cut {cut}{crash}")
        return " | ".join(parts)


def make_pattern(name: str, servers: Iterable[str], leader: str, cut: Iterable[tuple[str, str]],
                 crash: Iterable[str] = (), title: str = "", **kwargs: Any) -> ConnectivityPattern:
    """A one-step pattern from a list of cut links (validated: unknown servers are named)."""
    links: tuple[Link, ...] = tuple((str(a), str(b)) for a, b in cut)
    return ConnectivityPattern(name=name, title=title or name, servers=tuple(servers), leader=leader,
                               steps=(Step(0.0, links, tuple(crash)),), **kwargs)


def _pairs(roles: str) -> tuple[Link, ...]:
    return tuple(combinations(roles, 2))


_OMNI = "Ng, Haridi & Carbone, Omni-Paxos, EuroSys 2023"
_BLOG = "Harrison & Ng, omnipaxos.com blog, May 2023"
_ARTIFACT = "haraldng/omnipaxos-artifacts, kompact/src/bench/atomic_broadcast/client.rs (create_partition)"
_HA = "Howard & Abraham, Raft does not Guarantee Liveness in the face of Network Faults, 2020"

PATTERNS: dict[str, ConnectivityPattern] = {
    p.name: p
    for p in (
        ConnectivityPattern(
            name="quorum-loss",
            title="Quorum loss: only A, which still hears leader C, reaches a majority",
            servers=("A", "B", "C", "D", "E"),
            leader="C",
            steps=(Step(0.0, _pairs("BCDE"), note="every link among B, C, D, E fails"),),
            log_state="all logs equal at the fault (A, B, D, E up to date with the leader C)",
            source=f"{_OMNI}, §2 and Figure 1a; {_BLOG}, 'Quorum-Loss Scenario'; {_ARTIFACT}, NetworkScenario::QuorumLoss",
            reconstructed="",
            layout={"A": (0.0, 0.0), "B": (-1.0, 0.8), "C": (1.0, 0.8), "D": (-1.0, -0.8), "E": (1.0, -0.8)},
        ),
        ConnectivityPattern(
            name="constrained-election",
            title="Constrained election: the only quorum-connected server, A, has the oldest log",
            servers=("A", "B", "C", "D", "E"),
            leader="C",
            steps=(
                Step(0.0, (("A", "C"),), note="A loses the leader: C commits with B, D, E; A falls behind"),
                Step(0.5, (("B", "C"), ("C", "D"), ("C", "E"), ("B", "D"), ("B", "E"), ("D", "E")),
                     note="C isolated; B, D, E lose each other"),
            ),
            log_state="A misses what C commits with B, D and E during the first half election timeout",
            source=(f"{_OMNI}, §2 and Figure 1b; {_BLOG}, 'Constrained-Election Scenario'; {_ARTIFACT}, "
                    "NetworkScenario::ConstrainedElection (lag = election timeout / LAGGING_DELAY_FACTOR = 2, util.rs)"),
            reconstructed="the blog's figure has only B and E ahead of A; as in the artifact, B, D and E all are",
            lagging="A",
            layout={"A": (0.0, 0.0), "B": (-1.0, 0.8), "C": (1.0, 0.8), "D": (-1.0, -0.8), "E": (1.0, -0.8)},
        ),
        ConnectivityPattern(
            name="chained",
            title="Chained: B (leader) and C lose each other; A still reaches both",
            servers=("A", "B", "C"),
            leader="B",
            steps=(Step(0.0, (("B", "C"),), note="the leader B and C disconnect"),),
            log_state="all logs equal at the fault",
            source=f"{_OMNI}, §2 and Figure 1c; {_BLOG}, 'Chained Scenario'; {_ARTIFACT}, NetworkScenario::Chained",
            reconstructed="",
            layout={"A": (0.0, 0.9), "B": (-1.0, 0.0), "C": (1.0, 0.0)},
        ),
        ConnectivityPattern(
            name="ha-disruptive",
            title="Howard & Abraham 1: 4 reaches only 2, 5 only 3; 1, 2, 3 fully connected",
            servers=("1", "2", "3", "4", "5"),
            leader="3",
            steps=(Step(0.0, (("1", "4"), ("3", "4"), ("4", "5"), ("1", "5"), ("2", "5"))),),
            log_state="all logs equal at the fault",
            source=f"{_HA}, first example (Raft without Pre-Vote: no stable leader)",
            reconstructed="",
            layout={"1": (0.0, 1.0), "2": (-0.9, 0.0), "3": (0.9, 0.0), "4": (-0.9, -1.1), "5": (0.9, -1.1)},
        ),
        ConnectivityPattern(
            name="ha-prevote-deadlock",
            title="Howard & Abraham 2: leader 4 reaches only 2; 5 has failed",
            servers=("1", "2", "3", "4", "5"),
            leader="4",
            steps=(Step(0.0, (("1", "4"), ("3", "4")), crash=("5",)),),
            log_state="all logs equal at the fault",
            source=f"{_HA}, second example (Raft with Pre-Vote but without CheckQuorum deadlocks)",
            reconstructed="when 5 failed is not stated: it crashes together with the cuts",
            layout={"1": (0.0, 1.0), "2": (-0.9, 0.0), "3": (0.9, 0.0), "4": (-0.9, -1.1), "5": (0.9, -1.1)},
        ),
    )
}

#: The three scenarios of the Omni-Paxos paper, and the two of Howard & Abraham.
OMNI_SCENARIOS: tuple[str, ...] = ("quorum-loss", "constrained-election", "chained")
HA_SCENARIOS: tuple[str, ...] = ("ha-disruptive", "ha-prevote-deadlock")


def get_pattern(name: str | ConnectivityPattern) -> ConnectivityPattern:
    """The named pattern (a pattern is returned as is); ``ValueError`` lists the valid names."""
    if isinstance(name, ConnectivityPattern):
        return name
    if not isinstance(name, str) or name not in PATTERNS:
        raise ValueError(f"`scenario` must be one of {list(PATTERNS)}; got {describe(name)}.")
    return PATTERNS[name]


# -- running a pattern ------------------------------------------------------------------------

#: Protocol variants the experiments compare: name -> (Cluster protocol, options).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "raft": ("raft", {}),
    "raft-pv": ("raft", {"pre_vote": True}),
    "raft-pv-cq": ("raft", {"pre_vote": True, "check_quorum": True}),
    "multipaxos": ("multipaxos", {}),
    "omnipaxos": ("omnipaxos", {}),
}
LABELS: dict[str, str] = {
    "raft": "Raft",
    "raft-pv": "Raft PV",
    "raft-pv-cq": "Raft PV+CQ",
    "multipaxos": "Multi-Paxos",
    "omnipaxos": "Omni-Paxos",
}


def cluster_options(protocol: str, election_timeout: float = 150.0,
                    heartbeat: float | None = None) -> tuple[str, dict[str, Any]]:
    """The :class:`~consensuslab.cluster.Cluster` protocol and options of a variant.

    One election timeout ``ET`` means the same for every protocol: Raft and Multi-Paxos draw
    their timeouts uniformly from ``[ET, 2 ET]`` (the randomization of the Raft paper and of
    the TiKV Raft library the Omni-Paxos experiments used); Omni-Paxos runs one BLE round per
    ``ET`` (its ``hb_delay``). Leaders send heartbeats every ``heartbeat`` ms (default ET / 3).
    """
    check_choice("protocol", protocol, list(VARIANTS))
    et = check_float("election_timeout", election_timeout, 0.0, low_open=True)
    hb = et / 3 if heartbeat is None else check_float("heartbeat", heartbeat, 0.0, low_open=True)
    if hb >= et:
        raise ValueError(f"`heartbeat` must be < election_timeout = {et}; got {hb}.")
    name, extra = VARIANTS[protocol]
    if name == "raft":
        return name, {"election_timeout": (et, 2 * et), "heartbeat": hb, **extra}
    if name == "multipaxos":
        return name, {"leader_timeout": (et, 2 * et), "heartbeat": hb, **extra}
    return name, {"election_timeout": et, "heartbeat": hb, **extra}


def _leader_key(cluster: Cluster) -> tuple[int, Any] | None:
    """(leader id, its term or ballot): a new key is a new leadership."""
    lead = cluster.leader()
    if lead is None:
        return None
    node = cluster.node(lead)
    return (lead, node.term if hasattr(node, "term") else node.ballot)


def _log_length(node: Any) -> int:
    if hasattr(node, "last_log_index"):  # Raft
        return int(node.last_log_index)
    return max([*node.accepted, *node.decided], default=-1) + 1  # Multi-Paxos / Omni-Paxos slots


@dataclass
class ConnectivityRun:
    """One protocol put through one pattern (see :func:`run_pattern`); times in ms.

    ``t_start`` is the first step, ``t_fault`` the last (the pattern complete: downtime counts
    from here), ``t_end = t_fault + cap * election_timeout``. ``probes`` are the client
    operations submitted at ``t_fault``; ``load`` the background operations; ``leaders`` the
    ``(time, (leader, term or ballot))`` changes from ``t_fault`` on (``None``: no leader);
    ``lag`` how many entries the ``lagging`` role missed at ``t_fault`` (None if none).
    """

    pattern: ConnectivityPattern
    protocol: str
    seed: int
    election_timeout: float
    cluster: Cluster
    mapping: dict[str, int]
    t_start: float
    t_fault: float
    t_end: float
    probes: list[ClientOp]
    load: list[ClientOp]
    leaders: list[tuple[float, tuple[int, Any] | None]]
    lag: int | None
    violation: str = ""

    @property
    def role_of(self) -> dict[int, str]:
        return {i: r for r, i in self.mapping.items()}

    @property
    def downtime(self) -> float:
        """ms from ``t_fault`` to the first probe's reply (``inf``: none within the cap)."""
        done = [op.ret for op in self.probes if op.ok and op.ret is not None and op.ret <= self.t_end]
        return min(done) - self.t_fault if done else float("inf")

    def completions(self) -> np.ndarray:
        """Reply times (ms after ``t_fault``) of every operation answered in the window."""
        t = [op.ret - self.t_fault for op in (*self.load, *self.probes)
             if op.ok and op.ret is not None and self.t_fault < op.ret <= self.t_end]
        return np.sort(np.asarray(t, dtype=float))


def run_pattern(
    scenario: str | ConnectivityPattern,
    protocol: str,
    seed: int = 0,
    *,
    election_timeout: float = 150.0,
    heartbeat: float | None = None,
    latency: float | tuple[float, float] = (5.0, 15.0),
    cap: float = 20.0,
    probes: int = 3,
    load: int = 2,
    check: bool = True,
    trace: bool = False,
) -> ConnectivityRun:
    """Put ``protocol`` through ``scenario``: warm up, inject the pattern, watch ``cap`` timeouts.

    The story: ``load`` clients put values back to back from the start (the background load that
    makes logs grow, so a server cut from the leader falls behind); once a leader has answered 3
    of them, the run waits a uniformly random fraction of an election timeout (so the fault
    lands anywhere in the heartbeat and BLE periods), maps the pattern's roles onto the nodes
    (the current leader takes the leader's role, the others are shuffled) and performs its
    steps. When the last step has happened (``t_fault``) ``probes`` fresh clients each submit one
    put: the first reply to any of them ends the downtime. The run then continues to
    ``t_fault + cap`` election timeouts whatever happens, recording every leader change.

    Parameters
    ----------
    scenario : str or ConnectivityPattern
        A name in :data:`PATTERNS` (or a pattern).
    protocol : str
        A name in :data:`VARIANTS`.
    seed : int
        Seeds the cluster, the fault's phase and the role mapping.
    election_timeout, heartbeat : float
        See :func:`cluster_options` (ms).
    latency : float or (float, float)
        One-way message delay (ms): constant or uniform range.
    cap : float
        Observation window after ``t_fault``, in election timeouts.
    probes, load : int
        Probe clients (one put each at ``t_fault``) and background clients.
    check : bool
        Run the protocol's safety monitor after every simulator step.
    trace : bool
        Keep the full trace (for :func:`role_timeline`).

    Returns
    -------
    ConnectivityRun

    Raises
    ------
    ValueError
        An unknown scenario or protocol (the message lists the valid ones), or a bad number.
    """
    pattern = get_pattern(scenario)
    name, options = cluster_options(protocol, election_timeout, heartbeat)
    seed = check_int("seed", seed, 0)
    cap = check_float("cap", cap, 0.0, low_open=True)
    probes = check_int("probes", probes, 1)
    load = check_int("load", load, 0)
    check_bool("check", check)
    et = float(election_timeout)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7, 1)))
    window = cap * et
    hb = options["heartbeat"]
    c = Cluster(name, n=pattern.n, seed=seed, latency=latency, clients=load + probes, client_timeout=hb,
                op_timeout=window + 10 * et + pattern.duration * et, redirect_backoff=hb / 5,
                check_every_step=check, trace=trace, **options)
    background = [c.submit("put", f"load{k}", str(j), client=k) for j in range(400) for k in range(load)]
    warm = c.run_until(lambda: c.leader() is not None and sum(op.ok for op in background) >= 3 * min(load, 1),
                       timeout=40 * et)
    if not warm:
        raise RuntimeError(f"no leader served the warm-up load within {40 * et} ms "
                           f"(replay: run_pattern({pattern.name!r}, {protocol!r}, seed={seed}))")
    c.run_for(float(rng.uniform(0.0, et)))
    c.run_until(lambda: c.leader() is not None, timeout=40 * et)
    lead = c.leader()
    assert lead is not None, "the leader vanished during the warm-up"
    mapping = pattern.assign(lead, range(pattern.n), rng)
    t_start = c.now
    for k, step in enumerate(pattern.steps):
        c.sim.run_until_time(max(c.now, t_start + step.at * et))
        pattern.apply(c, mapping, k)
    t_fault = c.now
    lag = None
    if pattern.lagging is not None:
        behind = c.node(mapping[pattern.lagging])
        ahead = [c.node(mapping[r]) for r in pattern.servers if r not in (pattern.lagging, pattern.leader)]
        if behind is not None and all(x is not None for x in ahead):
            lag = min(_log_length(x) for x in ahead) - _log_length(behind)
    probe_ops = [c.submit("put", f"probe{j}", "after the fault", client=load + j) for j in range(probes)]
    leaders: list[tuple[float, tuple[int, Any] | None]] = [(t_fault, _leader_key(c))]

    def watch(_sim: Any) -> None:
        key = _leader_key(c)
        if key != leaders[-1][1]:
            leaders.append((c.now, key))

    c.sim.step_hooks.append(watch)
    violation = ""
    from consensuslab.check.safety import SafetyViolation

    try:
        c.run_for(window)
    except SafetyViolation as exc:  # never expected: recorded so that a study can report it
        violation = f"{exc.invariant}: {exc}"
    return ConnectivityRun(pattern, protocol, seed, et, c, mapping, t_start, t_fault, t_fault + window,
                           probe_ops, background, leaders, lag, violation)


def leader_timeline(run: ConnectivityRun) -> list[tuple[float, float, str]]:
    """``(start, end, role of the leader or "none")`` intervals from ``t_fault``, in ms after it."""
    out = []
    marks = run.leaders + [(run.t_end, None)]
    for (t, key), (t2, _) in zip(marks[:-1], marks[1:]):
        who = "none" if key is None else run.role_of[key[0]]
        out.append((t - run.t_fault, t2 - run.t_fault, who))
    return out


def role_timeline(run: ConnectivityRun) -> pd.DataFrame:
    """Each server's role over time (needs ``trace=True``): one row per interval.

    Columns ``role`` (the pattern's name for the server), ``node``, ``state`` (``leader``,
    ``candidate``, ``pre_candidate``, ``follower`` or ``down``), ``start``, ``end`` (ms after
    ``t_fault``; the story starts one election timeout before the first step) and ``term``
    (Raft's term or the Paxos ballot, when the protocol reports it).
    """
    if not run.cluster.trace.enabled:
        raise ValueError("`run` must come from run_pattern(..., trace=True) to have a role timeline.")
    origin = run.t_start - run.election_timeout
    state = {i: ("follower", None, origin) for i in range(run.pattern.n)}
    rows = []

    def close(i: int, t: float) -> None:
        s, term, since = state[i]
        if t > since:
            rows.append((run.role_of[i], i, s, since, t, term))

    for time, event, node, _peer, kind, detail, _mid in run.cluster.trace.records:
        if time > run.t_end or node is None:
            continue
        if event == "note" and kind == "role":
            new = detail.get("role")
            term = detail.get("term", detail.get("ballot"))
        elif event == "crash":
            new, term = "down", None
        elif event == "restart":
            new, term = "follower", None
        else:
            continue
        if time < origin:
            state[node] = (new, term, origin)
            continue
        close(node, time)
        state[node] = (new, term if term is not None else state[node][1], time)
    for i in range(run.pattern.n):
        close(i, run.t_end)
    df = pd.DataFrame(rows, columns=["role", "node", "state", "start", "end", "term"])
    df[["start", "end"]] -= run.t_fault
    return df


def story(run: ConnectivityRun, label: str | None = None) -> str:
    """What happened in ``run``, in a few lines computed from it (for the step-throughs).

    Lists the leaders after the fault with their term or ballot and the time they appeared (in
    election timeouts), when the first new command was committed, and how far each server's
    term or ballot climbed — the signature of disruption.
    """
    et = run.election_timeout
    who = label or LABELS.get(run.protocol, run.protocol)
    roles = run.role_of
    lines = [f"{who} in {run.pattern.name} (roles -> nodes: "
             + ", ".join(f"{r}={i}" for r, i in sorted(run.mapping.items())) + ")"]
    changes = []
    for t, key in run.leaders:
        if key is None:
            changes.append(f"{(t - run.t_fault) / et:.1f} ET: no leader")
        else:
            changes.append(f"{(t - run.t_fault) / et:.1f} ET: {roles[key[0]]} leads ({key[1]})")
    if len(changes) > 12:
        changes = changes[:6] + [f"... {len(changes) - 10} more changes ..."] + changes[-4:]
    lines.append("leaders: " + "; ".join(changes))
    down = run.downtime
    lines.append(f"first command submitted after the fault committed after {down / et:.1f} ET" if np.isfinite(down)
                 else f"no command submitted after the fault was committed in {(run.t_end - run.t_fault) / et:.0f} ET")
    climb = []
    for r in run.pattern.servers:
        node = run.cluster.node(run.mapping[r])
        if node is None:
            climb.append(f"{r}: down")
        elif hasattr(node, "term"):
            climb.append(f"{r}: term {node.term}")
        elif hasattr(node, "ble"):
            climb.append(f"{r}: BLE ballot {node.ble.ballot}, promised {node.promised}")
        else:
            led = f"last ballot {node.ballot}" if node.ballot.round > 0 else "never ran"
            climb.append(f"{r}: {led}, promised {node.promised}")
    lines.append("at the end: " + "; ".join(climb))
    return "\n".join(lines)
