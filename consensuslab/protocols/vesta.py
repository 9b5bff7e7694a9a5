"""VeSTA: state-machine replication over a consistent-hash ring (leaderless, Dynamo-style).

Theory of operation
-------------------
The founding notes describe VeSTA in three parts — *a state machine per node, a log per node
recording the history of state changes, and consistent hashing distributing state across
nodes* — and five steps: each node keeps a state machine and a log; a node that needs to update
state sends the update to other nodes; a node that accepts the update applies it to its state
machine and its log; the consistent-hash ring decides which nodes must receive the update; those
nodes apply it. That is leaderless replication over a hash ring, the family of Amazon's Dynamo
(DeCandia et al., SOSP 2007). The notes leave every hard decision open; here they are, made
explicitly:

Placement
    Node ``i`` is called ``"n{i}"`` on the ring. A key's *preference list* is
    ``consensuslab.hashing.make(algorithm, members).assign([key], replicas=L)`` — the first
    ``N = replicas`` entries are its replicas, the rest (``L = min(members, N + spare)``) are the
    fallbacks a sloppy quorum may use (Dynamo §4.6).
Coordinator
    **The node that receives the client request** coordinates it (every node accepts requests;
    there is no leader and no forwarding). It sends the update to all ``N`` replicas — itself
    included, through the network like any other replica, so the message pattern is exactly the
    one of the PBS WARS model — and answers the client after ``W`` acknowledgements. A read asks
    all ``N`` replicas and answers with the newest of the first ``R`` replies.
Versions
    **Last-writer-wins by hybrid logical clock** (Kulkarni et al. 2014): every write carries a
    stamp ``(l, c, node)`` — physical time (``now + skew`` of the coordinator: ``now`` is the
    node's own clock, which the simulator may drift, step or pause, and ``skew`` a fixed
    offset drawn from ``clock_skew``), a logical
    counter and the coordinator id as tie-break — and a replica applies a write only if its
    stamp is larger than the stamp it holds for the key. Coordinators observe the stamps they
    read, so an ``append`` (read ``R``, then write ``W`` the concatenation) is stamped after the
    version it extends. LWW keeps **no siblings**: of two concurrent writes one is silently
    discarded — the *lost update* anomaly that Dynamo's vector clocks would instead surface as
    siblings. The experiments measure those lost updates and the replicas' divergence.
State machine and log
    Each node holds ``store`` (key -> :class:`Version`) and ``log``, the append-only list of the
    updates it applied (:class:`LogEntry`, with per-key versions). The log only grows; per key
    the stamps along the log strictly increase, and ``store`` is the LWW replay of the log
    (the monitor checks both). With ``durable=True`` every entry is persisted before the
    acknowledgement that depends on it; ``durable=False`` models in-memory replicas (or a disk
    that dies with the node): a crash loses the node's data.
Failure handling (each switchable)
    *Sloppy quorum + hinted handoff* (``sloppy``): if some replicas have not answered after
    ``sloppy_timeout`` ms, the coordinator sends the write (or read) to the next fallback nodes
    of the preference list with a *hint* naming the replica it stands in for; the fallback keeps
    hinted versions apart and hands them off every ``handoff_interval`` ms until the intended
    replica acknowledges. *Read repair* (``read_repair``): after a read, the coordinator sends
    the newest version to the replicas that answered with an older one. *Anti-entropy*
    (``anti_entropy``): every ``anti_entropy_interval`` ms a node sends a random peer the digest
    ``{key: stamp}`` of the keys they share; the peer answers with the versions that are newer
    on its side and the keys it needs (a flat digest — Merkle trees only make it cheaper).
Membership
    An operator input :class:`Reconfigure` (``reconfigure(cluster, members)``) installs a new
    member set with a higher epoch. A node compares each key's replica set under the old and the
    new ring: only keys whose set changed move. A node that stays a replica pushes the key to
    the new replicas; a node that leaves the set pushes it to all new replicas and drops its copy
    only once every one of them acknowledged (:class:`Transfer`/:class:`TransferAck`), so the
    data moves with the key and nothing is lost. Epochs spread by anti-entropy and transfers.
Failure outcome
    A coordinator that cannot gather ``W`` (or ``R``) answers within ``request_timeout`` ms
    replies ``ok=False`` (``error="unavailable"``); the client retries at another node. A write
    that timed out may still have reached some replicas (its outcome is really unknown).
``consistency="raft"``
    Each distinct replica set (a *ring partition*) is replicated by a Raft group: every VeSTA
    node hosts one embedded :class:`~consensuslab.protocols.raft.RaftNode` per partition it
    belongs to (created on first use), routes :class:`GroupMessage` s and timers to it by the
    group tag, and translates its effects (``Send``/``Broadcast`` -> wrapped sends to the group,
    timers and persisted keys prefixed with the group). Reads and writes go through the group's
    log, so the variant is linearizable — at the price of a leader round trip and elections.

What VeSTA guarantees (checked by :class:`VestaMonitor`): per node, *log monotonicity* and
*state machine = log replay*; *acknowledged-write durability* — an acknowledged write (or a
newer version of its key) is held by some node as long as fewer than ``W`` of the nodes that
acknowledged it lost their data (with ``durable=True`` crashes lose nothing). What it does **not**
guarantee: with ``R + W <= N`` a read may miss the latest write (PBS measures how often); even
with ``R + W > N`` the store is **not linearizable** (no read-your-writes across failed writes,
LWW lost updates under concurrency and clock skew, sloppy quorums that do not intersect).

References
----------
G. DeCandia et al., "Dynamo: Amazon's Highly Available Key-value Store", SOSP 2007, §4.3-§4.7.
S. Kulkarni et al., "Logical Physical Clocks", OPODIS 2014 (hybrid logical clocks).
P. Bailis et al., "Probabilistically Bounded Staleness for Practical Partial Quorums", VLDB 2012.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from consensuslab._validate import (
    check_choice,
    check_float,
    check_int,
    check_range_pair,
    describe,
)
from consensuslab.check.safety import SafetyViolation
from consensuslab.node import (
    Broadcast,
    CancelTimer,
    ClusterView,
    Node,
    NodeId,
    Note,
    Persist,
    Reply,
    Send,
    SetTimer,
)
from consensuslab.protocols.base import Monitor, ProtocolConfig
from consensuslab.protocols.kv import ClientRequest, ClientResponse, Command
from consensuslab.protocols.raft import RaftConfig, RaftMonitor, RaftNode

__all__ = [
    "wars_latency",
    "Stamp",
    "Version",
    "LogEntry",
    "Write",
    "WriteAck",
    "Read",
    "ReadReply",
    "Repair",
    "Handoff",
    "HandoffAck",
    "SyncDigest",
    "SyncPush",
    "Transfer",
    "TransferAck",
    "Reconfigure",
    "GroupMessage",
    "VestaConfig",
    "VestaNode",
    "VestaMonitor",
    "VestaError",
    "node_name",
]

Stamp = tuple[float, int, int]
"""A hybrid-logical-clock timestamp ``(physical ms, logical counter, coordinator id)``."""

NO_STAMP: Stamp = (-float("inf"), 0, -1)


class VestaError(RuntimeError):
    """Protocol misuse (an unknown message, a reconfiguration the variant does not support)."""


def node_name(i: int) -> str:
    """The ring name of node ``i``: ``"n{i}"``."""
    return f"n{i}"


# -- data ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Version:
    """A value with its LWW stamp and the ``(client, seq)`` of the write that produced it."""

    stamp: Stamp
    value: Any
    origin: tuple[int, int] = (-1, 0)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One applied state change: ``kind="apply"`` a version, ``"drop"`` the key moved away."""

    index: int
    key: str
    version: Version | None
    kind: Literal["apply", "drop"] = "apply"


