"""The model checker's core: search, bounds, properties, fingerprints, actor-model semantics.

Counts here are derived by hand from the tiny models, not read off the checker: a counter
0..k has k + 1 states; two independent counters (k + 1)^2, and (k + 1)(k + 2)/2 up to swapping
them; a ping-pong exchange has as many states as the messages it can have in flight.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from consensuslab.check import SafetyViolation
from consensuslab.explore import (
    ActorModel,
    CheckerError,
    Crash,
    Deliver,
    Drop,
    FingerprintError,
    Restart,
    Timeout,
    TransitionSystem,
    always,
    canonical,
    check,
    fingerprint,
    sometimes,
)
from consensuslab.node import Node


def counter(k: int, *props: Any) -> TransitionSystem:
    return TransitionSystem([0], {"Inc": lambda s: s + 1 if s < k else None, "Reset": lambda s: 0 if s else None},
                            list(props))


def pair(k: int, symmetric: bool = False) -> TransitionSystem:
    def inc(s: tuple[int, int], i: int) -> tuple[int, int] | None:
        if s[i] >= k:
            return None
        t = list(s)
        t[i] += 1
        return (t[0], t[1])

    return TransitionSystem([(0, 0)], {"Inc": (inc, (0, 1))}, symmetry=(lambda s: tuple(sorted(s))) if symmetric else None)


# -- search -----------------------------------------------------------------------------------


def test_counts_and_exhaustion() -> None:
    r = check(counter(5))
    assert (r.unique_states, r.complete, r.stopped_by, r.max_depth) == (6, True, "exhausted", 5)
    assert check(pair(3)).unique_states == 16
    assert check(pair(3), strategy="dfs").unique_states == 16


def test_declared_symmetry_keeps_one_state_per_class() -> None:
    assert check(pair(3, symmetric=True)).unique_states == 4 * 5 // 2


def test_bfs_counterexample_is_shortest_and_replays_its_events() -> None:
    model = counter(9, always("below 4", lambda s: s < 4))
    r = check(model)
    path = r.counterexamples["below 4"]
    assert path.events == ["Inc"] * 4 and path.last == 4 and path.states == [0, 1, 2, 3, 4]
    d = check(model, strategy="dfs")
    assert d.counterexamples["below 4"].last == 4 and len(d.counterexamples["below 4"]) >= 4
    assert "VIOLATED in 4 steps" in str(r)


def test_sometimes_is_an_example_and_unreached_is_reported() -> None:
    r = check(counter(3, sometimes("reaches 3", lambda s: s == 3), sometimes("reaches 7", lambda s: s == 7)))
    assert r.examples["reaches 3"].events == ["Inc"] * 3
    assert r.unreached == ["reaches 7"] and r.complete


def test_stop_when() -> None:
    inv, ex = always("below 2", lambda s: s < 2), sometimes("reaches 1", lambda s: s == 1)
    assert check(counter(50, inv, ex)).stopped_by == "discoveries"  # "all": both settled
    r = check(counter(50, inv, ex), stop_when="never")
    assert r.complete and r.unique_states == 51 and set(r.counterexamples) == {"below 2"}
    assert check(counter(50, ex), stop_when="any").unique_states <= 3
    assert check(counter(50, inv, ex), stop_when="violation").unique_states == 3


def test_safety_violation_raised_by_a_condition_is_a_counterexample_with_its_detail() -> None:
    def monitor(s: int) -> bool:
        if s == 2:
            raise SafetyViolation("Agreement", "two values chosen")
        return True

    r = check(counter(5, always("agreement", monitor)))
    assert r.counterexamples["agreement"].last == 2
    assert "two values chosen" in r.details["agreement"]


def test_any_other_exception_is_a_checker_error_with_the_path() -> None:
    def buggy(s: int) -> bool:
        if s == 3:
            raise KeyError("oops")
        return True

    with pytest.raises(CheckerError, match="property 'buggy' raised KeyError.*not a counterexample") as info:
        check(counter(5, always("buggy", buggy)))
    assert info.value.path is not None and info.value.path.last == 3


def test_bounds_stop_cleanly_with_partial_results() -> None:
    r = check(counter(100), max_depth=10)
    assert (r.unique_states, r.complete, r.stopped_by) == (11, False, "depth bound")
    r = check(counter(100), max_states=7)
    assert (r.unique_states, r.complete, r.stopped_by) == (7, False, "max_states")
    endless = TransitionSystem([0], {"Inc": lambda s: s + 1})
    r = check(endless, time_limit=0.2)
    assert r.stopped_by == "time_limit" and not r.complete and r.elapsed < 2 and r.unique_states > 100


def test_within_discards_states_outside_the_boundary() -> None:
    r = check(counter(100), within=lambda s: s <= 4)
    assert (r.unique_states, r.complete) == (5, True)
    bounded = TransitionSystem([0], {"Inc": lambda s: s + 1}, within=lambda s: s < 3)
    assert check(bounded).unique_states == 3


def test_progress_reports() -> None:
    seen: list[Any] = []
    check(counter(300), progress=seen.append, progress_every=1e-9)
    assert seen and seen[-1].states == 301 and "states/s" in str(seen[-1])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"strategy": "astar"}, "`strategy` must be one of"),
    ({"max_depth": -1}, "`max_depth` must be None or an integer >= 0"),
    ({"max_states": 0}, "`max_states` must be None or an integer >= 1"),
    ({"time_limit": 0}, "`time_limit` must be None or a number of seconds > 0"),
    ({"stop_when": "sometimes"}, "`stop_when` must be one of"),
    ({"progress_every": 0}, "`progress_every` must be > 0"),
])
def test_bad_search_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check(counter(2), **kwargs)


def test_bad_models() -> None:
    with pytest.raises(ValueError, match="distinct names"):
        check(counter(2, always("p", bool), always("p", bool)))
    with pytest.raises(TypeError, match="action 'X' must be a function"):
        TransitionSystem([0], {"X": 3})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="`initial` must hold at least one state"):
        TransitionSystem([], {"X": lambda s: s})
    with pytest.raises(ValueError, match="`kind` must be 'always' or 'sometimes'"):
        from consensuslab.explore import Property
        Property("p", "eventually", bool)  # type: ignore[arg-type]


# -- fingerprints -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Msg:
    a: int
    b: Any = None


def test_canonical_ignores_order_and_identity() -> None:
    assert fingerprint({"x": {1, 2}, "y": [Msg(1)]}) == fingerprint({"y": [Msg(1)], "x": {2, 1}})
    assert fingerprint({1: "a", None: "b"}) == fingerprint({None: "b", 1: "a"})  # mixed key types
    assert fingerprint(Msg(1)) != fingerprint((1, None))  # the type is part of the value
    assert fingerprint(Msg(1, 2)) != fingerprint(Msg(2, 1))


def test_fingerprints_are_the_same_in_every_process() -> None:
    code = ("from consensuslab.explore import fingerprint; "
            "print(fingerprint({'k': frozenset({'a', 'b', 'c'}), 'v': ('x', 1.5)}).hex())")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in (1, 2, 3)}
    assert len(outs) == 1


def test_a_back_reference_is_encoded_not_followed() -> None:
    class Host:
        def __init__(self) -> None:
            self.part: Any = None

    class Part:
        def __init__(self, host: Host) -> None:
            self.host = host

    h = Host()
    h.part = Part(h)
    assert canonical(h) == ("test_a_back_reference_is_encoded_not_followed.<locals>.Host",
                            ("dict", (("part", ("test_a_back_reference_is_encoded_not_followed.<locals>.Part",
                                                ("dict", (("host", ("cycle", 1)),)))),)))


class Pinger(Node):
    """Node 0 sends ``rounds`` pings to node 1, one at a time; node 1 answers each with a pong."""

    rounds = 2

    def on_start(self) -> None:
        self.count = self.stable.get("count", 0)
        self.ghost_pongs: list[int] = []
        if self.id == 0:
            self.send(1, ("ping", self.count))

    def on_message(self, src: int, msg: Any) -> None:
        kind, k = msg
        if kind == "ping":
            self.count += 1
            self.persist(count=self.count)
            self.send(src, ("pong", k))
        elif k + 1 < self.rounds:
            self.ghost_pongs.append(k)
            self.send(1, ("ping", k + 1))


def test_a_node_field_without_a_canonical_value_is_named() -> None:
    class Leaky(Pinger):
        def on_start(self) -> None:
            super().on_start()
            self.callback = lambda: None

    with pytest.raises(FingerprintError, match=r"node 0's field Leaky\.callback: a builtins\.function"):
        check(ActorModel(Leaky, 2))

    class Nested(Pinger):
        def on_start(self) -> None:
            super().on_start()
            self.tables = {"main": [1, np.random.default_rng(0)]}

    with pytest.raises(FingerprintError, match=r"Nested\.tables\['main'\]\[1\]: a numpy.random._generator.Generator"):
        check(ActorModel(Nested, 2))


# -- actor models -----------------------------------------------------------------------------


def test_ping_pong_under_each_network() -> None:
    # unordered: ping0 in flight, pong0, ping1, pong1, nothing: 5 states in one line
    r = check(ActorModel(Pinger, 2))
    assert (r.unique_states, r.max_depth, r.complete) == (5, 4, True)
    # duplicating: a delivered message stays in flight and can be delivered again
    # (both nodes count what they get, so redelivery makes the space infinite: bound the counts)
    def small(s: Any) -> bool:
        return s.nodes[1].count <= 3 and len(s.nodes[0].ghost_pongs) <= 3

    dup = check(ActorModel(Pinger, 2, network="duplicating", within=small))
    assert dup.complete and dup.unique_states > 5
    redelivered = ActorModel(Pinger, 2, network="duplicating", within=small,
                             properties=[sometimes("ping 0 answered twice", lambda s: s.nodes[1].count == 2
                                                   and s.nodes[0].ghost_pongs == [])])
    assert check(redelivered).examples["ping 0 answered twice"].events[:2] == [Deliver(0, 1, ("ping", 0))] * 2
    # lossy: any message may be dropped (unlimited), drops counted in the state
    lossy = check(ActorModel(Pinger, 2, network="lossy"))
    assert lossy.unique_states == 5 + 4  # each of the 4 in-flight states can lose its message


def test_fifo_delivers_each_link_in_order() -> None:
    class Burst(Node):
        def on_start(self) -> None:
            self.got: tuple = ()
            if self.id == 0:
                self.send(1, "a")
                self.send(1, "b")

        def on_message(self, src: int, msg: Any) -> None:
            self.got += (msg,)

    fifo, unordered = ActorModel(Burst, 2, network="fifo"), ActorModel(Burst, 2)
    for model, expected in ((fifo, {(), ("a",), ("a", "b")}), (unordered, {(), ("a",), ("b",), ("a", "b"), ("b", "a")})):
        seen: set = set()
        prop = always("record", lambda s, seen=seen: seen.add(s.nodes[1].got) or True)
        model.properties = (prop,)
        check(model)
        assert seen == expected


def test_latest_keeps_only_the_newest_message_of_each_link() -> None:
    """``"latest"``: a send supersedes the message still in flight on the same link (a one-slot
    link), other links are untouched, and of two sends in one handler the second wins."""

    class Chatter(Node):
        def on_start(self) -> None:
            self.got: tuple = ()
            if self.id == 0:
                self.send(1, "a")
                self.send(1, "b")  # supersedes "a" at once
                self.send(2, "c")
            if self.id == 2:
                self.send(1, "z")

        def on_message(self, src: int, msg: Any) -> None:
            self.got += (msg,)
            if msg == "c":
                self.send(1, "d")  # node 2 had "z" in flight to node 1: "d" replaces it

    model = ActorModel(Chatter, 3, network="latest")
    start = model.initial_states()[0]
    assert start.in_flight() == [(0, 1, "b"), (0, 2, "c"), (2, 1, "z")]
    heard: set = set()
    model.properties = (always("record", lambda s: heard.add(s.nodes[1].got) or True),)
    result = check(model)
    assert result.complete
    # node 1 never hears "a"; it hears "z" only if it arrives before "c" reaches node 2 (or "d"
    # supersedes it), so never "z" after "d"
    assert heard == {(), ("b",), ("z",), ("d",), ("b", "z"), ("z", "b"), ("b", "d"), ("d", "b"), ("z", "d"),
                     ("b", "z", "d"), ("z", "b", "d"), ("z", "d", "b")}
    after = next(nxt for e, nxt in model.successors(start) if e == Deliver(0, 2, "c"))
    assert after.in_flight() == [(0, 1, "b"), (2, 1, "d")]
    # the chart's bookkeeping knows the superseded message left the network unseen
    from consensuslab.explore import Path
    from consensuslab.plots.explore import chart_events

    path = Path(start, ((Deliver(0, 2, "c"), after),
                        (Deliver(2, 1, "d"), next(n for e, n in model.successors(after) if e == Deliver(2, 1, "d")))))
    assert chart_events(path, "latest")["sent"].tolist() == [0, 1]


def test_crash_restart_keeps_storage_and_ghosts_and_loses_messages_to_a_down_node() -> None:
    model = ActorModel(Pinger, 2, crashes=1)
    states = []
    model.properties = (always("collect", lambda s: states.append(s) or True),)
    r = check(model)
    assert r.complete
    crashed = [s for s in states if s.nodes[1] is None]
    assert crashed and all(s.crashes == 1 for s in crashed)
    restarted = [s for s in states if s.crashes == 1 and s.nodes[1] is not None and s.storage[1].get("count") == 1]
    assert restarted and all(s.nodes[1].count == 1 for s in restarted)  # recovered from storage
    # the ghost list of a crashed node 0 is still visible through ClusterView.ghosts
    down0 = [s for s in states if s.nodes[0] is None and s.ghosts[0].get("ghost_pongs")]
    assert down0
    # a crashed node 1 with a ping in flight: delivering it loses it
    lost = [s for s in states if s.nodes[1] is None and s.in_flight()]
    assert lost
    events = {type(e) for s in states for e, _ in model.successors(s)}
    assert {Deliver, Crash, Restart} <= events and Timeout not in events and Drop not in events
    assert check(ActorModel(Pinger, 2, crashes=0)).unique_states == 5


def test_drop_budget_and_timers() -> None:
    class Ticker(Node):
        def on_start(self) -> None:
            self.ticks = 0
            self.set_timer("tick", 10.0)

        def on_timer(self, name: str) -> None:
            self.ticks += 1
            if self.ticks < 3:
                self.set_timer("tick", 10.0)
                self.broadcast(self.ticks)

    assert check(ActorModel(Ticker, 1)).unique_states == 4  # ticks 0, 1, 2 armed; 3 disarmed
    states: list = []
    model = ActorModel(Ticker, 2, drops=1, properties=[always("collect", lambda s: states.append(s) or True)])
    assert check(model).complete
    assert max(s.drops for s in states) == 1
    assert any(isinstance(e, Drop) for s in states for e, _ in model.successors(s) if s.drops == 0)
    assert not any(isinstance(e, Drop) for s in states for e, _ in model.successors(s) if s.drops == 1)
    assert check(ActorModel(Ticker, 2)).unique_states < len(states)


def test_clients_route_requests_to_on_client_and_replies_back() -> None:
    @dataclass(frozen=True)
    class Req:
        client: int
        value: int

    class Server(Node):
        def on_start(self) -> None:
            self.seen: tuple = ()

        def on_client(self, request: Any) -> None:
            self.seen += (request.value,)
            self.reply(request, request.value * 10)

    class Client(Node):
        def on_start(self) -> None:
            self.answer = None
            self.send(0, Req(self.id, 4))

        def on_message(self, src: int, msg: Any) -> None:
            self.answer = msg

    done = sometimes("answered", lambda s: s.nodes[1].answer == 40)
    r = check(ActorModel(Server, 1, clients=[Client], properties=[done]))
    assert [str(e) for e in r.examples["answered"].events] == ["deliver Req 1→0: " + repr(Req(1, 4)),
                                                                "deliver int 0→1: 40"]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n": 0}, "`n` must be an integer >= 1"),
    ({"network": "tcp"}, "`network` must be one of"),
    ({"crashes": -1}, "`crashes` must be an integer >= 0"),
    ({"drops": -2}, "`drops` must be None or an integer >= 0"),
])
def test_bad_actor_model_arguments(kwargs: dict, match: str) -> None:
    args = {"n": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        ActorModel(Pinger, **args)


def test_a_reply_to_a_non_client_is_an_error() -> None:
    class Bad(Node):
        def on_start(self) -> None:
            if self.id == 0:
                self.reply(Msg(0), "x")

    with pytest.raises(ValueError, match="replied to client None, which is not a client actor"):
        check(ActorModel(Bad, 2))


def test_clone_node_is_independent_keeps_aliasing_and_shares_values() -> None:
    from consensuslab.explore.actors import clone_node
    from consensuslab.explore.fingerprint import node_state

    class Holder(Node):
        def on_start(self) -> None:
            self.log = [Msg(1), Msg(2)]
            self.same_log = self.log  # an alias that must stay an alias in the copy
            self.table = {"a": [1, (2, [3])]}
            self.frozen = Msg(3, (4, 5))

    node = Holder(0, (0,), np.random.default_rng(0))
    node.on_start()
    copy_ = clone_node(node)
    assert node_state(copy_) == node_state(node) and copy_.out == [] and copy_.rng is node.rng
    assert copy_.same_log is copy_.log and copy_.log is not node.log
    assert copy_.frozen is node.frozen and copy_.log[0] is node.log[0]  # values are shared
    copy_.log.append(Msg(9))
    copy_.table["a"][1][1].append(7)
    assert node.log == [Msg(1), Msg(2)] and node.table == {"a": [1, (2, [3])]}


def test_actor_searches_are_the_same_in_every_process() -> None:
    """Timers are a set per node: neither their fingerprint nor the order of their events may
    depend on the process's string-hash seed (same parameters, same results)."""
    code = ("from consensuslab.explore import ActorModel, check\n"
            "from consensuslab.node import Node\n"
            "class T(Node):\n"
            "    def on_start(self):\n"
            "        self.fired = ()\n"
            "        for name in ('alpha', 'beta', 'gamma', 'delta'): self.set_timer(name, 1.0)\n"
            "    def on_timer(self, name):\n"
            "        self.fired += (name,)\n"
            "m = ActorModel(T, 1)\n"
            "r = check(m, strategy='dfs')\n"
            "s = m.initial_states()[0]\n"
            "print(r.unique_states, [str(e) for e, _ in m.successors(s)], m.fingerprint(s).hex())\n")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in (1, 2, 3, 4)}
    assert len(outs) == 1, outs
    assert outs.pop().startswith("65 ")  # firing orders: sum over k of 4!/(4-k)! = 1+4+12+24+24
