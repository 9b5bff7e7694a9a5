"""The scripted simulator (consensuslab.sim.scripted): events happen only when the script says."""

from __future__ import annotations

import pytest

from consensuslab.node import Node
from consensuslab.sim import SimulationError
from consensuslab.sim.example import Flood
from consensuslab.sim.scripted import ScriptedSimulator


class Clocked(Node):
    """Records the clock it reads and arms a timer that pings node 0."""

    def on_start(self) -> None:
        self.seen_now: list[float] = []
        self.got: list[tuple[int, str]] = []
        self.persist(started=self.stable.get("started", 0) + 1)
        self.set_timer("ping", 50.0)

    def on_timer(self, name: str) -> None:
        self.seen_now.append(self.now)
        self.send(0, f"ping from {self.id}")

    def on_message(self, src: int, msg: str) -> None:
        self.seen_now.append(self.now)
        self.got.append((src, msg))


def test_nothing_happens_until_the_script_releases_it() -> None:
    sim = ScriptedSimulator(Clocked, n=2)
    sim.start()
    assert sim.armed(1) == ["ping"] and sim.now == 0.0
    with pytest.raises(SimulationError, match="no step"):
        sim.step()
    with pytest.raises(SimulationError, match="does not run by time"):
        sim.run_for(100.0)
    sim.fire(1, "ping")
    assert sim.now == 1.0 and sim.armed(1) == []
    [m] = sim.in_flight()
    assert (m.src, m.dst, m.msg) == (1, 0, "ping from 1")
    sim.deliver(1, 0, "ping from 1")
    assert sim.nodes[0].got == [(1, "ping from 1")]
    assert sim.nodes[1].seen_now == [0.0] and sim.nodes[0].seen_now == [0.0]  # nodes read node_clock
    assert sim.now == 2.0 and sim.events_processed == 2
    frame = sim.trace.to_frame()
    assert list(frame["event"]) == ["send", "deliver"] or "timer" in list(frame["event"])


def test_missing_events_are_refused() -> None:
    sim = ScriptedSimulator(Clocked, n=2)
    with pytest.raises(SimulationError, match="no armed timer 'nope'"):
        sim.fire(0, "nope")
    with pytest.raises(SimulationError, match="no message 'hello' from 0 to 1"):
        sim.deliver(0, 1, "hello")


def test_crash_drop_restart_and_hooks() -> None:
    sim = ScriptedSimulator(Clocked, n=2)
    seen: list[float] = []
    sim.step_hooks.append(lambda s: seen.append(s.now))
    sim.fire(1, "ping")
    sim.drop(1, 0, "ping from 1")
    assert sim.in_flight() == [] and sim.trace.dropped_by_kind == {"str": 1}
    sim.crash(1)
    assert sim.nodes[1] is None and sim.armed(1) == []
    sim.restart(1)
    assert sim.storage[1]["started"] == 2 and sim.armed(1) == ["ping"]
    assert seen == [1.0, 2.0, 3.0, 4.0]  # the hooks ran after every scripted event
    sim.fire(1, "ping")
    sim.crash(0)
    sim.deliver(1, 0, "ping from 1")  # lost at a crashed node, as in the simulator
    assert sim.trace.dropped_by_kind == {"str": 2}


def test_bad_tick_is_refused() -> None:
    with pytest.raises(ValueError, match="`tick` must be"):
        ScriptedSimulator(Flood, n=2, tick=0.0)
