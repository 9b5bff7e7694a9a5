"""Scripted single-decree Paxos runs for notebook 02 and its stepper.

Theory of operation
-------------------
:class:`Walkthrough` is a hand-cranked driver: it runs :class:`~consensuslab.protocols.paxos.PaxosNode`
objects with no clock and no network model — the reader chooses which message to deliver,
drop or which node to crash, one step at a time, and the :class:`~consensuslab.protocols.paxos.PaxosMonitor`
checks Agreement and Validity after every step. It honours the node contract of
:mod:`consensuslab.node` (effects performed in order, persisted state survives a crash).
Everything it prints names nodes and ballots the way its charts do: ``A->B Prepare(1,A)`` is
node A's ballot ``(round 1, proposer A)``.

:data:`ADOPTION_EXERCISE` is notebook 02's exercise as data — steps a reader clicks in the
stepper, each naming the message it acts on — and :meth:`Walkthrough.play` performs them, so the
notebook prints the outcome and a test checks it. :func:`informal_comparison` turns a
walkthrough's message table into the founding notes' informal A/B/C description, step by step.

The protocol lives in :mod:`consensuslab.protocols.paxos`; this module only drives it.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from consensuslab._validate import check_int
from consensuslab.node import Broadcast, CancelTimer, NodeId, Note, Persist, Reply, Send, SetTimer, adopt_ghosts
from consensuslab.protocols.paxos import (
    ZERO,
    Accept,
    Accepted,
    Decide,
    Nack,
    PaxosConfig,
    PaxosMonitor,
    PaxosNode,
    Prepare,
    Promise,
)

__all__ = ["Walkthrough", "informal_comparison", "message_label", "ADOPTION_EXERCISE", "Step"]

#: One reader action: ``("deliver" | "drop", "<pending message>")``, ``("crash" | "restart" |
#: "timeout", "<node>")``, ``("propose", ("<node>", value))`` or ``("run", None)``.
Step = tuple[str, Any]

#: Notebook 02's exercise: A's Accept reaches B only, A crashes, then C proposes 2. A and B have
#: accepted 1 — a majority, so 1 is chosen although nobody knows it yet — and C's phase 1 hears of
#: it from B, so C must propose 1, not 2. Each step names the message to pick in the stepper.
ADOPTION_EXERCISE: tuple[Step, ...] = (
    ("deliver", "A->B Prepare(1,A)"),
    ("deliver", "A->C Prepare(1,A)"),
    ("deliver", "B->A Promise(1,A)"),
    ("crash", "A"),
    ("deliver", "A->B Accept(1,A) v=1"),
    ("drop", "A->C Accept(1,A) v=1"),
    ("propose", ("C", 2)),
    ("run", None),
)


class Walkthrough:
    """Drive Paxos nodes by hand: deliver or drop pending messages, crash nodes, add proposers.

    A tiny deterministic driver with no clock: time is the action counter (one tick per
    action), so a message-sequence chart reads top to bottom. Timers are not fired on their
    own; :meth:`timeout` fires a node's retry timer by hand. The default configuration is the
    founding example: three nodes A, B, C (ids 0, 1, 2) and nobody proposing until
    :meth:`propose` is called.

    Parameters
    ----------
    n : int
        Number of nodes.
    names : sequence of str, optional
        Node names for tables and charts (default A, B, C, ...).
    **options
        Further :class:`PaxosConfig` options (``q1``, ``q2``, ``learn``, ...).

    Examples
    --------
    >>> w = Walkthrough()
    >>> w.propose(0, 1)          # A proposes the value 1
    >>> while w.deliver():       # deliver everything, FIFO
    ...     pass
    >>> w.state()["decided"].tolist()
    [1, 1, 1]
    """

    def __init__(self, n: int = 3, names: Sequence[str] | None = None, **options: Any) -> None:
        options.setdefault("proposers", ())
        self.config = PaxosConfig(n=n, **options)
        self.n = n
        self.names = list(names) if names is not None else [chr(ord("A") + i) for i in range(n)]
        if len(self.names) != n:
            raise ValueError(f"`names` must hold {n} names; got {len(self.names)}.")
        self.time = 0
        self.storage: list[dict[str, Any]] = [{} for _ in range(n)]
        self.ghosts: list[dict[str, Any]] = [{} for _ in range(n)]
        self.nodes: list[PaxosNode | None] = [None] * n
        self.pending: deque[tuple[int, NodeId, NodeId, Any, int]] = deque()  # (id, src, dst, msg, sent)
        self.rows: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.timers: list[set[str]] = [set() for _ in range(n)]
        self._ids = itertools.count(1)
        self.monitor = PaxosMonitor(self.config)
        for i in range(n):
            self._boot(i)

    # -- effects -------------------------------------------------------------------------------
    def _boot(self, i: NodeId) -> None:
        node = PaxosNode(i, tuple(range(self.n)), np.random.default_rng(i), dict(self.storage[i]), self.config)
        adopt_ghosts(node, self.ghosts[i])
        self.nodes[i] = node
        self._run(node, node.on_start)

    def _run(self, node: PaxosNode, handler: Callable[..., None], *args: Any) -> None:
        node.now = float(self.time)
        handler(*args)
        node._drain()
        out, node.out = node.out, []
        for e in out:
            if isinstance(e, Send):
                self._post(node.id, e.dst, e.msg)
            elif isinstance(e, Broadcast):
                for dst in range(self.n):
                    if dst != node.id:
                        self._post(node.id, dst, e.msg)
            elif isinstance(e, Persist):
                self.storage[node.id].update(e.values)
            elif isinstance(e, SetTimer):
                self.timers[node.id].add(e.name)
            elif isinstance(e, CancelTimer):
                self.timers[node.id].discard(e.name)
            elif isinstance(e, Note):
                self.events.append({"time": self.time, "event": "note", "node": node.id, "kind": e.event,
                                    "detail": dict(e.data)})
            elif isinstance(e, Reply):
                pass  # no clients in a walkthrough
        self.monitor.observe(self)

    def _post(self, src: NodeId, dst: NodeId, msg: Any) -> None:
        mid = next(self._ids)
        self.pending.append((mid, src, dst, msg, self.time))
        self.rows.append({"msg_id": mid, "src": src, "dst": dst, "kind": type(msg).__name__, "sent": float(self.time),
                          "delivered": float("nan"), "dropped": float("nan"), "fate": "in flight", "msg": msg})

    def _row(self, mid: int) -> dict[str, Any]:
        return next(r for r in self.rows if r["msg_id"] == mid)

    # -- actions ---------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return float(self.time)

    def propose(self, node: NodeId, value: Any) -> None:
        """Node ``node`` becomes a proposer of ``value`` (a new, higher ballot)."""
        node = check_int("node", node, 0, self.n - 1)
        target = self.nodes[node]
        if target is None:
            raise ValueError(f"`node` must be up to propose; node {node} is crashed.")
        self.time += 1
        self._run(target, target.propose, value)

    def deliver(self, index: int = 0) -> bool:
        """Deliver the ``index``-th pending message (default: the oldest); False if none."""
        if not self.pending:
            return False
        index = check_int("index", index, 0, len(self.pending) - 1)
        self.time += 1
        mid, src, dst, msg, _ = self.pending[index]
        del self.pending[index]
        row = self._row(mid)
        node = self.nodes[dst]
        if node is None:
            row["fate"], row["dropped"] = "down", float(self.time)
        else:
            row["fate"], row["delivered"] = "delivered", float(self.time)
            self._run(node, node.on_message, src, msg)
        return True

    def drop(self, index: int = 0) -> bool:
        """Lose the ``index``-th pending message (default: the oldest); False if none."""
        if not self.pending:
            return False
        index = check_int("index", index, 0, len(self.pending) - 1)
        self.time += 1
        mid = self.pending[index][0]
        del self.pending[index]
        row = self._row(mid)
        row["fate"], row["dropped"] = "loss", float(self.time)
        return True

    def crash(self, node: NodeId) -> None:
        """Crash ``node``: volatile state is lost, what it persisted survives."""
        node = check_int("node", node, 0, self.n - 1)
        self.time += 1
        self.nodes[node] = None
        self.timers[node] = set()
        self.events.append({"time": self.time, "event": "crash", "node": node, "kind": "crash", "detail": None})

    def restart(self, node: NodeId) -> None:
        """Restart a crashed ``node`` from its stable storage."""
        node = check_int("node", node, 0, self.n - 1)
        if self.nodes[node] is not None:
            return
        self.time += 1
        self.events.append({"time": self.time, "event": "restart", "node": node, "kind": "restart", "detail": None})
        self._boot(node)

    def timeout(self, node: NodeId) -> None:
        """Fire ``node``'s retry timer (its phase timed out / its backoff ended)."""
        node = check_int("node", node, 0, self.n - 1)
        target = self.nodes[node]
        if target is None or "retry" not in self.timers[node]:
            return
        self.time += 1
        self.timers[node].discard("retry")
        self._run(target, target.on_timer, "retry")

    def run(self, limit: int = 1000) -> int:
        """Deliver pending messages FIFO until none is left (at most ``limit``); return how many."""
        k = 0
        while k < limit and self.deliver():
            k += 1
        return k

    # -- observation -----------------------------------------------------------------------------
    def messages(self) -> pd.DataFrame:
        """One row per message, the columns of :meth:`consensuslab.sim.trace.Trace.messages`.

        ``attrs["time_unit"]`` is ``"step"``: time counts actions, not milliseconds.
        """
        cols = ["msg_id", "src", "dst", "kind", "sent", "delivered", "dropped", "fate", "msg"]
        df = pd.DataFrame(self.rows, columns=cols)
        df.attrs["time_unit"] = "step"
        return df

    def events_frame(self) -> pd.DataFrame:
        """Crashes, restarts and notes in the columns of :meth:`consensuslab.sim.trace.Trace.to_frame`."""
        cols = ["time", "event", "node", "peer", "kind", "detail"]
        df = pd.DataFrame([{**e, "peer": None} for e in self.events], columns=cols)
        df["time"] = df["time"].astype(float)
        df.attrs["time_unit"] = "step"
        return df

    def ballot(self, b: Any) -> str:
        """A ballot as ``(round,name)``; the initial promise ``ZERO`` is ``-`` (none yet)."""
        if b is None or b == ZERO:
            return "-"
        return f"({b.round},{self.names[b.proposer]})"

    def label(self, msg: Any) -> str:
        """A message as the charts label it, e.g. ``Accept(1,A) v=1``."""
        return message_label(msg, self.names)

    def find_pending(self, description: str) -> int:
        """Index of the pending message described as :meth:`describe_pending` does.

        Raises
        ------
        ValueError
            If no pending message matches; the message lists what is pending.
        """
        pending = self.describe_pending()
        if description in pending:
            return pending.index(description)
        raise ValueError(f"`description` must name a pending message, one of {pending}; got {description!r}.")

    def node_id(self, name: str | int) -> NodeId:
        """A node's id from its name (``"A"``) or its id."""
        if isinstance(name, str):
            if name not in self.names:
                raise ValueError(f"`node` must be one of {self.names}; got {name!r}.")
            return self.names.index(name)
        return check_int("node", name, 0, self.n - 1)

    def play(self, steps: Sequence[Step]) -> None:
        """Perform reader actions (see :data:`ADOPTION_EXERCISE`) in order.

        Examples
        --------
        >>> w = Walkthrough()
        >>> w.propose(0, 1)
        >>> w.play(ADOPTION_EXERCISE)
        >>> w.state()["decided"].tolist()
        [None, 1, 1]
        """
        for action, arg in steps:
            match action:
                case "deliver":
                    self.deliver(self.find_pending(arg))
                case "drop":
                    self.drop(self.find_pending(arg))
                case "crash":
                    self.crash(self.node_id(arg))
                case "restart":
                    self.restart(self.node_id(arg))
                case "timeout":
                    self.timeout(self.node_id(arg))
                case "propose":
                    who, value = arg
                    self.propose(self.node_id(who), value)
                case "run":
                    self.run()
                case _:
                    raise ValueError(f"`steps` actions must be deliver, drop, crash, restart, timeout, propose or "
                                     f"run; got {action!r}.")

    def state(self) -> pd.DataFrame:
        """The acceptors' (and proposers') state, one row per node."""
        rows = []
        for i in range(self.n):
            node = self.nodes[i]
            st = self.storage[i]
            acc = node.accepted if node is not None else st.get("accepted")
            rows.append({
                "node": self.names[i],
                "up": node is not None,
                "promised": self.ballot(node.promised if node is not None else st.get("promised", ZERO)),
                "accepted ballot": self.ballot(acc[0]) if acc else "-",
                "accepted value": acc[1] if acc else None,
                "decided": node.decided if node is not None else st.get("decided"),
                "proposer": node.phase.value if node is not None and node.ballot is not None else "-",
                "ballot": self.ballot(node.ballot) if node is not None and node.ballot is not None else "-",
            })
        return pd.DataFrame(rows, dtype=object).set_index("node")

    def describe_pending(self) -> list[str]:
        """Human-readable pending messages, oldest first."""
        return [f"{self.names[s]}->{self.names[d]} {self.label(m)}" for _, s, d, m, _ in self.pending]