# -- messages (one class per kind) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Write:
    """Coordinator -> replica: apply ``version`` of ``key``; ``hint`` = the replica a fallback
    stands in for (sloppy quorum), else ``None``."""

    op: int
    key: str
    version: Version
    hint: NodeId | None = None


@dataclass(frozen=True, slots=True)
class WriteAck:
    op: int
    key: str
    stamp: Stamp


@dataclass(frozen=True, slots=True)
class Read:
    op: int
    key: str


@dataclass(frozen=True, slots=True)
class ReadReply:
    op: int
    key: str
    version: Version | None


@dataclass(frozen=True, slots=True)
class Repair:
    """Read repair: the newest version a read saw, sent to a replica that answered older."""

    key: str
    version: Version


@dataclass(frozen=True, slots=True)
class Handoff:
    """Hinted handoff: a fallback returns a hinted version to the intended replica."""

    hint_id: int
    key: str
    version: Version


@dataclass(frozen=True, slots=True)
class HandoffAck:
    hint_id: int


@dataclass(frozen=True, slots=True)
class SyncDigest:
    """Anti-entropy: the sender's ``(key, stamp)`` for the keys both nodes replicate, and its
    ring configuration (gossiped)."""

    epoch: int
    members: tuple[NodeId, ...]
    digest: tuple[tuple[str, Stamp], ...]


@dataclass(frozen=True, slots=True)
class SyncPush:
    """Anti-entropy: versions newer on the sender's side, and keys it wants."""

    versions: tuple[tuple[str, Version], ...]
    want: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Transfer:
    """Membership change: a key's data moving to a new replica."""

    epoch: int
    members: tuple[NodeId, ...]
    key: str
    version: Version


@dataclass(frozen=True, slots=True)
class TransferAck:
    key: str
    stamp: Stamp


@dataclass(frozen=True, slots=True)
class Reconfigure:
    """Operator input (delivered like a client request, never answered): install ``members``
    as the ring's node set at ``epoch``."""

    epoch: int
    members: tuple[NodeId, ...]
    client: int = 0


@dataclass(frozen=True, slots=True)
class GroupMessage:
    """``consistency="raft"``: a Raft message of the group replicating partition ``group``."""

    group: tuple[NodeId, ...]
    msg: Any


def wars_latency(profile: Any) -> dict[type, Any]:
    """Per message class delays of a PBS WARS profile, for ``Simulator(kind_latency=...)``:
    Write <- W (write request), WriteAck <- A, Read <- R (read request), ReadReply <- S."""
    return {Write: profile.W, WriteAck: profile.A, Read: profile.R, ReadReply: profile.S}


# -- configuration --------------------------------------------------------------------------

Consistency = Literal["quorum", "raft"]


