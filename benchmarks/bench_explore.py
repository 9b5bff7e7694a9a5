"""Benchmark the model checker on the published models: 2PC (5 RMs) and stateright's Paxos.

Run: ``python benchmarks/bench_explore.py [--quick]``. Times, in one process on one core,
two-phase commit with 5 resource managers (depth-first, as stateright: without symmetry, with
stateright's symmetry and with the exact-orbit one) and stateright's single-decree Paxos with
2 clients and 3 servers (breadth-first), and the project's own Raft node (the Figure 8 bounds
with the commit rule on, every run from the state where A has just won term 3: no target, a
rate for a real protocol node). Prints distinct states per second and the ratio of
each time to the issue's target (2PC: 5 s; Paxos: 30 s; a ratio below 1 meets it), then one
JSON object on the last line. Each timing is the best of ``repeat`` runs (``--quick``: one run,
and Paxos stopped at 4,000 states, which is then not a full count).
"""

from __future__ import annotations

import argparse
import json
import time

TARGETS = {"twophase5": 5.0, "paxos": 30.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one run each, and a partial Paxos search")
    args = parser.parse_args()
    repeat = 1 if args.quick else 3

    from consensuslab.explore import check
    from consensuslab.explore.models.protocols import (
        FIGURE8,
        FIGURE8_BOUNDS,
        FIGURE8_TERM3,
        StartingAt,
        follow,
        raft_model,
    )
    from consensuslab.explore.models.stateright import paxos_register
    from consensuslab.explore.models.twophase import two_phase_commit

    raft = raft_model(figure8_rule=True, **FIGURE8_BOUNDS)
    cases = [
        ("twophase5", "2PC, 5 RMs, DFS", lambda: check(two_phase_commit(5), strategy="dfs"), "twophase5", 8_832),
        ("twophase5_sym", "2PC, 5 RMs, DFS, stateright's symmetry",
         lambda: check(two_phase_commit(5, symmetry="stateright"), strategy="dfs"), "twophase5", 665),
        ("twophase5_orbit", "2PC, 5 RMs, DFS, exact orbits",
         lambda: check(two_phase_commit(5, symmetry="orbit"), strategy="dfs"), "twophase5", 314),
        ("paxos", "stateright Paxos, 2 clients / 3 servers, BFS",
         lambda: check(paxos_register(2, 3), strategy="bfs", max_states=4_000 if args.quick else None), "paxos", 16_668),
        ("raft", "Raft (own node), Fig. 8 bounds, rule on, term 3",
         lambda: check(StartingAt(raft, follow(raft, FIGURE8[:FIGURE8_TERM3]).last),
                       max_states=2_000 if args.quick else None), None, 9_552),
    ]
    out: dict[str, object] = {"quick": args.quick}
    print(f"{'model':<48} {'states':>8} {'time s':>8} {'states/s':>10} {'target s':>9} {'ratio':>6}")
    for key, label, run, target_key, expected in cases:
        best = float("inf")
        states = 0
        for _ in range(repeat):
            t = time.perf_counter()
            result = run()
            best = min(best, time.perf_counter() - t)
            states = result.unique_states
        full = result.complete
        if full and states != expected:
            raise SystemExit(f"{label}: {states} states, expected {expected}")
        target = TARGETS.get(target_key)
        rate = states / best
        ratio = None if target is None else best / target
        print(f"{label:<48} {states:>8,} {best:>8.2f} {rate:>10,.0f} "
              + (f"{'-':>9} {'-':>6}" if target is None else f"{target:>9.0f} {ratio:>6.2f}")
              + ("" if full else "  (partial)"))
        out.update({f"{key}_states": states, f"{key}_s": round(best, 4), f"{key}_states_per_s": round(rate, 1),
                    f"{key}_target_ratio": None if ratio is None else round(ratio, 4), f"{key}_complete": full})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
