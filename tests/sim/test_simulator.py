"""The simulator: ordering, determinism, timers, faults, partitions, loss, trace."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from consensuslab.sim import (
    Constant,
    Link,
    Node,
    SimulationError,
    Simulator,
    Uniform,
    stream,
    NODES,
)
from consensuslab.sim.example import Chatter, EchoBroadcast, Flood


class Recorder(Node):
    """Records every input it gets; answers 'ping' with 'pong'; timers are scriptable."""

    def on_start(self) -> None:
        self.got: list[tuple[float, Any]] = []
        self.boots = self.stable.get("boots", 0) + 1
        self.persist(boots=self.boots)
        self.volatile = "fresh"

    def on_message(self, src: int, msg: Any) -> None:
        self.got.append((self.now, src, msg))
        if msg == "ping":
            self.send(src, "pong")
        elif isinstance(msg, tuple) and msg[0] == "timer":
            self.set_timer(msg[1], msg[2])
        elif isinstance(msg, tuple) and msg[0] == "cancel":
            self.cancel_timer(msg[1])

    def on_timer(self, name: str) -> None:
        self.got.append((self.now, "timer", name))


def make(n=3, **kw):
    kw.setdefault("latency", Constant(1.0))
    return Simulator(Recorder, n=n, seed=kw.pop("seed", 7), **kw)


def test_equal_times_run_in_fifo_order():
    sim = make(latency=Constant(5.0))
    sim.start()
    for i in range(20):
        sim.schedule(3.0, sim.nodes[0].got.append, ("call", i))
    sim.run_for(3.0)
    assert [g[1] for g in sim.nodes[0].got] == list(range(20))


def test_scheduling_in_the_past_raises():
    sim = make()
    sim.run_for(10)
    with pytest.raises(SimulationError, match="past"):
        sim.schedule(-1.0, print)
    with pytest.raises(SimulationError, match="past"):
        sim.schedule_at(5.0, print)
    with pytest.raises(SimulationError, match="past"):
        sim.run_until_time(3.0)


def test_run_for_advances_time_exactly_and_run_until_stops_at_the_event():
    sim = make(latency=Constant(4.0))
    sim.start()
    sim._apply(0, [__import__("consensuslab.sim", fromlist=["Send"]).Send(1, "ping")])
    assert sim.run_until(lambda: len(sim.nodes[1].got) == 1, timeout=100)
    assert sim.now == 4.0
    assert not sim.run_until(lambda: False, timeout=50)
    assert sim.now == 54.0
    sim.run_for(6)
    assert sim.now == 60.0


def test_messages_are_delayed_by_the_latency_model():
    sim = make(latency=Constant(2.5))
    sim.start()
    sim.nodes[0].send(1, "ping")
    sim._apply(0, sim.nodes[0].out)
    sim.nodes[0].out = []
    sim.run_for(10)
    assert sim.nodes[1].got == [(2.5, 0, "ping")]
    assert sim.nodes[0].got == [(5.0, 1, "pong")]


def test_timer_fires_once_and_set_replaces_and_cancel_disarms():
    sim = make(latency=Constant(1.0))
    sim.start()
    n1 = sim.nodes[1]
    sim._apply(1, [__import__("consensuslab.sim", fromlist=["SetTimer"]).SetTimer("t", 10.0)])
    sim._apply(1, [__import__("consensuslab.sim", fromlist=["SetTimer"]).SetTimer("t", 20.0)])  # replaces
    sim._apply(1, [__import__("consensuslab.sim", fromlist=["SetTimer"]).SetTimer("u", 5.0)])
    sim._apply(1, [__import__("consensuslab.sim", fromlist=["CancelTimer"]).CancelTimer("u")])
    sim.run_for(100)
    assert [g for g in n1.got if g[1] == "timer"] == [(20.0, "timer", "t")]


def test_same_seed_same_trace_other_seed_other_trace():
    def trace(seed):
        sim = Simulator(EchoBroadcast, n=5, seed=seed, latency=Uniform(1, 10), loss=0.2, duplicate=0.1)
        sim.run_for(500)
        return sim.trace.records

    assert trace(3) == trace(3)
    assert trace(3) != trace(4)


def test_adding_a_node_does_not_change_other_streams():
    # node i's stream is addressed by (seed, NODES, i): independent of how many nodes exist
    small = Simulator(Recorder, n=3, seed=11)
    big = Simulator(Recorder, n=7, seed=11)
    for i in range(3):
        assert small.rngs[i].random(5).tolist() == big.rngs[i].random(5).tolist()
    assert small.net_rng.random(5).tolist() == big.net_rng.random(5).tolist()
    assert stream(11, NODES, 2).random() == Simulator(Recorder, n=3, seed=11).rngs[2].random()


def test_crash_loses_volatile_state_and_timers_keeps_persisted():
    sim = make()
    sim.start()
    node = sim.nodes[2]
    node.volatile = "changed"
    from consensuslab.sim import SetTimer
    sim._apply(2, [SetTimer("t", 5.0)])
    sim.crash(2)
    assert sim.nodes[2] is None and not sim.is_up(2)
    sim.run_for(10)  # the timer must not fire on anything
    sim.restart(2)
    fresh = sim.nodes[2]
    assert fresh is not node
    assert fresh.volatile == "fresh"          # volatile state lost
    assert fresh.boots == 2                    # persisted counter survived
    sim.run_for(20)
    assert not [g for g in fresh.got if g[1] == "timer"]


def test_messages_to_a_crashed_node_are_dropped_and_counted():
    sim = make()
    sim.start()
    sim.crash(1)
    sim.nodes[0].send(1, "ping")
    sim._apply(0, sim.nodes[0].out)
    sim.run_for(5)
    assert sim.trace.dropped_by_kind == {"str": 1}
    drops = sim.trace.to_frame().query("event == 'drop'")
    assert drops.iloc[0]["detail"][0] == "down"


def test_flood_persisted_fact_survives_crash():
    sim = Simulator(Flood, n=4, seed=1, latency=(1, 2))
    sim.run_for(20)
    assert all(n.seen == 1 for n in sim.nodes)
    copies = sim.nodes[3].copies
    assert copies >= 1
    sim.crash(3)
    sim.restart(3)
    assert sim.nodes[3].seen == 1 and sim.nodes[3].copies == 0


def test_partition_blocks_both_directions_and_heal_restores():
    sim = Simulator(EchoBroadcast, n=5, seed=2, latency=(1, 3))
    sim.run_for(50)
    sim.partition([0, 1], [2, 3, 4])
    stuck = sim.nodes[0].round
    sim.run_for(500)
    assert sim.nodes[0].round == stuck  # acks from 2,3,4 can never arrive
    assert sim.trace.dropped_by_kind.get("Round", 0) > 0
    sim.heal()
    sim.run_for(200)
    assert sim.nodes[0].round > stuck


def test_partition_drops_messages_already_in_flight():
    sim = make(latency=Constant(10.0))
    sim.start()
    sim.nodes[0].send(1, "ping")
    sim._apply(0, sim.nodes[0].out)
    sim.run_for(5)
    sim.partition([0], [1, 2])
    sim.run_for(10)
    assert sim.nodes[1].got == []


def test_one_way_cut_blocks_only_one_direction():
    sim = make(latency=Constant(1.0))
    sim.start()
    sim.cut_link(0, 1)
    sim.nodes[0].send(1, "a"); sim.nodes[1].send(0, "b")
    sim._apply(0, sim.nodes[0].out); sim._apply(1, sim.nodes[1].out)
    sim.run_for(5)
    assert sim.nodes[1].got == []
    assert [g[2] for g in sim.nodes[0].got] == ["b"]


def test_partition_groups_must_be_disjoint_and_valid():
    sim = make()
    with pytest.raises(ValueError, match="disjoint"):
        sim.partition([0, 1], [1, 2])
    with pytest.raises(ValueError, match="`node` must be an int >= 0 and <= 2; got 9"):
        sim.partition([9])


def test_loss_rate_matches_probability():
    sim = Simulator(Chatter, n=4, seed=5, latency=(1, 5), loss=0.25)
    sim.run_for(4000)
    msgs = sim.trace.messages()
    rate = (msgs.fate == "loss").mean()
    # 8000 messages: the binomial sd is ~0.005, so 0.02 is a 4-sigma band
    assert abs(rate - 0.25) < 0.02


def test_duplication_delivers_extra_copies():
    sim = Simulator(Chatter, n=3, seed=5, latency=(1, 5), duplicate=0.5)
    sim.run_for(2000)
    sent = sim.trace.messages_sent
    delivered = sim.trace.messages_delivered
    assert 1.4 * sent < delivered < 1.6 * sent


def test_per_link_override_changes_only_that_link():
    sim = Simulator(Chatter, n=3, seed=5, latency=Constant(1.0))
    sim.set_link(0, 1, Link(latency=Constant(50.0), loss=0.0))
    sim.run_for(500)
    m = sim.trace.messages().query("fate == 'delivered'")
    d = m.delivered - m.sent
    assert set(np.round(d[(m.src == 0) & (m.dst == 1)], 9)) == {50.0}
    assert set(np.round(d[~((m.src == 0) & (m.dst == 1))], 9)) == {1.0}


def test_link_loss_override_and_default_fallback():
    sim = Simulator(Chatter, n=2, seed=5, latency=Constant(1.0))
    sim.set_link(0, 1, Link(loss=1.0))
    sim.run_for(200)
    m = sim.trace.messages()
    assert (m[m.src == 0].fate == "loss").all()
    assert (m[m.src == 1].fate != "loss").all()  # the reverse link keeps the default (no loss)


def test_random_latency_reorders_messages_on_a_link():
    from consensuslab.experiments.simulator import reordered_fraction
    sim = Simulator(Chatter, n=2, seed=5, latency=(1, 20))
    sim.run_for(500)
    assert reordered_fraction(sim.trace.messages()) > 0.2
    sim = Simulator(Chatter, n=2, seed=5, latency=Constant(3.0))
    sim.run_for(500)
    assert reordered_fraction(sim.trace.messages()) == 0.0


def test_trace_links_sends_to_deliveries_and_counts_by_kind():
    sim = Simulator(EchoBroadcast, n=3, seed=1, latency=(1, 2))
    sim.run_for(30)
    df = sim.trace.to_frame()
    assert set(df.event) >= {"send", "deliver"}
    m = sim.trace.messages()
    ok = m[m.fate == "delivered"]
    assert (ok.delivered > ok.sent).all()
    assert sim.trace.sent_by_kind["Round"] == len(m[m.kind == "Round"])
    assert sim.messages_sent == sim.trace.messages_sent == len(m)


def test_trace_off_keeps_counters_only():
    sim = Simulator(EchoBroadcast, n=3, seed=1, latency=(1, 2), trace=False)
    sim.run_for(30)
    assert len(sim.trace) == 0 and sim.messages_sent > 0


def test_bad_parameters_get_clear_errors():
    with pytest.raises(ValueError, match=r"`n` must be an int >= 1; got 0"):
        Simulator(Recorder, n=0)
    with pytest.raises(ValueError, match=r"`loss` must be a number >= 0.0 and <= 1.0; got 1.5"):
        Simulator(Recorder, n=2, loss=1.5)
    with pytest.raises(TypeError, match="`latency`"):
        Simulator(Recorder, n=2, latency="fast")
    with pytest.raises(ValueError, match="low <= high"):
        Simulator(Recorder, n=2, latency=(5, 1))
    with pytest.raises(TypeError, match="`factory` must be callable"):
        Simulator(None, n=2)
    with pytest.raises(ValueError, match="`duration`"):
        make().run_for(-1)


def test_client_requests_and_replies_round_trip():
    class Server(Node):
        def on_client(self, request):
            self.reply(request, ("ok", request.payload))

    class Req:
        def __init__(self, client, payload):
            self.client, self.payload = client, payload

    sim = Simulator(Server, n=2, seed=1, latency=Constant(2.0))
    got = []
    cid = sim.add_client(lambda node, resp: got.append((sim.now, node, resp)))
    sim.start()
    sim.request(cid, 1, Req(cid, "x"))
    sim.run_for(10)
    assert got == [(4.0, 1, ("ok", "x"))]


def test_client_request_to_a_crashed_node_is_traced_and_skipped_by_messages():
    class Server(Node):
        def on_client(self, request):
            self.reply(request, "ok")

    class Req:
        client = 0

    sim = Simulator(Server, n=2, seed=1, latency=Constant(1.0))
    sim.add_client(lambda node, resp: None)
    sim.start()
    sim.crash(1)
    sim.request(0, 1, Req())
    sim.run_for(5)
    drops = sim.trace.to_frame().query("event == 'drop'")
    assert drops.iloc[0]["detail"][0] == "down"
    assert sim.trace.messages().empty  # client traffic is not a message between nodes


def test_per_message_kind_latency_with_link_override_taking_precedence():
    class Fast(tuple):
        __slots__ = ()

    class Talker(Node):
        def on_start(self):
            self.set_timer("t", 1.0)

        def on_timer(self, name):
            self.send((self.id + 1) % 2, "slow")
            self.send((self.id + 1) % 2, Fast((1,)))
            self.set_timer("t", 1.0)

    sim = Simulator(Talker, n=2, seed=1, latency=Constant(10.0), kind_latency={Fast: Constant(2.0)})
    sim.set_link(1, 0, Link(latency=Constant(7.0)))
    sim.run_for(50)
    m = sim.trace.messages().query("fate == 'delivered'")
    d = (m.delivered - m.sent).round(9)
    assert set(d[(m.src == 0) & (m.kind == "Fast")]) == {2.0}
    assert set(d[(m.src == 0) & (m.kind == "str")]) == {10.0}
    assert set(d[m.src == 1]) == {7.0}  # the link override wins over the kind
    with pytest.raises(TypeError, match="`kind` must be a message class"):
        sim.set_kind_latency("Fast", 1.0)