@dataclass(frozen=True, slots=True)
class VestaConfig(ProtocolConfig):
    """VeSTA's options; builds nodes and monitors for :class:`~consensuslab.cluster.Cluster`.

    Parameters
    ----------
    n : int
        Number of simulated nodes, >= 1.
    replicas : int
        ``N``: replicas per key, ``1 <= N <= len(members)``.
    r, w : int
        Read and write quorum sizes, in ``[1, N]``. ``R + W > N`` makes read and write quorums
        intersect (still not linearizable, see the module notes).
    algorithm : str
        Placement algorithm of :func:`consensuslab.hashing.make` ("ring", "jump",
        "rendezvous", "maglev", "multiprobe", ...).
    algorithm_options : tuple of (name, value) pairs
        Keyword options of the algorithm (e.g. ``(("vnodes", 64),)``).
    members : tuple of int, optional
        Initial ring members (default: all ``n`` nodes). Others join with :func:`reconfigure`.
    sloppy : bool
        Sloppy quorum with hinted handoff.
    read_repair, anti_entropy : bool
        Enable read repair / periodic anti-entropy.
    consistency : {"quorum", "raft"}
        Leaderless quorums, or one Raft group per ring partition.
    durable : bool
        Replicas persist their log before acknowledging (crash-recover); ``False``: a crash
        loses the node's data.
    request_timeout : float
        A coordinator gives up (``ok=False``) after this many ms without its quorum.
    sloppy_timeout : float
        Wait before recruiting fallbacks (sloppy quorums), ms, < ``request_timeout``.
    handoff_interval, anti_entropy_interval : float
        Periods of hinted handoff / transfer retries and of anti-entropy rounds, ms.
    spare : int
        Fallback nodes kept after the ``N`` replicas in each preference list.
    clock_skew : float
        Each node's clock is offset by a uniform draw in ``[-clock_skew, clock_skew]`` ms (on
        top of the node's own clock, ``now``, which the simulator's clock faults act on).
    election_timeout, heartbeat : Raft options for ``consistency="raft"``.

    Raises
    ------
    ValueError, TypeError
        For a bad value or type, e.g. ``r > replicas`` or ``replicas > len(members)``.

    Examples
    --------
    >>> cfg = VestaConfig(n=5, replicas=3, r=2, w=2)
    >>> cfg.strict
    True
    >>> VestaConfig(n=5, replicas=3, r=1, w=1).strict
    False
    """

    n: int
    replicas: int = 3
    r: int = 2
    w: int = 2
    algorithm: str = "ring"
    algorithm_options: tuple[tuple[str, Any], ...] = ()
    members: tuple[int, ...] | None = None
    sloppy: bool = False
    read_repair: bool = True
    anti_entropy: bool = False
    consistency: Consistency = "quorum"
    durable: bool = True
    request_timeout: float = 300.0
    sloppy_timeout: float = 60.0
    handoff_interval: float = 100.0
    anti_entropy_interval: float = 200.0
    spare: int = 2
    clock_skew: float = 0.0
    election_timeout: tuple[float, float] = (150.0, 300.0)
    heartbeat: float = 50.0
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        n = check_int("n", self.n, 1)
        members = tuple(range(n)) if self.members is None else self.members
        if not isinstance(members, (tuple, list)):
            raise TypeError(f"`members` must be a tuple of node ids; got {describe(members)}.")
        members = tuple(check_int("members[]", m, 0, n - 1) for m in members)
        if not members:
            raise ValueError("`members` must name at least 1 node; got ().")
        if len(set(members)) != len(members):
            raise ValueError(f"`members` must be distinct; got {members}.")
        object.__setattr__(self, "members", tuple(sorted(members)))
        replicas = check_int("replicas", self.replicas, 1, len(members))
        check_int("r", self.r, 1, replicas)
        check_int("w", self.w, 1, replicas)
        if not isinstance(self.algorithm, str):
            raise TypeError(f"`algorithm` must be a str; got {describe(self.algorithm)}.")
        if not isinstance(self.algorithm_options, tuple):
            raise TypeError(f"`algorithm_options` must be a tuple of (name, value) pairs; got {describe(self.algorithm_options)}.")
        for name in ("sloppy", "read_repair", "anti_entropy", "durable"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"`{name}` must be a bool; got {describe(getattr(self, name))}.")
        check_choice("consistency", self.consistency, ("quorum", "raft"))
        rt = check_float("request_timeout", self.request_timeout, 0.0, low_open=True)
        check_float("sloppy_timeout", self.sloppy_timeout, 0.0, rt, low_open=True, high_open=True)
        check_float("handoff_interval", self.handoff_interval, 0.0, low_open=True)
        check_float("anti_entropy_interval", self.anti_entropy_interval, 0.0, low_open=True)
        check_int("spare", self.spare, 0)
        check_float("clock_skew", self.clock_skew, 0.0)
        lo, _ = check_range_pair("election_timeout", self.election_timeout, 0.0)
        hb = check_float("heartbeat", self.heartbeat, 0.0, low_open=True)
        if hb >= lo:
            raise ValueError(f"`heartbeat` must be < election_timeout[0] = {lo}; got {hb}.")
        self.placement(members)  # fail early on a bad algorithm name / option

    # -- derived -------------------------------------------------------------------------
    @property
    def strict(self) -> bool:
        """``R + W > N``: every read quorum meets every write quorum (non-sloppy)."""
        return self.r + self.w > self.replicas

    def placement(self, members: Sequence[int]) -> Any:
        """The placement algorithm over ``members`` (cached per member set)."""
        key = ("algo", tuple(members))
        algo = self._cache.get(key)
        if algo is None:
            from consensuslab.hashing import make

            algo = make(self.algorithm, [node_name(m) for m in members], **dict(self.algorithm_options))
            self._cache[key] = algo
        return algo

    def preference(self, key: str, members: Sequence[int]) -> tuple[NodeId, ...]:
        """``key``'s preference list over ``members``: ``N`` replicas then up to ``spare`` fallbacks."""
        members = tuple(members)
        ck = ("pref", members, key)
        got = self._cache.get(ck)
        if got is None:
            length = min(len(members), self.replicas + self.spare)
            row = self.placement(members).assign([key], replicas=length)[0]
            got = tuple(members[int(j)] for j in row)
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[ck] = got
        return got

    def preferences(self, keys: Sequence[str], members: Sequence[int] | None = None) -> np.ndarray:
        """Vectorized: each key's ``N`` replicas (node ids), shape ``(len(keys), N)``."""
        given = self.members if members is None else members
        assert given is not None  # __post_init__ fills in the default members
        members = tuple(given)
        rows = self.placement(members).assign(list(keys), replicas=self.replicas)
        return np.asarray(members)[rows]

    # -- ProtocolConfig ------------------------------------------------------------------
    def make_node(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: np.random.Generator, stable: dict) -> "VestaNode":
        return VestaNode(node_id, peers, rng, stable, config=self)

    def monitor(self) -> "VestaMonitor":
        return VestaMonitor(self)

    def leader(self, sim: Any) -> NodeId | None:
        return None  # leaderless (the Raft variant has one leader per partition)

    def applied(self, sim: Any, i: NodeId) -> list:
        """Node ``i``'s log of applied updates (quorum) or its groups' applied commands (raft)."""
        node = sim.nodes[i]
        if node is None:
            return []
        if self.consistency == "raft":
            return [c for g in sorted(node.groups) for c in node.groups[g].applied if c.op != "noop"]
        return list(node.log)


