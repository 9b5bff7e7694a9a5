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

Membership (Raft only). :meth:`Cluster.add_node` grows the simulator by one server (or takes
a spare one), adds it to the configuration as a learner, waits until it has caught up with the
leader's commit index, then promotes it to voter — the etcd recipe; :meth:`Cluster.remove_node`
removes a voter or learner. Both go through the leader as single-server changes (dissertation
§4.1) and retry until the change is committed; :meth:`Cluster.change_voters` moves to a new
voter set through joint consensus (paper §6). :meth:`Cluster.membership_change` is the
nemesis's fire-and-forget version.

Time as a fault: :meth:`set_drift`, :meth:`jump_clock` and :meth:`pause` act on one node's
clock or process (see :mod:`consensuslab.sim.simulator`); nodes read their own clock.

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
        self.pinned: NodeId | None = None  # always talk to this node (Cluster.pin_client)

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
            if self.pinned is None:
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
        if self.pinned is not None:
            delay = self.cluster.redirect_backoff  # a pinned client asks its node again
        elif resp.leader_hint is not None and resp.leader_hint != node:
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

    def set_drift(self, i: NodeId, drift: float) -> None:
        """Node ``i``'s clock runs at rate ``1 + drift`` from now on (``drift > -1``)."""
        self.sim.set_drift(i, drift)

    def jump_clock(self, i: NodeId, delta: float) -> None:
        """Step node ``i``'s clock by ``delta`` ms."""
        self.sim.jump_clock(i, delta)

    def pause(self, i: NodeId, duration: float, clock_stops: bool = False) -> None:
        """Freeze node ``i`` for ``duration`` ms (a GC pause; ``clock_stops``: a suspended VM)."""
        self.sim.pause(i, duration, clock_stops)

    # -- membership (Raft) -----------------------------------------------------------
    def _require_membership(self, what: str) -> None:
        if self.protocol != "raft":
            raise ValueError(
                f"`{what}` needs a protocol with membership changes ('raft'); got protocol {self.protocol!r}."
            )

    def _leader_node(self) -> Any:
        leader = self.leader()
        return None if leader is None else self.sim.nodes[leader]

    def membership(self) -> Any:
        """The configuration in force: the leader's, else the latest one any live server holds.

        Returns a :class:`~consensuslab.protocols.raft_messages.Membership`.
        """
        self._require_membership("membership")
        leader = self._leader_node()
        if leader is not None:
            return leader.membership
        live: list[Any] = [nd for nd in self.sim.nodes if nd is not None]  # RaftNodes
        if not live:
            from consensuslab.protocols.raft_messages import Membership

            members = getattr(self.config, "members", None)
            return Membership(frozenset(members if members is not None else range(self.config.n)))
        return max(live, key=lambda nd: (nd._config_index, nd.term)).membership

    def _propose(self, action: str, node: NodeId | None = None, voters: Any = None) -> bool:
        """Ask the current leader for a change (an operator's call); False if refused or no leader."""
        from consensuslab.protocols.raft import MembershipError

        leader = self.leader()
        if leader is None:
            return False
        try:
            self.sim.call(leader, "propose_membership", action, node, voters)
        except MembershipError:
            return False
        return True

    def _settle_membership(self, action: str, node: NodeId | None, voters: Any, done: Callable[[Any], bool],
                           timeout: float, what: str) -> None:
        """Propose until a leader holds a *committed* configuration that satisfies ``done``."""
        deadline = self.now + timeout

        def settled() -> bool:
            nd = self._leader_node()
            return (nd is not None and done(nd.membership) and not nd.membership.joint
                    and nd._config_index <= nd.commit_index)

        while not settled():
            nd = self._leader_node()
            if nd is not None and nd._config_index <= nd.commit_index and not done(nd.membership):
                self._propose(action, node, voters)
            if self.now >= deadline:
                raise TimeoutError(f"{what} was not committed within {timeout:g} ms")
            self.run_until(settled, timeout=min(25.0, max(deadline - self.now, 0.0)))

    def add_node(self, node: NodeId | None = None, *, voter: bool = True, wait: bool = True,
                 timeout: float = 10_000.0) -> NodeId:
        """Add a server to the Raft configuration; return its id.

        Parameters
        ----------
        node : int, optional
            A server of the simulation that is not a member (a spare, or one removed earlier).
            Default: a new server, the simulator's next id (the others' random streams are
            untouched).
        voter : bool
            Promote it to voter once it has caught up (etcd's learner-then-voter recipe);
            ``False`` leaves it a learner (a non-voting member).
        wait : bool
            Run the simulation until the change is committed. ``False`` only proposes one
            single-server change to the current leader (``add_voter`` or ``add_learner``,
            without the catch-up phase) and returns: for step-by-step views.
        timeout : float
            Give up (``TimeoutError``) after this many ms of virtual time.

        Raises
        ------
        ValueError
            Not a Raft cluster; ``node`` is already a member (a voter, or a learner when
            ``voter=False``); ``wait=False`` and there is no leader to ask.
        """
        self._require_membership("add_node")
        check_bool("voter", voter)
        check_bool("wait", wait)
        timeout = check_float("timeout", timeout, 0.0, low_open=True)
        m = self.membership()
        if node is not None:
            node = check_int("node", node, 0, self.sim.n - 1)
            if node in m.voters or (node in m.learners and not voter):
                role = "a voter" if node in m.voters else "a learner"
                raise ValueError(f"`node` must not be a member already; node {node} is {role} in {m}.")
        if not wait:
            leader = self.leader()
            if leader is None:
                raise ValueError("`add_node(wait=False)` needs a leader to ask; there is none now.")
            if node is None:
                node = self.sim.add_node()
                self.n = self.sim.n
            self._propose("add_voter" if voter else "add_learner", node)
            return node
        if node is None:
            node = self.sim.add_node()
            self.n = self.sim.n
        i = node
        if i not in m.learners:
            self._settle_membership("add_learner", i, None, lambda mm: i in mm.members, timeout,
                                    f"adding node {i} as a learner")
        if voter:
            def caught_up() -> bool:
                nd = self._leader_node()
                return nd is not None and nd.match_index.get(i, 0) >= nd.commit_index

            self.run_until(caught_up, timeout=timeout)
            self._settle_membership("add_voter", i, None, lambda mm: i in mm.voters, timeout,
                                    f"promoting node {i} to voter")
        return i

    def remove_node(self, node: NodeId, *, wait: bool = True, shutdown: bool = False,
                    timeout: float = 10_000.0) -> None:
        """Remove a voter or learner from the Raft configuration (a single-server change).

        A removed leader steps down once the change is committed (dissertation §4.2.2).
        ``shutdown`` crashes the server afterwards, as an operator would; otherwise it keeps
        running outside the configuration (see Pre-Vote and CheckQuorum for why that is safe
        for availability only with them, §4.2.3).

        Raises
        ------
        ValueError
            Not a Raft cluster; ``node`` is not a member; it is the last voter.
        """
        self._require_membership("remove_node")
        node = check_int("node", node, 0, self.sim.n - 1)
        check_bool("wait", wait)
        check_bool("shutdown", shutdown)
        timeout = check_float("timeout", timeout, 0.0, low_open=True)
        m = self.membership()
        if node not in m.members:
            raise ValueError(f"`node` must be a member; node {node} is not in {m}.")
        if m.voters == {node}:
            raise ValueError(f"`node` must not be the last voter; removing node {node} would leave {m} without one.")
        if not wait:
            if not self._propose("remove", node):
                raise ValueError(f"the leader refused to remove node {node} now (no leader, or a change in progress).")
        else:
            self._settle_membership("remove", node, None, lambda mm: node not in mm.members, timeout,
                                    f"removing node {node}")
        if shutdown:
            self.crash(node)

    def change_voters(self, voters: Iterable[NodeId], *, timeout: float = 10_000.0) -> None:
        """Move to the voter set ``voters`` through joint consensus (paper §6): the leader
        appends ``C_old,new``, and once that is committed, ``C_new``. Runs until ``C_new`` is
        committed. New voters should have caught up first (add them as learners)."""
        self._require_membership("change_voters")
        new = frozenset(check_int("voters[]", v, 0, self.sim.n - 1) for v in voters)
        if not new:
            raise ValueError("`voters` must name at least one server; got none.")
        timeout = check_float("timeout", timeout, 0.0, low_open=True)
        self._settle_membership("joint", None, tuple(sorted(new)), lambda mm: mm.voters == new, timeout,
                                f"the joint change to {sorted(new)}")

    def membership_change(self, u_action: float, u_node: float) -> str:
        """One random single-server change, proposed to the leader without waiting (nemesis).

        ``u_action`` and ``u_node`` in [0, 1) pick the action among those that apply (add a
        spare server as voter or learner, promote a learner, remove a member while two voters
        remain) and the server. Returns what was proposed (``"none"`` if nothing applies).
        """
        self._require_membership("membership_change")
        leader = self._leader_node()
        if leader is None:
            return "none"
        m = leader.membership
        spare = [i for i in self.sim.ids if i not in m.members]
        options: list[tuple[str, list[NodeId]]] = []
        if spare:
            options += [("add_voter", spare), ("add_learner", spare)]
        if m.learners:
            options.append(("add_voter", sorted(m.learners)))
        if len(m.voters) > 1:
            options.append(("remove", sorted(m.members)))
        if not options:
            return "none"
        action, pool = options[min(int(u_action * len(options)), len(options) - 1)]
        node = pool[min(int(u_node * len(pool)), len(pool) - 1)]
        ok = self._propose(action, node)
        self.sim.trace.record(self.now, "fault", node, None, "membership", (action, ok))
        return f"{action} {node}" if ok else "refused"

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

    def pin_client(self, client: int, node: NodeId | None) -> None:
        """Make ``client`` talk only to ``node`` (``None``: back to normal redirects and retries).

        A pinned client models a client co-located with one server, or behind a sticky load
        balancer: it never follows a leader hint and resends only to ``node``.
        """
        check_int("client", client, 0, len(self._clients) - 1)
        cl = self._clients[client]
        if node is None:
            cl.pinned = None
            return
        cl.pinned = cl.target = check_int("node", node, 0, self.sim.n - 1)

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
