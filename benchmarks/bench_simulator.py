"""Delivered messages per second of the simulator core, on a trivial broadcast protocol.

Runs :class:`consensuslab.sim.example.EchoBroadcast` (node 0 broadcasts a round, every node
acks, repeat) on 10 nodes with uniform 1-10 ms latency, trace recording off (message counters
on), and reports delivered messages per wall-clock second on one core. Peer: a bare
``heapq`` loop that pushes and pops the same number of events doing nothing else, the floor
any pure-Python discrete-event simulator pays; the ratio shows our overhead over it.

Usage: python benchmarks/bench_simulator.py [--quick]
"""

from __future__ import annotations

import heapq
import json
import sys
import time

from consensuslab.sim import Simulator
from consensuslab.sim.example import EchoBroadcast


def ours(duration_ms: float, trace: bool = False) -> tuple[int, float]:
    sim = Simulator(EchoBroadcast, n=10, seed=1, latency=(1, 10), trace=trace)
    t0 = time.perf_counter()
    sim.run_for(duration_ms)
    wall = time.perf_counter() - t0
    return sim.trace.messages_delivered, wall


def bare_heap(events: int) -> float:
    q: list = []
    t0 = time.perf_counter()
    seq = 0
    for i in range(64):
        seq += 1
        heapq.heappush(q, (float(i), seq, 0, i, None, None))
    for _ in range(events):
        t, _, k, a, b, c = heapq.heappop(q)
        seq += 1
        heapq.heappush(q, (t + 5.0, seq, k, a, b, c))
    return time.perf_counter() - t0


def main() -> None:
    quick = "--quick" in sys.argv
    duration = 20_000.0 if quick else 200_000.0
    best = None
    for _ in range(1 if quick else 3):
        delivered, wall = ours(duration)
        rate = delivered / wall
        best = max(best or 0, rate)
    traced_delivered, traced_wall = ours(duration / 4, trace=True)
    heap_wall = bare_heap(delivered)
    heap_rate = delivered / heap_wall
    print(f"{'':28s}{'msgs/s':>14s}")
    print(f"{'ours (counters only)':28s}{best:14,.0f}")
    print(f"{'ours (full trace)':28s}{traced_delivered / traced_wall:14,.0f}")
    print(f"{'bare heapq push/pop':28s}{heap_rate:14,.0f}")
    print(json.dumps({
        "delivered_msgs_per_s": round(best),
        "delivered_msgs_per_s_traced": round(traced_delivered / traced_wall),
        "bare_heapq_events_per_s": round(heap_rate),
        "ratio_vs_bare_heapq": round(best / heap_rate, 3),
        "target_msgs_per_s": 250_000,
        "delivered": delivered,
    }))


if __name__ == "__main__":
    main()