# -- coordinator bookkeeping ----------------------------------------------------------------


@dataclass
class _Op:
    id: int
    request: ClientRequest
    phase: Literal["read", "write"]
    key: str
    targets: tuple[NodeId, ...]
    fallbacks: list[NodeId]
    version: Version | None = None
    acks: set[NodeId] = field(default_factory=set)
    replies: dict[NodeId, Version | None] = field(default_factory=dict)
    answered: bool = False
    start: float = 0.0


def _newest(versions: Iterable[Version | None]) -> Version | None:
    best: Version | None = None
    for v in versions:
        if v is not None and (best is None or v.stamp > best.stamp):
            best = v
    return best


# -- the node -------------------------------------------------------------------------------


class VestaNode(Node):
    """A VeSTA node (sans-I/O): replica, coordinator, hint holder and anti-entropy peer.

    Attributes
    ----------
    store : dict[str, Version]
        The key-value state machine (LWW per key).
    log : list of LogEntry
        Updates applied, in order (append-only).
    hints : dict[int, tuple[str, Version, int]]
        Hinted versions held for other replicas: ``hint_id -> (key, version, intended node)``.
    epoch, members
        The ring configuration this node uses.
    ghost_acked : list of (key, stamp)
        Writes this node acknowledged to clients as coordinator (read by the monitor).
    groups : dict
        ``consistency="raft"``: the embedded Raft members, by partition.
    """

    def __init__(
        self,
        node_id: NodeId,
        peers: tuple[NodeId, ...],
        rng: np.random.Generator,
        stable: dict | None = None,
        config: VestaConfig | None = None,
    ) -> None:
        super().__init__(node_id, peers, rng, stable)
        self.config = config if config is not None else VestaConfig(n=len(self.peers))
        self.store: dict[str, Version] = {}
        self.log: list[LogEntry] = []
        self.hints: dict[int, tuple[str, Version, NodeId]] = {}
        self.hint_version = 0
        self.epoch = 0
        self.members: tuple[NodeId, ...] = tuple(self.config.members or ())
        # ghost state for the monitor (never read by the protocol; kept across restarts)
        self.ghost_acked: list[tuple[str, Stamp]] = []
        self.ops: dict[int, _Op] = {}
        self.transfers: dict[str, set[NodeId]] = {}  # key -> replicas still to acknowledge
        self.moved_keys: set[str] = set()  # keys this node sent a Transfer for (statistics)
        self.groups: dict[tuple[NodeId, ...], Any] = {}
        self.group_leader: dict[tuple[NodeId, ...], NodeId] = {}
        self._next_op = 0
        self._next_hint = 0
        self._hlc = (0.0, 0)
        self.skew = 0.0

    # ---- start / recovery ---------------------------------------------------------------
    def on_start(self) -> None:
        """Recover the clock offset, ring configuration, log (durable) and hints (durable)."""
        st = self.stable
        cfg = self.config
        if "skew" in st:
            self.skew = float(st["skew"])
        else:
            self.skew = float(self.rng.uniform(-cfg.clock_skew, cfg.clock_skew)) if cfg.clock_skew else 0.0
            self.persist(skew=self.skew)  # a property of the node's hardware clock
        if "ring" in st:
            self.epoch, self.members = st["ring"]
        if cfg.consistency == "raft":
            for key in st:
                if key.startswith("raft|") and key.count("|") >= 2:
                    g = tuple(int(x) for x in key.split("|")[1].split(","))
                    if g not in self.groups:
                        self._group(g)
            return
        if cfg.durable:
            for i in range(int(st.get("log_len", 0))):
                e: LogEntry = st[f"log.{i}"]
                self.log.append(e)
                if e.kind == "apply":
                    assert e.version is not None  # an "apply" entry carries its version
                    self.store[e.key] = e.version
                else:
                    self.store.pop(e.key, None)
            for k, v in st.items():
                if k.startswith("hint.") and v is not None:
                    hid = int(k[5:])
                    self.hints[hid] = v
                    self._next_hint = max(self._next_hint, hid + 1)
            self._next_hint = max(self._next_hint, int(st.get("next_hint", 0)))
            last = max((v.stamp[0] for v in self.store.values()), default=0.0)
            self._hlc = (max(last, self.now + self.skew), 0)
            for key in list(self.store):  # resume moves interrupted by the crash
                self._place(key)
        if self.hints:
            self.set_timer("handoff", cfg.handoff_interval)
        if cfg.anti_entropy:
            self.set_timer("anti_entropy", float(self.rng.uniform(0.5, 1.5)) * cfg.anti_entropy_interval)

    # ---- clock --------------------------------------------------------------------------
    def _tick(self) -> Stamp:
        """HLC send/local event: a stamp larger than every stamp seen so far."""
        pt = self.now + self.skew
        l, c = self._hlc
        if pt > l:
            l, c = pt, 0
        else:
            c += 1
        self._hlc = (l, c)
        return (l, c, self.id)

    def _observe(self, s: Stamp) -> None:
        """HLC receive event."""
        pt = self.now + self.skew
        l, c = self._hlc
        nl = max(l, s[0], pt)
        if nl == l and nl == s[0]:
            c = max(c, s[1]) + 1
        elif nl == l:
            c += 1
        elif nl == s[0]:
            c = s[1] + 1
        else:
            c = 0
        self._hlc = (nl, c)

    # ---- placement ----------------------------------------------------------------------
    def preference(self, key: str) -> tuple[NodeId, ...]:
        """Replicas then fallbacks of ``key`` under this node's configuration."""
        return self.config.preference(key, self.members)

    def replicas_of(self, key: str) -> tuple[NodeId, ...]:
        return self.preference(key)[: self.config.replicas]

    # ---- local state changes (the only places store/log change) -------------------------
    def _append(self, entry: LogEntry) -> None:
        self.log.append(entry)
        if self.config.durable:  # persisted before any acknowledgement that depends on it
            self.persist(**{f"log.{entry.index}": entry, "log_len": len(self.log)})

    def apply(self, key: str, version: Version) -> bool:
        """LWW: apply ``version`` if newer than what the node holds; log it. True if applied."""
        cur = self.store.get(key)
        if cur is not None and cur.stamp >= version.stamp:
            return False
        self.store[key] = version
        self._append(LogEntry(len(self.log), key, version))
        return True

    def _drop(self, key: str) -> None:
        if key in self.store:
            del self.store[key]
            self._append(LogEntry(len(self.log), key, None, "drop"))

    def _place(self, key: str) -> None:
        """If this node holds ``key`` but is not one of its replicas, move it to them."""
        if key not in self.store or self.id in self.replicas_of(key):
            return
        pending = self.transfers.setdefault(key, set())
        pending.update(self.replicas_of(key))
        self._send_transfers(key)

    def _send_transfers(self, key: str) -> None:
        version = self.store.get(key)
        if version is None:
            self.transfers.pop(key, None)
            return
        for dst in sorted(self.transfers.get(key, ())):
            self.moved_keys.add(key)
            self.send(dst, Transfer(self.epoch, self.members, key, version))
        self.set_timer("handoff", self.config.handoff_interval)

    # ---- inputs ---------------------------------------------------------------------------
    def on_client(self, request: Any) -> None:
        """Coordinate a :class:`ClientRequest`, or install a :class:`Reconfigure`."""
        match request:
            case Reconfigure():
                self.adopt(request.epoch, request.members)
            case ClientRequest() if self.config.consistency == "raft":
                self._raft_client(request)
            case ClientRequest():
                self._coordinate(request)
            case _:
                raise VestaError(f"node {self.id}: unknown client request {request!r}")

    def on_message(self, src: NodeId, msg: Any) -> None:
        match msg:
            case Write():
                self._on_write(src, msg)
            case WriteAck():
                self._on_write_ack(src, msg)
            case Read():
                self._on_read(src, msg)
            case ReadReply():
                self._on_read_reply(src, msg)
            case Repair():
                self._observe(msg.version.stamp)
                self.apply(msg.key, msg.version)  # read repair: LWW apply, no answer
                self._place(msg.key)
            case Handoff():
                self._observe(msg.version.stamp)
                self.apply(msg.key, msg.version)  # persisted before the ack
                self._place(msg.key)
                self.send(src, HandoffAck(msg.hint_id))
            case HandoffAck():
                if self.hints.pop(msg.hint_id, None) is not None:
                    self.hint_version += 1
                    if self.config.durable:
                        self.persist(**{f"hint.{msg.hint_id}": None})
            case SyncDigest():
                self._on_digest(src, msg)
            case SyncPush():
                self._on_push(src, msg)
            case Transfer():
                self.adopt(msg.epoch, msg.members)
                self._observe(msg.version.stamp)
                self.apply(msg.key, msg.version)  # persisted before the ack
                self._place(msg.key)
                self.send(src, TransferAck(msg.key, msg.version.stamp))
            case TransferAck():
                self._on_transfer_ack(src, msg)
            case GroupMessage():
                self._raft_message(src, msg)
            case _:
                raise VestaError(f"node {self.id}: unknown message {msg!r} from {src}")

    def on_timer(self, name: str) -> None:
        if name.startswith("op:"):
            self._on_op_timeout(int(name[3:]))
        elif name.startswith("sloppy:"):
            self._on_sloppy(int(name[7:]))
        elif name == "handoff":
            self._on_handoff_timer()
        elif name == "anti_entropy":
            self._on_anti_entropy_timer()
        elif name.startswith("raft|"):
            _, g, inner = name.split("|", 2)
            group = tuple(int(x) for x in g.split(","))
            raft = self.groups.get(group)
            if raft is not None:
                self._drive(group, raft, raft.on_timer, inner)
        else:
            raise VestaError(f"node {self.id}: unknown timer {name!r}")

    # ---- coordinator ----------------------------------------------------------------------
    def _coordinate(self, req: ClientRequest) -> None:
        cmd: Command = req.command
        cfg = self.config
        pref = self.preference(cmd.key)
        op = _Op(self._next_op, req, "read" if cmd.op in ("get", "append") else "write", cmd.key,
                 pref[: cfg.replicas], list(pref[cfg.replicas:]), start=self.now)
        self._next_op += 1
        self.ops[op.id] = op
        self.set_timer(f"op:{op.id}", cfg.request_timeout)
        if op.phase == "write":
            op.version = Version(self._tick(), cmd.value, (cmd.client, cmd.seq))
        self._fan_out(op)

    def _fan_out(self, op: _Op) -> None:
        for dst in op.targets:
            self.send(dst, self._request_msg(op, None))
        if self.config.sloppy:
            self.set_timer(f"sloppy:{op.id}", self.config.sloppy_timeout)

    def _request_msg(self, op: _Op, hint: NodeId | None) -> Any:
        if op.phase == "write":
            assert op.version is not None
            return Write(op.id, op.key, op.version, hint)
        return Read(op.id, op.key)

    def _on_sloppy(self, op_id: int) -> None:
        """Dynamo §4.6: recruit the next healthy-looking nodes for the replicas that are silent."""
        op = self.ops.get(op_id)
        if op is None or op.answered:
            return
        answered = op.acks if op.phase == "write" else set(op.replies)
        for missing in op.targets:
            if missing in answered or not op.fallbacks:
                continue
            fb = op.fallbacks.pop(0)
            op.targets = op.targets + (fb,)
            self.send(fb, self._request_msg(op, missing))

    def _on_write_ack(self, src: NodeId, m: WriteAck) -> None:
        op = self.ops.get(m.op)
        # a "write" op always holds its version: no extra None test on this per-ack path
        if op is None or op.phase != "write" or op.answered or m.stamp != op.version.stamp:  # type: ignore[union-attr]
            return  # a late ack of an operation already answered or given up
        op.acks.add(src)
        if len(op.acks) >= self.config.w:
            self._finish(op)

    def _on_read_reply(self, src: NodeId, m: ReadReply) -> None:
        op = self.ops.get(m.op)
        if op is None or op.phase != "read":
            return  # a late reply of an operation already finished
        if m.version is not None:
            self._observe(m.version.stamp)
        op.replies[src] = m.version
        if not op.answered and len(op.replies) >= self.config.r:
            newest = _newest(op.replies.values())
            cmd = op.request.command
            if cmd.op == "append":
                # phase 2 of an append: write the concatenation, stamped after what was read
                base = newest.value if newest is not None else None
                value = ("" if base is None else str(base)) + str(cmd.value)  # as KVStore
                op.phase = "write"
                op.replies = {}
                op.targets = op.targets[: self.config.replicas]
                pref = self.preference(op.key)
                op.fallbacks = list(pref[self.config.replicas:])
                op.version = Version(self._tick(), value, (cmd.client, cmd.seq))
                self._fan_out(op)
                return
            op.answered = True
            self.reply(op.request, ClientResponse(cmd.client, cmd.seq, True, newest.value if newest else None))
        if op.answered and len(op.replies) >= len(op.targets):
            self._close_read(op)

    def _finish(self, op: _Op) -> None:
        cmd = op.request.command
        op.answered = True
        assert op.version is not None
        self.ghost_acked.append((op.key, op.version.stamp))
        self.reply(op.request, ClientResponse(cmd.client, cmd.seq, True, None))
        self.cancel_timer(f"op:{op.id}")
        self.cancel_timer(f"sloppy:{op.id}")
        del self.ops[op.id]

    def _close_read(self, op: _Op) -> None:
        """The read is over: send read repairs to replicas that answered an older version."""
        self.cancel_timer(f"op:{op.id}")
        self.cancel_timer(f"sloppy:{op.id}")
        self.ops.pop(op.id, None)
        if not self.config.read_repair:
            return
        newest = _newest(op.replies.values())
        if newest is None:
            return
        replicas = set(self.replicas_of(op.key))
        for node, v in sorted(op.replies.items()):
            if node in replicas and (v is None or v.stamp < newest.stamp):
                self.send(node, Repair(op.key, newest))

    def _on_op_timeout(self, op_id: int) -> None:
        op = self.ops.get(op_id)
        if op is None:
            return
        if op.answered:  # a read that answered: repair with what arrived
            self._close_read(op)
            return
        del self.ops[op_id]
        self.cancel_timer(f"sloppy:{op.id}")
        cmd = op.request.command
        self.reply(op.request, ClientResponse(cmd.client, cmd.seq, False, None, None, error="unavailable"))

    # ---- replica --------------------------------------------------------------------------
    def _on_write(self, src: NodeId, m: Write) -> None:
        self._observe(m.version.stamp)
        if m.hint is not None and m.hint != self.id:
            hid = self._next_hint  # sloppy quorum: keep the hinted version apart (Dynamo §4.6)
            self._next_hint += 1
            self.hints[hid] = (m.key, m.version, m.hint)
            self.hint_version += 1
            if self.config.durable:
                self.persist(**{f"hint.{hid}": (m.key, m.version, m.hint), "next_hint": self._next_hint})
            self.set_timer("handoff", self.config.handoff_interval)
        else:
            self.apply(m.key, m.version)
            self._place(m.key)  # a coordinator with an older ring sent it here: move it on
        self.send(src, WriteAck(m.op, m.key, m.version.stamp))

    def _on_read(self, src: NodeId, m: Read) -> None:
        hinted = [v for (k, v, _) in self.hints.values() if k == m.key] if self.hints else []
        self.send(src, ReadReply(m.op, m.key, _newest([self.store.get(m.key), *hinted])))

    # ---- hinted handoff, transfers --------------------------------------------------------
    def _on_handoff_timer(self) -> None:
        for hid, (key, version, target) in sorted(self.hints.items()):
            self.send(target, Handoff(hid, key, version))
        for key in sorted(self.transfers):
            self._send_transfers(key)
        if self.hints or self.transfers:
            self.set_timer("handoff", self.config.handoff_interval)

    def _on_transfer_ack(self, src: NodeId, m: TransferAck) -> None:
        pending = self.transfers.get(m.key)
        cur = self.store.get(m.key)
        if pending is None or cur is None or m.stamp < cur.stamp:
            return  # acknowledges an older version: the newer one is still owed
        pending.discard(src)
        if not pending:
            del self.transfers[m.key]
            if self.id not in self.replicas_of(m.key):
                self._drop(m.key)  # every new replica holds it: the data has moved

    # ---- membership -----------------------------------------------------------------------
    def adopt(self, epoch: int, members: Sequence[NodeId]) -> None:
        """Install ring configuration ``(epoch, members)`` if newer; move the keys it moves."""
        if epoch <= self.epoch:
            return
        if self.config.consistency == "raft":
            raise VestaError("membership changes are not supported with consistency='raft'")
        old = self.members
        self.epoch, self.members = epoch, tuple(sorted(members))
        self.persist(ring=(self.epoch, self.members))
        self.note("reconfigure", epoch=epoch, members=self.members)
        nrep = self.config.replicas
        for key in sorted(self.store):
            before = set(self.config.preference(key, old)[:nrep])
            after = set(self.replicas_of(key))
            if before == after:
                continue  # the ring did not move this key
            targets = after - before if self.id in after else after
            targets.discard(self.id)
            if targets:
                self.transfers.setdefault(key, set()).update(targets)
                self._send_transfers(key)
            elif self.id not in after:
                self._drop(key)

    # ---- anti-entropy ---------------------------------------------------------------------
    def _on_anti_entropy_timer(self) -> None:
        cfg = self.config
        self.set_timer("anti_entropy", cfg.anti_entropy_interval)
        others = [m for m in self.members if m != self.id]
        if not others:
            return
        peer = others[int(self.rng.integers(len(others)))]
        digest = tuple((k, v.stamp) for k, v in sorted(self.store.items()) if peer in self.replicas_of(k))
        self.send(peer, SyncDigest(self.epoch, self.members, digest))

    def _on_digest(self, src: NodeId, m: SyncDigest) -> None:
        self.adopt(m.epoch, m.members)
        theirs = dict(m.digest)
        push = []
        want = []
        for key, stamp in m.digest:
            mine = self.store.get(key)
            if mine is not None and mine.stamp > stamp:
                push.append((key, mine))
            elif mine is None or mine.stamp < stamp:
                if self.id in self.replicas_of(key):
                    want.append(key)
        for key, mine in sorted(self.store.items()):
            if key not in theirs and src in self.replicas_of(key):
                push.append((key, mine))
        if push or want:
            self.send(src, SyncPush(tuple(push), tuple(want)))

    def _on_push(self, src: NodeId, m: SyncPush) -> None:
        for key, version in m.versions:
            self._observe(version.stamp)
            self.apply(key, version)
            self._place(key)
        back = tuple((k, self.store[k]) for k in m.want if k in self.store)
        if back:
            self.send(src, SyncPush(back, ()))

    # ---- consistency="raft": one embedded Raft member per partition ------------------------
    def group_of(self, key: str) -> tuple[NodeId, ...]:
        """The Raft group (sorted replica set) replicating ``key``'s partition."""
        return tuple(sorted(self.replicas_of(key)))

    def _group(self, group: tuple[NodeId, ...]) -> Any:
        raft = self.groups.get(group)
        if raft is None:

            cfg = self.config
            rcfg = cfg._cache.get(("raftcfg", len(group)))
            if rcfg is None:
                rcfg = cfg._cache[("raftcfg", len(group))] = RaftConfig(
                    n=len(group), election_timeout=cfg.election_timeout, heartbeat=cfg.heartbeat)
            prefix = self._prefix(group)
            stable = {k[len(prefix):]: v for k, v in self.stable.items() if k.startswith(prefix)}
            rng = np.random.default_rng(int(self.rng.integers(2**63)))
            raft = RaftNode(self.id, group, rng, stable, config=rcfg)
            self.groups[group] = raft
            self._drive(group, raft, raft.on_start)
        return raft

    @staticmethod
    def _prefix(group: tuple[NodeId, ...]) -> str:
        return "raft|" + ",".join(map(str, group)) + "|"

    def _drive(self, group: tuple[NodeId, ...], raft: Any, handler: Any, *args: Any) -> None:
        """Run one handler of an embedded Raft member and translate the effects it emits."""
        raft.now = self.now
        handler(*args)
        effects, raft.out = raft.out, []
        prefix = self._prefix(group)
        for e in effects:
            t = type(e)
            if t is Send:
                self.send(e.dst, GroupMessage(group, e.msg))
            elif t is Broadcast:
                for dst in group:
                    if dst != self.id:
                        self.send(dst, GroupMessage(group, e.msg))
            elif t is SetTimer:
                self.set_timer(prefix + e.name, e.delay)
            elif t is CancelTimer:
                self.cancel_timer(prefix + e.name)
            elif t is Persist:
                self.persist(**{prefix + k: v for k, v in e.values.items()})
            elif t is Reply:
                self.reply(e.request, e.response)
            elif t is Note:
                self.note(e.event, group=group, **e.data)
            else:
                raise VestaError(f"node {self.id}: unknown effect {e!r} from group {group}")
        if raft.leader_id is not None:
            self.group_leader[group] = raft.leader_id

    def _raft_message(self, src: NodeId, m: GroupMessage) -> None:
        if self.id not in m.group:
            return  # not a member (cannot happen without reconfiguration); ignore
        raft = self._group(m.group)
        self._drive(m.group, raft, raft.on_message, src, m.msg)

    def _raft_client(self, req: ClientRequest) -> None:
        group = self.group_of(req.command.key)
        if self.id not in group:  # redirect to the partition's known leader, or a member
            hint = self.group_leader.get(group, group[int(self.rng.integers(len(group)))])
            self.reply(req, ClientResponse(req.client, req.seq, False, leader_hint=hint, error="not a replica"))
            return
        raft = self._group(group)
        self._drive(group, raft, raft.on_client, req)

    def __repr__(self) -> str:
        return f"<VestaNode {self.id} keys={len(self.store)} log={len(self.log)} hints={len(self.hints)} epoch={self.epoch}>"


