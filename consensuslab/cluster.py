"""Run any protocol on the simulator, with clients and faults: the :class:`Cluster` facade.

Theory of operation
-------------------
A cluster owns a :class:`~consensuslab.sim.Simulator` whose nodes are built by the protocol's
configuration (see :mod:`consensuslab.protocols.base`). Clients are simulated too: each client
has at most one operation outstanding, gives it a sequence number, sends it to the node it
believes leads (at first a random node from its own random stream), follows ``leader_hint``
redirects, resends to another node when no answer arrives within ``client_timeout`` ms, and
gives up after ``op_timeout`` ms. An operation that was given up has an *unknown* outcome (it
may still take effect later): it enters the history with ``ret=None``, exactly what the
linearizability checker expects.

Every operation is recorded with its invocation and response times (virtual ms) in
:attr:`Cluster.history`. ``put``/``get``/``append`` run the simulation until the operation
completes (``wait=True``, the default) or only submit it (``wait=False``) so that several
clients can have operations in flight at once.

Examples
--------
>>> from consensuslab.cluster import Cluster
>>> c = Cluster("raft", n=3, seed=1)                      # doctest: +SKIP
>>> c.run_until(lambda: c.leader() is not None, timeout=2000)   # doctest: +SKIP
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from consensuslab._validate import check_bool, check_float, check_int, describe
from consensuslab.protocols.base import ProtocolConfig, config_class
from consensuslab.protocols.kv import ClientRequest, ClientResponse, Command, Op
from consensuslab.sim.network import Latency
from consensuslab.sim.nemesis import FaultEvent, Nemesis
from consensuslab.node import NodeId
from consensuslab.sim.simulator import Simulator
from consensuslab.sim.trace import Trace

__all__ = ["Cluster", "ClientOp"]


@dataclass
class ClientOp:
    """One client operation and its outcome.

    ``done`` is True once answered or abandoned; ``ok`` is True if answered, False if it was
    abandoned (unknown outcome); ``value`` is what a ``get`` returned.
    """

    client: int
    seq: int
    command: Command
    call: float
    ret: float | None = None
    value: Any = None
    ok: bool = False
    done: bool = False
    attempts: int = 0

    def __repr__(self) -> str:
        state = "ok" if self.ok else ("unknown" if self.done else "pending")
        v = f" -> {self.value!r}" if self.command.op == "get" and self.ok else ""
        return f"<{self.command.op} {self.command.key!r}{v} client={self.client} {state}>"


class _Client:
    """Client logic: retries, redirects, timeouts. One operation at a time."""

    def __init__(self, cluster: "Cluster", cid: int) -> None:
        self.cluster = cluster
        self.id = cid
        self.rng = cluster.sim.client_rng(cid)
        self.seq = 0
        self.op: ClientOp | None = None
        self.target: NodeId = int(self.rng.integers(cluster.n))
        self.queue: list[ClientOp] = []
        self.attempt_token = 0

    def submit(self, op: ClientOp) -> None:
        if self.op is None:
            self._begin(op)
        else:
            self.queue.append(op)

    def _begin(self, op: ClientOp) -> None:
        op.call = self.cluster.sim.now
        self.op = op
        self.cluster._ops.append(op)
        self.cluster.sim.schedule(self.cluster.op_timeout, self._give_up, op)
        self._send()

    def _send(self) -> None:
        op = self.op
        assert op is not None
        op.attempts += 1
        self.attempt_token += 1
        self.cluster.sim.request(self.id, self.target, ClientRequest(self.id, op.seq, op.command))
        self.cluster.sim.schedule(self.cluster.client_timeout, self._retry, op, self.attempt_token)

    def _retry(self, op: ClientOp, token: int) -> None:
        if self.op is op and token == self.attempt_token:
            self.target = (self.target + 1 + int(self.rng.integers(self.cluster.n - 1 or 1))) % self.cluster.n
            self._send()

    def on_reply(self, node: NodeId, resp: Any) -> None:
        op = self.op
        if op is None or not isinstance(resp, ClientResponse) or resp.seq != op.seq:
            return  # an answer to an operation we no longer wait for
        if resp.ok:
            self.target = node
            op.ret = self.cluster.sim.now
            op.value = resp.value
            op.ok = op.done = True
            self._next()
            return
        # refused: follow the hint if it names another node, else try a random other node
        if resp.leader_hint is not None and resp.leader_hint != node:
            self.target = resp.leader_hint
            delay = 0.0
        else:
            self.target = int(self.rng.integers(self.cluster.n))
            delay = self.cluster.redirect_backoff
        self.attempt_token += 1
        self.cluster.sim.schedule(delay, self._retry_now, op, self.attempt_token)

    def _retry_now(self, op: ClientOp, token: int) -> None:
        if self.op is op and token == self.attempt_token:
            self._send()

    def _give_up(self, op: ClientOp) -> None:
        if self.op is op:
            op.done = True  # ret stays None: outcome unknown
            self._next()

    def _next(self) -> None:
        self.op = None
        if self.queue:
            self._begin(self.queue.pop(0))


class Cluster:
    """A protocol running on the simulator with clients and a nemesis.

    Parameters
    ----------
    protocol : {"raft", "multipaxos", "paxos", "vesta"}
        Which protocol to run.
    n : int
        Number of nodes, >= 1.
    seed : int
        Root seed; ``(configuration, seed)`` defines the run.
    latency : Latency, number or (low, high)
        One-way message delay in ms (default uniform 5-15 ms).
    loss, duplicate : float
        Message loss and duplication probabilities.
    clients : int
        Number of simulated clients (ids ``0 .. clients-1``).
    client_timeout : float
        A client resends to another node after this many ms without an answer.
    op_timeout : float
        A client abandons an operation after this many ms (outcome unknown).
    check_every_step : bool
        Check the protocol's safety properties after every simulator step.
    trace : bool
        Record the full trace (counters are always kept).
    **options
        Protocol options, passed to the protocol's configuration class (for Raft:
        ``election_timeout=(150, 300)``, ``heartbeat=50``, ``pre_vote=False``, ...).
    """

    def __init__(
        self,
        protocol: str,
        n: int = 5,
        seed: int = 0,
        *,
        latency: Latency | float | Sequence[float] = (5.0, 15.0),
        loss: float = 0.0,
        duplicate: float = 0.0,
        clients: int = 1,
        client_timeout: float = 400.0,
        op_timeout: float = 5000.0,
        redirect_backoff: float = 20.0,
        check_every_step: bool = False,
        trace: bool = False,
        **options: Any,
    ) -> None:
        self.protocol = protocol
        self.n = check_int("n", n, 1)
        self.seed = check_int("seed", seed, 0)
        self.client_timeout = check_float("client_timeout", client_timeout, 0.0, low_open=True)
        self.op_timeout = check_float("op_timeout", op_timeout, 0.0, low_open=True)
        self.redirect_backoff = check_float("redirect_backoff", redirect_backoff, 0.0)
        check_int("clients", clients, 0)
        check_bool("check_every_step", check_every_step)
        check_bool("trace", trace)
        # every registered config is a dataclass built as Config(n=n, **options) (protocols.base)
        make_config: Callable[..., ProtocolConfig] = config_class(protocol)
        self.config = make_config(n=self.n, **options)
        self.sim = Simulator(
            self.config.make_node, self.n, self.seed, latency=latency, loss=loss,
            duplicate=duplicate, trace=trace,
        )
        self.monitor = self.config.monitor()
        if check_every_step:
            self.sim.step_hooks.append(self.monitor.observe)
        self._ops: list[ClientOp] = []
        self._clients: list[_Client] = []
        for _ in range(clients):
            self.add_client()
        self.sim.start()

    # -- time ----------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.sim.now

    def run_for(self, ms: float) -> None:
        """Advance virtual time by ``ms``."""
        self.sim.run_for(ms)

    def run_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Run until ``predicate()`` holds or ``timeout`` ms pass; True if it held."""
        return self.sim.run_until(predicate, timeout)

    # -- observation ---------------------------------------------------------------
    def leader(self) -> NodeId | None:
        """The current leader (Raft, Multi-Paxos), or None."""
        return self.config.leader(self.sim)

    def committed(self, i: NodeId) -> list:
        """The commands node ``i`` has applied, in order."""
        return self.config.applied(self.sim, check_int("i", i, 0, self.n - 1))

    def node(self, i: NodeId) -> Any:
        """Node ``i``'s protocol object (``None`` while crashed)."""
        return self.sim.nodes[check_int("i", i, 0, self.n - 1)]

    def check_safety(self) -> None:
        """Check the protocol's safety properties now; raises SafetyViolation."""
        self.monitor.observe(self.sim)

    @property
    def messages_sent(self) -> int:
        return self.sim.messages_sent

    @property
    def trace(self) -> Trace:
        return self.sim.trace

    @property
    def clients(self) -> int:
        """Number of simulated clients (ids ``0 .. clients-1``)."""
        return len(self._clients)

    @property
    def operations(self) -> list[ClientOp]:
        """Every client operation begun so far (answered, abandoned or pending)."""
        return list(self._ops)

    @property
    def history(self) -> list:
        """Client operations as :class:`consensuslab.check.Operation` for the checker.

        Answered operations carry their return time; abandoned and still-pending ones have
        ``ret=None`` (unknown outcome).
        """
        from consensuslab.check import Operation
        from consensuslab.check.models import KVInput

        out = []
        for op in self._ops:
            c = op.command
            out.append(
                Operation(
                    client=op.client,
                    call=op.call,
                    ret=op.ret if op.ok else None,
                    input=KVInput(c.op, c.key, c.value),
                    output=op.value if (op.ok and c.op == "get") else None,
                )
            )
        return out

    # -- faults --------------------------------------------------------------------
    def crash(self, i: NodeId) -> None:
        self.sim.crash(i)

    def restart(self, i: NodeId) -> None:
        self.sim.restart(i)

    def partition(self, *groups: Iterable[NodeId]) -> None:
        self.sim.partition(*groups)

    def cut_link(self, src: NodeId, dst: NodeId, both: bool = False) -> None:
        self.sim.cut_link(src, dst, both)

    def isolate(self, i: NodeId) -> None:
        self.sim.isolate(i)

    def heal(self) -> None:
        self.sim.heal()

    def set_loss(self, p: float) -> None:
        self.sim.set_loss(p)

    def nemesis(self, seed: int, **kwargs: Any) -> list[FaultEvent]:
        """Apply a random fault schedule (see :class:`~consensuslab.sim.Nemesis`) from now on."""
        kwargs.setdefault("start", self.now)
        nem = Nemesis(self.n, seed, **kwargs)
        return nem.apply(self.sim, self)

    # -- clients -------------------------------------------------------------------
    def add_client(self) -> int:
        """Add a client; returns its id."""
        cid = len(self._clients)
        client = _Client(self, cid)
        self._clients.append(client)
        got = self.sim.add_client(client.on_reply)
        assert got == cid
        return cid

    def submit(self, op: str, key: str, value: Any = None, *, client: int = 0) -> ClientOp:
        """Queue an operation for ``client`` without running the simulation."""
        check_int("client", client, 0, len(self._clients) - 1)
        if op not in ("get", "put", "append"):
            raise ValueError(f"`op` must be one of ['get', 'put', 'append']; got {op!r}.")
        if not isinstance(key, str):
            raise TypeError(f"`key` must be a str; got {describe(key)}.")
        if op == "append" and not isinstance(value, str):
            raise TypeError(f"`value` of an append must be a str; got {describe(value)}.")
        try:
            hash(value)
        except TypeError:
            # values are compared and stored as dictionary keys by the checker and the monitors
            raise TypeError(
                f"`value` must be hashable (a str, number, bool, None or a tuple of them); got "
                f"{describe(value)}. Convert it first, e.g. tuple(value) or json.dumps(value)."
            ) from None
        cl = self._clients[client]
        cl.seq += 1
        command = Command(client, cl.seq, cast("Op", op), key, value)  # op was checked above
        cop = ClientOp(client, cl.seq, command, call=self.now)
        cl.submit(cop)
        return cop

    def _do(self, op: str, key: str, value: Any, client: int, wait: bool, timeout: float | None) -> ClientOp:
        cop = self.submit(op, key, value, client=client)
        if wait:
            self.run_until(lambda: cop.done, timeout=self.op_timeout * 2 if timeout is None else timeout)
        return cop

    def put(self, key: str, value: Any, *, client: int = 0, wait: bool = True, timeout: float | None = None) -> ClientOp:
        """Set ``key`` to ``value``."""
        return self._do("put", key, value, client, wait, timeout)

    def get(self, key: str, *, client: int = 0, wait: bool = True, timeout: float | None = None) -> ClientOp:
        """Read ``key``; the result is in ``.value`` (``None`` if absent)."""
        return self._do("get", key, None, client, wait, timeout)

    def append(self, key: str, value: Any, *, client: int = 0, wait: bool = True, timeout: float | None = None) -> ClientOp:
        """Append ``value`` to ``key``'s string."""
        return self._do("append", key, value, client, wait, timeout)
