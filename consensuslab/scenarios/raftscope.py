"""A step-through Raft cluster: record every event, scrub back and forth, act, replay.

Theory of operation
-------------------
:class:`RaftScope` is the model behind :class:`~consensuslab.widgets.raftscope.RaftScopeExplorer`
(RaftScope, the visualization most people learn Raft from, plus membership changes, which it
cannot show). It runs a :class:`~consensuslab.cluster.Cluster` of Raft servers with the safety
monitor on, and records a :class:`Frame` after every *operation*: one simulator event (a message
delivered, a timer fired, a client step), or one user action (crash, restart, a timeout fired,
a message dropped, a client request, a node added or removed, a node isolated, the network
healed). A frame holds what RaftScope draws: per server its role, term, vote, log (terms, and
which entries are configurations), commit index, election timer (the fraction left, a draining
bar), and the messages on the wire with what they carry and how far they have travelled.

Time travel. ``seek(k)`` shows recorded frame ``k``; stepping forward from an earlier frame
replays the recording. An action taken at an earlier frame branches: the run is rebuilt from
its seed and the actions before that frame, and the recorded future is dropped. Because the
simulator is deterministic, ``(n, seed, options, script)`` *is* the run: :meth:`RaftScope.export`
writes it as JSON and :meth:`RaftScope.load` rebuilds it, frame for frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from consensuslab._validate import check_int
from consensuslab.check.safety import SafetyViolation
from consensuslab.cluster import Cluster
from consensuslab.protocols.raft import (
    AppendEntries,
    AppendEntriesReply,
    InstallSnapshot,
    InstallSnapshotReply,
    RaftError,
    RequestVote,
    RequestVoteReply,
    TimeoutNow,
)

__all__ = ["NodeView", "MessageView", "Frame", "RaftScope", "message_label", "ACTIONS"]

#: User actions and their arguments (all replayable).
ACTIONS = ("crash", "restart", "timeout", "drop", "request", "add_node", "remove_node", "isolate", "heal")


@dataclass(frozen=True)
class NodeView:
    """One server in one frame. ``role`` is the Raft role, ``"down"`` or ``"paused"``;
    ``log`` holds ``(term, kind)`` per index from 1 (kind ``"cmd"``, ``"noop"``, ``"config"``,
    ``"snap"`` for a compacted entry); ``timer`` is the election timer's fraction left (0-1, None
    for a leader or a down server); ``member`` is ``"voter"``, ``"learner"`` or ``"outside"``."""

    id: int
    role: str
    term: int
    voted_for: int | None
    log: tuple[tuple[int, str], ...]
    commit: int
    timer: float | None
    member: str
    membership: str
    clock: float


@dataclass(frozen=True)
class MessageView:
    """One message on the wire: ``progress`` is how far it has travelled (0 at send, 1 at due)."""

    seq: int
    src: int
    dst: int
    kind: str
    label: str
    sent: float
    due: float
    progress: float


@dataclass(frozen=True)
class Frame:
    """What the view shows after operation ``step`` (``event`` says what just happened)."""

    step: int
    time: float
    nodes: tuple[NodeView, ...]
    messages: tuple[MessageView, ...]
    event: str
    leader: int | None
    violation: str | None = None


def message_label(msg: Any) -> str:
    """A short description of what a message carries, RaftScope style."""
    match msg:
        case AppendEntries():
            if not msg.entries:
                return f"AE t{msg.term} heartbeat c{msg.leader_commit}"
            first = msg.prev_log_index + 1
            last = msg.prev_log_index + len(msg.entries)
            span = f"{first}" if first == last else f"{first}-{last}"
            return f"AE t{msg.term} [{span}] c{msg.leader_commit}"
        case AppendEntriesReply():
            return f"AE ok t{msg.term} m{msg.match_index}" if msg.success else f"AE no t{msg.term}"
        case RequestVote():
            return f"{'PV' if msg.pre_vote else 'RV'} t{msg.term}"
        case RequestVoteReply():
            return f"{'pre-' if msg.pre_vote else ''}vote {'yes' if msg.vote_granted else 'no'} t{msg.term}"
        case InstallSnapshot():
            return f"IS t{msg.term} @{msg.last_included_index}"
        case InstallSnapshotReply():
            return f"IS ok t{msg.term} m{msg.match_index}"
        case TimeoutNow():
            return f"TimeoutNow t{msg.term}"
    return type(msg).__name__


class RaftScope:
    """A recorded, steppable, branchable Raft run (see the module notes).

    Parameters
    ----------
    n : int
        Servers at the start (3 to 9).
    seed : int
        Root seed.
    latency : (float, float)
        One-way delay range, ms (slow by default, so messages can be seen in flight).
    **options
        Raft options (``election_timeout``, ``heartbeat``, ``pre_vote``, ``check_quorum``,
        ``read_mode``, ...).

    Examples
    --------
    >>> scope = RaftScope(n=3, seed=1)
    >>> scope.step(200).leader is not None
    True
    >>> again = RaftScope.load(scope.export())
    >>> again.frame == scope.frame
    True
    """

    def __init__(self, n: int = 5, seed: int = 0, latency: tuple[float, float] = (20.0, 40.0),
                 **options: Any) -> None:
        self.n = check_int("n", n, 1, 9)
        self.seed = check_int("seed", seed, 0)
        self.latency = (float(latency[0]), float(latency[1]))
        options.setdefault("election_timeout", (300.0, 600.0))
        options.setdefault("heartbeat", 100.0)
        self.options = dict(options)
        self.script: list[tuple[int, str, tuple[Any, ...]]] = []
        self.error: str | None = None  # what went wrong with the last action, if anything
        self._requests = 0
        self._build()

    # -- running -------------------------------------------------------------------------
    def _build(self) -> None:
        self.cluster = Cluster("raft", n=self.n, seed=self.seed, latency=self.latency, clients=1, trace=True,
                               check_every_step=False, client_timeout=1000.0, op_timeout=4000.0, **self.options)
        self.cluster.sim.start()
        self.violation: str | None = None
        self.frames: list[Frame] = []
        self.frames.append(self._snapshot("start"))
        self.position = 0

    @property
    def frame(self) -> Frame:
        """The frame shown now."""
        return self.frames[self.position]

    @property
    def last(self) -> int:
        return len(self.frames) - 1

    def _describe(self, rec: tuple) -> str:
        time, event, node, peer, kind, detail, _mid = rec
        if event == "deliver":
            return f"S{node + 1} receives {message_label(detail)} from S{peer + 1}"
        if event == "timer":
            return f"S{node + 1}'s {kind} timer fires"
        if event == "client":
            return f"S{node + 1} gets a client request"
        if event == "drop":
            return f"a message to S{(peer if peer is not None else 0) + 1} is dropped ({detail[0]})"
        return ""

    def _advance(self) -> str:
        """Process one simulator event; return what happened."""
        sim = self.cluster.sim
        mark = len(sim.trace.records)
        if not sim.step():
            return "nothing left to happen"
        try:
            self.cluster.monitor.observe(sim)
        except SafetyViolation as exc:
            self.violation = str(exc)
        records = sim.trace.records[mark:]
        for rec in records:
            text = self._describe(rec)
            if text:
                if rec[1] == "timer" and rec[4] == "election" and not any(r[1] == "note" for r in records):
                    text = f"S{(rec[2] or 0) + 1}'s election timer is re-armed (it heard from a leader)"
                return text
        return "a client takes a step"

    def _apply(self, action: str, args: tuple[Any, ...]) -> str:
        c = self.cluster
        if action == "crash":
            c.crash(args[0])
            return f"you crashed S{args[0] + 1}"
        if action == "restart":
            c.restart(args[0])
            return f"you restarted S{args[0] + 1}"
        if action == "timeout":
            if c.node(args[0]) is None:
                raise RaftError(f"S{args[0] + 1} is down")
            c.sim.call(args[0], "campaign")
            return f"S{args[0] + 1}'s election timeout fires (you)"
        if action == "drop":
            if not c.sim.drop_message(args[0]):
                raise RaftError(f"message {args[0]} is not in flight")
            return "you dropped a message"
        if action == "request":
            c.submit("put", "x", args[0])
            return f"a client sends put x={args[0]}"
        if action == "add_node":
            i = c.add_node(wait=False)
            return f"S{i + 1} joins; the leader proposes it as a voter"
        if action == "remove_node":
            c.remove_node(args[0], wait=False)
            return f"the leader proposes to remove S{args[0] + 1}"
        if action == "isolate":
            c.isolate(args[0])
            return f"you cut S{args[0] + 1} off"
        if action == "heal":
            c.heal()
            return "you healed the network"
        raise ValueError(f"`action` must be one of {list(ACTIONS)}; got {action!r}.")

    def _snapshot(self, event: str) -> Frame:
        c = self.cluster
        sim = c.sim
        lo, hi = c.config.election_timeout  # type: ignore[attr-defined]
        leader = c.leader()
        members = c.membership()
        nodes = []
        for i in range(sim.n):
            node: Any = sim.nodes[i]  # a RaftNode, or None while down
            if node is None:
                st = sim.storage[i]
                log = tuple((e.term, _kind(e)) for e in st.get("log", ()))
                snap = st.get("snapshot")
                base = snap[0] if snap is not None else 0
                nodes.append(NodeView(i, "down", int(st.get("term", 0)), st.get("voted_for"),
                                      ((0, "snap"),) * base + log, 0, None, _member(members, i), "", sim.clock(i)))
                continue
            clock = sim.clock(i)
            timer = None
            if node.role.value != "leader":
                timer = min(max((node._deadline - clock) / hi, 0.0), 1.0)
            role = "paused" if sim.paused(i) else node.role.value
            log = ((0, "snap"),) * node.snapshot_index + tuple((e.term, _kind(e)) for e in node.log)
            nodes.append(NodeView(i, role, node.term, node.voted_for, log, node.commit_index, timer,
                                  _member(members, i), str(node.membership), clock))
        now = sim.now
        msgs = []
        for m in sim.in_flight():
            span = m.due - m.sent
            progress = 1.0 if not span > 0 else min(max((now - m.sent) / span, 0.0), 1.0)
            msgs.append(MessageView(m.seq, m.src, m.dst, type(m.msg).__name__, message_label(m.msg),
                                    m.sent, m.due, progress))
        return Frame(len(self.frames), now, tuple(nodes), tuple(msgs), event, leader, self.violation)

    # -- the user's verbs ----------------------------------------------------------------
    def step(self, count: int = 1) -> Frame:
        """Show the next ``count`` frames, simulating past the end of the recording."""
        for _ in range(check_int("count", count, 0)):
            if self.position < self.last:
                self.position += 1
                continue
            event = self._advance()
            self.frames.append(self._snapshot(event))
            self.position = self.last
        return self.frame

    def back(self, count: int = 1) -> Frame:
        """Show an earlier frame."""
        return self.seek(max(self.position - check_int("count", count, 0), 0))

    def seek(self, k: int) -> Frame:
        """Show recorded frame ``k`` (0 .. ``last``)."""
        self.position = check_int("k", k, 0, self.last)
        return self.frame

    def act(self, action: str, *args: Any) -> Frame:
        """Take a user action at the frame shown (branching off the recording if it is not the
        last one); errors (a node already down, no leader to ask) are kept in ``error``."""
        if action not in ACTIONS:
            raise ValueError(f"`action` must be one of {list(ACTIONS)}; got {action!r}.")
        if self.position < self.last:
            self._branch(self.position)
        self.error = None
        try:
            event = self._apply(action, args)
        except (ValueError, RaftError, TypeError) as exc:
            self.error = str(exc)
            return self.frame
        self.script.append((self.position, action, tuple(args)))
        self.frames.append(self._snapshot(event))
        self.position = self.last
        return self.frame

    def _branch(self, at: int) -> None:
        """Rebuild the run up to frame ``at`` and forget what came after it."""
        self.script = [s for s in self.script if s[0] < at]
        self._replay(at)

    def _replay(self, frames: int) -> None:
        script = list(self.script)
        self._build()
        todo: dict[int, list[tuple[str, tuple[Any, ...]]]] = {}
        for pos, action, args in script:
            todo.setdefault(pos, []).append((action, args))
        while self.last < frames:
            pending = todo.get(self.last)
            if pending:
                action, args = pending.pop(0)
                self.frames.append(self._snapshot(self._apply(action, args)))
            else:
                self.frames.append(self._snapshot(self._advance()))
            self.position = self.last
        self.script = script

    # convenience verbs
    def crash(self, i: int) -> Frame:
        return self.act("crash", check_int("i", i, 0, self.cluster.sim.n - 1))

    def restart(self, i: int) -> Frame:
        return self.act("restart", check_int("i", i, 0, self.cluster.sim.n - 1))

    def timeout(self, i: int) -> Frame:
        return self.act("timeout", check_int("i", i, 0, self.cluster.sim.n - 1))

    def drop(self, seq: int) -> Frame:
        return self.act("drop", check_int("seq", seq, 0))

    def request(self) -> Frame:
        value = 1 + sum(1 for s in self.script if s[1] == "request")
        return self.act("request", value)

    def add_node(self) -> Frame:
        return self.act("add_node")

    def remove_node(self, i: int) -> Frame:
        return self.act("remove_node", check_int("i", i, 0, self.cluster.sim.n - 1))

    def isolate(self, i: int) -> Frame:
        return self.act("isolate", check_int("i", i, 0, self.cluster.sim.n - 1))

    def heal(self) -> Frame:
        return self.act("heal")

    # -- replays ---------------------------------------------------------------------------
    def export(self) -> str:
        """The run as JSON: ``n``, ``seed``, ``latency``, ``options``, the ``script`` of actions
        (frame, action, arguments) and how many ``frames`` were recorded."""
        options = {k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()}
        return json.dumps({"format": "consensuslab-raftscope/1", "n": self.n, "seed": self.seed,
                           "latency": list(self.latency), "options": options,
                           "script": [[p, a, list(args)] for p, a, args in self.script],
                           "frames": len(self.frames), "position": self.position})

    @classmethod
    def load(cls, replay: str | dict) -> "RaftScope":
        """Rebuild a run from :meth:`export`'s JSON, frame for frame."""
        data = json.loads(replay) if isinstance(replay, str) else dict(replay)
        if data.get("format") != "consensuslab-raftscope/1":
            raise ValueError(f"`replay` must be a RaftScope export (format consensuslab-raftscope/1); got {data.get('format')!r}.")
        options = {k: tuple(v) if isinstance(v, list) else v for k, v in data["options"].items()}
        scope = cls(n=data["n"], seed=data["seed"], latency=tuple(data["latency"]), **options)
        scope.script = [(int(p), str(a), tuple(args)) for p, a, args in data["script"]]
        scope._replay(int(data["frames"]) - 1)
        scope.position = int(data.get("position", scope.last))
        return scope


def _kind(entry: Any) -> str:
    if getattr(entry, "config", None) is not None:
        return "config"
    return "noop" if entry.command.op == "noop" else "cmd"


def _member(membership: Any, i: int) -> str:
    if i in membership.voters or (membership.voters_old is not None and i in membership.voters_old):
        return "voter"
    return "learner" if i in membership.learners else "outside"