# -- monitor --------------------------------------------------------------------------------


class _GroupView:
    """What a Raft monitor sees of one partition: its members' embedded Raft nodes."""

    def __init__(self, sim: Any, group: tuple[NodeId, ...]) -> None:
        self.sim = sim
        self.group = group

    @property
    def now(self) -> float:
        return self.sim.now

    @property
    def nodes(self) -> list:
        out = []
        for i in self.group:
            node = self.sim.nodes[i]
            out.append(node.groups.get(self.group) if node is not None else None)
        return out


def _newest_hints(hints: Iterable[tuple[str, Version, NodeId]]) -> dict[str, Stamp]:
    """Per key, the newest stamp among hinted versions."""
    new: dict[str, Stamp] = {}
    for key, version, _ in hints:
        if key not in new or version.stamp > new[key]:
            new[key] = version.stamp
    return new


def _durable_holdings(stable: Any) -> tuple[dict[str, Stamp], dict[str, Stamp]]:
    """What a crashed node's storage holds: per key the stamp of its log, and of its hints.

    The log is replayed as :meth:`VestaNode.on_start` replays it on a restart.
    """
    held: dict[str, Stamp] = {}
    for k in range(int(stable.get("log_len", 0))):
        e = stable[f"log.{k}"]
        if e.kind == "apply":
            held[e.key] = e.version.stamp
        else:
            held.pop(e.key, None)
    hints = [v for k, v in stable.items() if k.startswith("hint.") and v is not None]
    return held, _newest_hints(hints)


