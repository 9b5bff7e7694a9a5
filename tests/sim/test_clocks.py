"""Time as a fault: per-node clocks (drift, jumps), process pauses, growing the simulator,
dropping one message by hand. With no clock fault every node reads real time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from consensuslab.node import Node, Send
from consensuslab.sim import Constant, Simulator, stream, NODES


class Clocked(Node):
    """Records (its clock, input) for every input; 'arm' messages set timers."""

    def on_start(self) -> None:
        self.got: list[tuple[float, Any]] = []

    def on_message(self, src: int, msg: Any) -> None:
        self.got.append((self.now, msg))
        if isinstance(msg, tuple) and msg[0] == "arm":
            self.set_timer(msg[1], msg[2])
        elif msg == "ping":
            self.send(src, "pong")

    def on_timer(self, name: str) -> None:
        self.got.append((self.now, ("timer", name)))

    def on_client(self, request: Any) -> None:
        self.got.append((self.now, ("client", request)))


def make(n: int = 2, **kw: Any) -> Simulator:
    sim = Simulator(Clocked, n=n, seed=3, latency=Constant(1.0), **kw)
    sim.start()
    return sim


def arm(sim: Simulator, i: int, name: str, delay: float) -> None:
    sim.call(i, "on_message", 0, ("arm", name, delay))


def timer_times(sim: Simulator, i: int) -> list[tuple[float, float]]:
    """(real time, node clock) of each timer firing, from the trace."""
    real = [r[0] for r in sim.trace.records if r[1] == "timer" and r[2] == i]
    clock = [t for t, m in sim.nodes[i].got if isinstance(m, tuple) and m[0] == "timer"]
    return list(zip(real, clock))


def test_perfect_clocks_read_real_time() -> None:
    sim = make()
    sim.run_for(12.5)
    assert sim.clock(0) == sim.clock(1) == 12.5 and sim.drift(0) == 0.0


def test_a_fast_clock_fires_its_timers_early_in_real_time() -> None:
    sim = make()
    sim.set_drift(1, 1.0)  # twice as fast
    arm(sim, 1, "t", 100.0)
    sim.run_for(200.0)
    (real, clock), = timer_times(sim, 1)
    assert real == pytest.approx(50.0) and clock == pytest.approx(100.0)


def test_drift_in_ppm_accumulates_offset() -> None:
    sim = make()
    sim.set_drift(0, 100e-6)  # 100 ppm fast
    sim.run_for(1_000_000.0)  # 1000 s
    assert sim.clock(0) - sim.now == pytest.approx(100.0)  # 100 ms ahead


def test_drift_replans_timers_already_armed() -> None:
    sim = make()
    arm(sim, 0, "t", 100.0)  # due at clock 100
    sim.run_for(20.0)
    sim.set_drift(0, -0.5)  # half speed from real 20 (clock 20): 80 clock ms take 160 real ms
    sim.run_for(500.0)
    (real, clock), = timer_times(sim, 0)
    assert real == pytest.approx(180.0) and clock == pytest.approx(100.0)


def test_a_forward_jump_fires_the_timers_it_passes_at_once() -> None:
    sim = make()
    arm(sim, 0, "late", 500.0)
    arm(sim, 0, "later", 2000.0)
    sim.run_for(10.0)
    sim.jump_clock(0, 1000.0)
    sim.run_for(0.0)
    assert [m for _, m in sim.nodes[0].got if m[0] == "timer"] == [("timer", "late")]
    assert sim.clock(0) == pytest.approx(1010.0)
    sim.run_for(1000.0)
    (_, _), (real, clock) = timer_times(sim, 0)
    assert clock == pytest.approx(2000.0) and real == pytest.approx(1000.0)


def test_a_backward_jump_delays_timers() -> None:
    sim = make()
    arm(sim, 0, "t", 100.0)
    sim.jump_clock(0, -40.0)
    sim.run_for(300.0)
    (real, clock), = timer_times(sim, 0)
    assert real == pytest.approx(140.0) and clock == pytest.approx(100.0)


def test_a_paused_node_handles_everything_late_in_order_with_its_clock_running() -> None:
    sim = make()
    arm(sim, 1, "t", 30.0)
    sim.run_for(10.0)
    sim.pause(1, 100.0)
    assert sim.paused(1)
    sim._apply(0, [Send(1, "ping")])
    sim.run_for(99.0)
    assert [m for _, m in sim.nodes[1].got if m != ("arm", "t", 30.0)] == []  # frozen
    assert sim.nodes[0].got == []  # no pong while paused
    sim.run_for(1.0)
    got = [(t, m) for t, m in sim.nodes[1].got if m != ("arm", "t", 30.0)]
    assert [m for _, m in got] == ["ping", ("timer", "t")]  # due order (11, 30), all at the resume
    assert all(t == pytest.approx(110.0) for t, _ in got)  # the clock kept running
    assert not sim.paused(1)
    sim.run_for(5.0)
    assert sim.nodes[0].got == [(pytest.approx(111.0), "pong")]


def test_a_suspended_vm_resumes_behind() -> None:
    sim = make()
    sim.pause(0, 50.0, clock_stops=True)
    arm_at = sim.now
    sim.run_for(60.0)
    assert sim.clock(0) == pytest.approx(10.0) and arm_at == 0.0
    assert sim.clock(1) == pytest.approx(60.0)


def test_crash_ends_a_pause() -> None:
    sim = make()
    sim.pause(0, 1000.0)
    sim.crash(0)
    sim.restart(0)
    assert not sim.paused(0)
    sim._apply(1, [Send(0, "x")])
    sim.run_for(2.0)
    assert sim.nodes[0].got == [(1.0, "x")]


@pytest.mark.parametrize("bad", [-1.0, -1.5, float("nan"), float("inf")])
def test_bad_drift_is_refused_with_the_rule(bad: float) -> None:
    sim = make()
    with pytest.raises(ValueError, match=r"`drift` must be a number > -1 \(a rate\); got"):
        sim.set_drift(0, bad)


def test_drift_message_shape() -> None:
    sim = make()
    with pytest.raises(ValueError) as info:
        sim.set_drift(0, -1.5)
    assert str(info.value) == "`drift` must be a number > -1 (a rate); got -1.5."
    with pytest.raises(TypeError, match="`drift` must be a number"):
        sim.set_drift(0, "fast")


def test_negative_pause_is_refused() -> None:
    sim = make()
    with pytest.raises(ValueError) as info:
        sim.pause(0, -5)
    assert str(info.value) == "`duration` must be a number >= 0 (ms); got -5.0."


def test_adding_a_node_does_not_perturb_the_other_streams() -> None:
    a = Simulator(Clocked, n=3, seed=11)
    b = Simulator(Clocked, n=3, seed=11)
    b.start()
    new = b.add_node()
    assert new == 3 and b.n == 4 and b.ids == (0, 1, 2, 3)
    for i in range(3):
        assert a.rngs[i].random() == b.rngs[i].random()
    assert b.rngs[3].random() == stream(11, NODES, 3).random()
    assert b.nodes[3] is not None and b.nodes[3].peers == (0, 1, 2, 3)
    assert b.nodes[0].peers == (0, 1, 2)  # the old nodes keep their peers


def test_drop_one_message_by_hand() -> None:
    sim = make(trace=True)
    sim._apply(0, [Send(1, "a"),
                   Send(1, "b")])
    flying = sim.in_flight()
    assert [m.msg for m in flying] == ["a", "b"] and flying[0].sent == 0.0 and flying[0].due == 1.0
    assert sim.drop_message(flying[0].seq)
    assert [m.msg for m in sim.in_flight()] == ["b"]
    sim.run_for(2.0)
    assert [m for _, m in sim.nodes[1].got] == ["b"]
    assert not sim.drop_message(flying[0].seq)


def test_clock_faults_are_deterministic() -> None:
    def run() -> list:
        sim = Simulator(Clocked, n=3, seed=5, latency=(1.0, 9.0))
        sim.start()
        rng = np.random.default_rng(0)
        for k in range(30):
            i = int(rng.integers(3))
            arm(sim, i, f"t{k}", float(rng.uniform(1, 50)))
            sim.set_drift(i, float(rng.uniform(-0.5, 2.0))) if k % 3 == 0 else sim.jump_clock(i, float(rng.uniform(-20, 20)))
            if k % 7 == 0:
                sim.pause(i, 15.0)
            sim.run_for(7.0)
        sim.run_for(500.0)
        return [node.got for node in sim.nodes]

    assert run() == run()
