"""Throughput of the simulated VeSTA store (wall-clock ops/s of the simulation), per mode.

Runs the same closed-loop workload (4 clients, puts and gets on 50 keys) on VeSTA with
leaderless quorums, with sloppy quorums + anti-entropy, on the Raft variant, and on plain Raft
(``Cluster("raft")``) for reference, and prints ops/s and simulated messages per op. The last
line is one JSON object with the figures and ratios.

Usage: ``python benchmarks/bench_vesta.py [--quick]``
"""

from __future__ import annotations

import json
import sys
import time

from consensuslab.cluster import Cluster


def run(protocol: str, ops: int, **options) -> tuple[float, float]:
    c = Cluster(protocol, n=5, seed=1, clients=4, **options)
    if protocol == "raft":
        c.run_until(lambda: c.leader() is not None, 3000)
    t0 = time.perf_counter()
    pending = []
    for i in range(ops):
        op = "put" if i % 2 else "get"
        pending.append(c.submit(op, f"k{i % 50}", str(i) if op == "put" else None, client=i % 4))
    last = pending[-4:]  # each client runs its operations in order: its last one finishes last
    c.run_until(lambda: all(p.done for p in last), 10_000_000)
    dt = time.perf_counter() - t0
    return ops / dt, c.messages_sent / ops


def main() -> None:
    quick = "--quick" in sys.argv
    ops = 400 if quick else 4000
    modes = {
        "vesta_quorum": ("vesta", {"r": 2, "w": 2}),
        "vesta_sloppy_ae": ("vesta", {"r": 2, "w": 2, "sloppy": True, "anti_entropy": True}),
        "vesta_raft": ("vesta", {"consistency": "raft"}),
        "raft": ("raft", {}),
    }
    out: dict[str, float] = {}
    print(f"{'mode':18s} {'ops/s':>10s} {'msgs/op':>8s}")
    for name, (proto, opts) in modes.items():
        best = max(run(proto, ops, **opts) for _ in range(2))  # noisy shared cores: best of 2
        out[f"{name}_ops_per_s"] = round(best[0], 1)
        out[f"{name}_messages_per_op"] = round(run(proto, ops // 4, **opts)[1], 2)
        print(f"{name:18s} {best[0]:10.0f} {out[f'{name}_messages_per_op']:8.2f}")
    out["ratio_quorum_vs_raft_variant"] = round(out["vesta_quorum_ops_per_s"] / out["vesta_raft_ops_per_s"], 3)
    out["ratio_quorum_vs_plain_raft"] = round(out["vesta_quorum_ops_per_s"] / out["raft_ops_per_s"], 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