class VestaMonitor(Monitor):
    """Checks what VeSTA guarantees, after every step.

    Log Monotonicity
        along each node's log, the stamps of a key strictly increase (LWW applies only newer)
        between two moves of the key away from the node;
    State Machine = Log
        each node's ``store`` holds, per key, the version of the key's last log entry;
    Acknowledged-Write Durability
        for every key, a version at least as new as the newest acknowledged write is held by a
        live node (store or hints), or by a crashed node's stable storage when ``durable``.

    With ``consistency="raft"`` it runs Raft's monitor (Figure 3 properties) per partition.
    """

    def __init__(self, config: VestaConfig) -> None:
        self.config = config
        self._seen: dict[int, tuple[Any, int, dict[str, Stamp]]] = {}  # node -> (obj, log len, last stamps)
        self._held: dict[int, dict[str, Stamp]] = {}
        self._hints: dict[int, tuple[Any, int, dict[str, Stamp]]] = {}
        self._acked: dict[str, Stamp] = {}
        self._acks_seen: dict[int, int] = {}  # node -> ghost_acked entries read
        self._down: set[int] = set()  # nodes seen down whose durable holdings are loaded
        self._raft: dict[tuple[NodeId, ...], Any] = {}
        self._views: dict[tuple[NodeId, ...], _GroupView] = {}

    def observe(self, sim: ClusterView) -> None:
        if self.config.consistency == "raft":
            self._observe_raft(sim)
            return
        now = sim.now
        recheck = False
        # acknowledged writes, from every node up or down (ghosts survive crashes)
        for i, ghost in enumerate(sim.ghosts):
            acked = ghost.get("ghost_acked", ())
            an = self._acks_seen.get(i, 0)
            for key, stamp in acked[an:]:
                if stamp > self._acked.get(key, NO_STAMP):
                    self._acked[key] = stamp
                    recheck = True
            self._acks_seen[i] = len(acked)
        for i, node in enumerate(sim.nodes):
            if node is None:
                if i not in self._down:
                    # what a crashed node still holds: its durable log and hints, or nothing
                    self._down.add(i)
                    self._seen.pop(i, None)
                    held, hints = _durable_holdings(sim.storage[i]) if self.config.durable else ({}, {})
                    self._held[i] = held
                    self._hints[i] = (None, -1, hints)
                    recheck = True
                continue
            self._down.discard(i)
            obj, n_seen, last = self._seen.get(i, (None, 0, {}))
            if obj is not node:
                obj, n_seen, last = node, 0, {}
                self._held[i] = {}
                recheck = True
            held = self._held.setdefault(i, {})
            log = node.log
            for e in log[n_seen:]:
                if e.kind == "apply":
                    prev = last.get(e.key)
                    if prev is not None and e.version.stamp <= prev:
                        raise SafetyViolation("Log Monotonicity", f"node {i} logged {e.key!r} at {e.version.stamp} after {prev}", now)
                    last[e.key] = held[e.key] = e.version.stamp
                else:  # the key moved away; it may come back later with the same version
                    held.pop(e.key, None)
                    last.pop(e.key, None)
                    recheck = True
            if len(log) != n_seen:
                for e in log[n_seen:]:
                    cur = node.store.get(e.key)
                    want = held.get(e.key)
                    if (cur.stamp if cur is not None else None) != want:
                        raise SafetyViolation("State Machine = Log", f"node {i} store[{e.key!r}]={cur} but log says {want}", now)
            self._seen[i] = (node, len(log), last)
            hobj, hv, hmap = self._hints.get(i, (None, -1, {}))
            if hobj is not node or hv != node.hint_version:
                new = _newest_hints(node.hints.values())
                if any(new.get(k, NO_STAMP) < s for k, s in hmap.items()):
                    recheck = True
                self._hints[i] = (node, node.hint_version, new)
        if recheck:
            self._check_durability(sim)

    def _check_durability(self, sim: Any) -> None:
        for key, stamp in self._acked.items():
            best = NO_STAMP
            for i, held in self._held.items():
                s = held.get(key)
                if s is not None and s > best:
                    best = s
            for _, _, hmap in self._hints.values():
                s = hmap.get(key)
                if s is not None and s > best:
                    best = s
            if best < stamp:
                raise SafetyViolation(
                    "Acknowledged-Write Durability",
                    f"key {key!r}: acknowledged write {stamp} is held by no node (newest held {best})",
                    sim.now,
                )

    def _observe_raft(self, sim: Any) -> None:
        for node in sim.nodes:
            if node is None:
                continue
            for g in node.groups:
                if g not in self._raft:
                    self._raft[g] = RaftMonitor()
                    self._views[g] = _GroupView(sim, g)
        for g, mon in self._raft.items():
            mon.observe(self._views[g])