def message_label(msg: Any, names: Sequence[str] | None = None) -> str:
    """A short label of a Paxos message for charts and tables, ballots as ``(round,name)``.

    Examples
    --------
    >>> from consensuslab.protocols.paxos import Ballot
    >>> message_label(Accept(Ballot(1, 0), 1), ["A", "B", "C"])
    'Accept(1,A) v=1'
    """
    def b(x: Any) -> str:
        if names is None:
            return str(x)
        return "(0,-)" if x.proposer < 0 else f"({x.round},{names[x.proposer]})"

    match msg:
        case Prepare(bal):
            return f"Prepare{b(bal)}"
        case Promise(bal, acc):
            return f"Promise{b(bal)}" + (f" acc={b(acc[0])}:{acc[1]!r}" if acc else "")
        case Accept(bal, v) | Accepted(bal, v) | Decide(bal, v):
            return f"{type(msg).__name__}{b(bal)} v={v!r}"
        case Nack(bal, p):
            return f"Nack{b(bal)} promised={b(p)}"
        case _:
            return type(msg).__name__


def informal_comparison(messages: pd.DataFrame, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Compare, message by message, the founding notes' informal Paxos with Lamport's protocol.

    Parameters
    ----------
    messages : DataFrame
        Messages of a run (:meth:`Walkthrough.messages` or ``Trace.messages()``).
    names : sequence of str, optional
        Node names (default A, B, C, ...).

    Returns
    -------
    DataFrame
        One row per message: ``step``, ``message``, ``lamport`` (what the rule is in Paxos Made
        Simple), ``informal`` (the founding notes' counterpart) and ``agrees`` (yes / partly / no).
    """
    table = {
        "Prepare": ("phase 1a: ask acceptors to promise ballot b (no value yet)",
                    "A 'proposes 1' to B and C", "no: the value is not sent in phase 1"),
        "Promise": ("phase 1b: promise to ignore ballots < b; report highest accepted proposal",
                    "(absent) the notes have no promise/ballot step", "no"),
        "Accept": ("phase 2a: propose the value of the highest reported proposal, else own value",
                   "A proposes 1; acceptors 'vote'", "partly: a vote, but on a numbered ballot"),
        "Accepted": ("phase 2b: acceptor accepted; a learner counts a phase-2 quorum",
                     "a majority supports 1; learners collect the result and notify the proposer",
                     "yes: acceptors do not vote among themselves, learners count"),
        "Decide": ("learning (§2.3): the distinguished learner tells the other learners",
                   "the proposer broadcasts the decided value", "yes"),
        "Nack": ("optimisation (§2.3): tell a proposer about a higher promise",
                 "(absent)", "no"),
    }
    names = list(names) if names is not None else [chr(ord("A") + i) for i in range(int(messages[["src", "dst"]].max().max()) + 1)]
    rows = []
    for k, r in enumerate(messages.itertuples(index=False), start=1):
        lam, inf, agree = table.get(r.kind, ("", "", ""))
        rows.append({"step": k, "message": f"{names[r.src]}->{names[r.dst]} {message_label(r.msg, names)}",
                     "fate": r.fate,
                     "lamport": lam, "informal": inf, "agrees": agree})
    return pd.DataFrame(rows)
