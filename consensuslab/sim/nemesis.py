"""The nemesis: a random fault schedule generated from a seed.

Theory of operation
-------------------
Jepsen's nemesis injects faults while clients run. Ours is a pure function of its
configuration and seed: :meth:`Nemesis.schedule` returns a list of :class:`FaultEvent`, and
:meth:`Nemesis.apply` schedules them on a :class:`~consensuslab.sim.Simulator` (calling the
fault methods of a *target*, which may be the simulator or a
:class:`~consensuslab.cluster.Cluster`). Between ``start`` and ``start + duration`` it acts
every ``interval`` ms (uniform), choosing uniformly among the enabled actions that apply:

* ``crash`` a live node (never more than ``max_crashed`` down at once) / ``restart`` a down one;
* ``partition`` the nodes into two or three random non-empty groups / ``heal``;
* ``loss``: set a loss probability drawn from ``[0, max_loss]`` (a burst) / back to 0;
* ``clock`` (time as a fault, off by default): ``set_drift`` a node's clock rate to ``1 + d``
  with ``d`` uniform in ``[-max_drift / (1 + max_drift), max_drift]`` (as often slow as fast, by
  the same factor), ``jump_clock`` it by up to ``max_jump`` ms either way, or ``pause`` it for up
  to ``max_pause`` ms (a GC pause: it resumes with its timers late);
* ``membership`` (off by default): ``membership_change(u, v)`` with two uniform draws — the
  target (a :class:`~consensuslab.cluster.Cluster` running Raft) turns them into a
  single-server change proposed to whoever leads at that moment.

At the end it heals, clears loss, restores every drifting clock's rate and restarts every node
(``settle=True``), so liveness can be checked after the storm. The same ``(configuration,
seed)`` always yields the same schedule; the families that are off draw nothing, so enabling
``clock`` or ``membership`` leaves schedules without them unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consensuslab._validate import check_bool, check_float, check_int, check_range_pair
from consensuslab.sim.simulator import AUX, Simulator, stream

__all__ = ["FaultEvent", "Nemesis", "MAX_FAULT_EVENTS"]

#: Most fault events one schedule may hold (``duration`` / mean ``interval``): each becomes a
#: simulator event and a Python object, so a typo such as ``interval=(1e-3, 1e-3)`` over
#: ``duration=1e5`` (10^8 events) is refused up front instead of running for minutes.
MAX_FAULT_EVENTS = 100_000


@dataclass(frozen=True)
class FaultEvent:
    """At ``time`` ms call ``target.<action>(*args)``."""

    time: float
    action: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Nemesis:
    """A seeded random fault schedule.

    Parameters
    ----------
    n : int
        Number of nodes.
    seed : int
        Seed of the schedule.
    duration : float
        Length of the fault period, ms.
    start : float
        When the first fault may happen, ms.
    interval : (float, float)
        Range of the gap between two actions, ms.
    crash, partition, loss : bool
        Which fault families are enabled.
    max_crashed : int, optional
        Most nodes down at once; default ``(n - 1) // 2`` (a majority stays up).
    max_loss : float
        Largest loss probability of a burst, in [0, 1].
    settle : bool
        Heal, clear loss, restore clock rates and restart everyone at ``start + duration``.
    one_way : bool
        Also cut single directed links (one-way partitions).
    clock : bool
        Inject clock faults: drift, jumps and pauses.
    max_drift : float
        Largest clock rate offset (a rate, > 0: 0.5 is 50 % fast; slow clocks go down to
        ``1 / (1 + max_drift)``).
    max_jump : float
        Largest clock step, ms.
    max_pause : float
        Longest process pause, ms.
    membership : bool
        Inject random membership changes (the target must provide ``membership_change``).

    Raises
    ------
    ValueError
        If the schedule would hold more than :data:`MAX_FAULT_EVENTS` events on average.
    """

    n: int
    seed: int
    duration: float = 5000.0
    start: float = 0.0
    interval: tuple[float, float] = (50.0, 400.0)
    crash: bool = True
    partition: bool = True
    loss: bool = True
    max_crashed: int | None = None
    max_loss: float = 0.3
    settle: bool = True
    one_way: bool = field(default=False)
    clock: bool = False
    max_drift: float = 0.5
    max_jump: float = 100.0
    max_pause: float = 300.0
    membership: bool = False

    def __post_init__(self) -> None:
        check_int("n", self.n, 1)
        check_int("seed", self.seed, 0)
        check_float("duration", self.duration, 0.0)
        check_float("start", self.start, 0.0)
        check_range_pair("interval", self.interval, 0.0, strict_order=False)
        if self.interval[1] <= 0:
            raise ValueError(f"`interval` must have a positive upper bound; got {self.interval}.")
        if self.max_crashed is not None:
            check_int("max_crashed", self.max_crashed, 0, self.n)
        check_float("max_loss", self.max_loss, 0.0, 1.0)
        for name in ("crash", "partition", "loss", "settle", "one_way", "clock", "membership"):
            check_bool(name, getattr(self, name))
        check_float("max_drift", self.max_drift, 0.0, low_open=True)
        check_float("max_jump", self.max_jump, 0.0)
        check_float("max_pause", self.max_pause, 0.0)
        mean_gap = (self.interval[0] + self.interval[1]) / 2
        expected = self.duration / mean_gap
        if expected > MAX_FAULT_EVENTS:
            raise ValueError(
                f"`duration` / mean `interval` must be <= {MAX_FAULT_EVENTS:,} fault events; got "
                f"duration={self.duration:g} ms with interval={self.interval} ms, about {expected:,.0f} events. "
                "Lengthen the interval or shorten the duration."
            )

    def schedule(self) -> list[FaultEvent]:
        """The fault events, in time order."""
        rng = stream(self.seed, AUX, 0x6E656D)
        max_down = (self.n - 1) // 2 if self.max_crashed is None else self.max_crashed
        down: set[int] = set()
        partitioned = False
        lossy = False
        drifting: set[int] = set()
        events: list[FaultEvent] = []
        t = self.start
        end = self.start + self.duration
        lo, hi = self.interval
        while True:
            t += float(rng.uniform(lo, hi))
            if t >= end:
                break
            options: list[str] = []
            if self.crash:
                if len(down) < max_down:
                    options.append("crash")
                if down:
                    options.append("restart")
            if self.partition and self.n > 1:
                options.append("heal" if partitioned else "partition")
                if self.one_way and not partitioned:
                    options.append("cut_link")
            if self.loss:
                options.append("set_loss")
            if self.clock:
                options += ["set_drift", "jump_clock", "pause"]
            if self.membership:
                options.append("membership_change")
            if not options:
                break
            action = options[int(rng.integers(len(options)))]
            if action == "crash":
                up = [i for i in range(self.n) if i not in down]
                victim = int(up[int(rng.integers(len(up)))])
                down.add(victim)
                events.append(FaultEvent(t, "crash", (victim,)))
            elif action == "restart":
                back = sorted(down)[int(rng.integers(len(down)))]
                down.discard(back)
                events.append(FaultEvent(t, "restart", (back,)))
            elif action == "partition":
                k = 2 if self.n < 5 or rng.random() < 0.7 else 3
                labels = rng.integers(k, size=self.n)
                while len(set(labels.tolist())) < min(k, self.n):
                    labels = rng.integers(k, size=self.n)
                groups = tuple(tuple(int(i) for i in range(self.n) if labels[i] == g) for g in range(k))
                partitioned = True
                events.append(FaultEvent(t, "partition", groups))
            elif action == "cut_link":
                a, b = (int(x) for x in rng.choice(self.n, size=2, replace=False))
                partitioned = True
                events.append(FaultEvent(t, "cut_link", (a, b)))
            elif action == "heal":
                partitioned = False
                events.append(FaultEvent(t, "heal"))
            elif action == "set_drift":
                node = int(rng.integers(self.n))
                lo = -self.max_drift / (1.0 + self.max_drift)
                drifting.add(node)
                events.append(FaultEvent(t, "set_drift", (node, round(float(rng.uniform(lo, self.max_drift)), 6))))
            elif action == "jump_clock":
                node = int(rng.integers(self.n))
                events.append(FaultEvent(t, "jump_clock", (node, round(float(rng.uniform(-self.max_jump, self.max_jump)), 3))))
            elif action == "pause":
                node = int(rng.integers(self.n))
                events.append(FaultEvent(t, "pause", (node, round(float(rng.uniform(0.0, self.max_pause)), 3))))
            elif action == "membership_change":
                events.append(FaultEvent(t, "membership_change", (float(rng.random()), float(rng.random()))))
            else:
                p = 0.0 if lossy else float(rng.uniform(0.0, self.max_loss))
                lossy = not lossy
                events.append(FaultEvent(t, "set_loss", (round(p, 6),)))
        if self.settle:
            events.append(FaultEvent(end, "heal"))
            events.append(FaultEvent(end, "set_loss", (0.0,)))
            events.extend(FaultEvent(end, "set_drift", (i, 0.0)) for i in sorted(drifting))
            events.extend(FaultEvent(end, "restart", (i,)) for i in sorted(down))
        return events

    def apply(self, sim: Simulator, target: Any = None) -> list[FaultEvent]:
        """Schedule the events on ``sim``, calling methods of ``target`` (default ``sim``)."""
        target = sim if target is None else target
        events = self.schedule()
        for ev in events:
            sim.schedule_at(max(ev.time, sim.now), getattr(target, ev.action), *ev.args)
        return events
