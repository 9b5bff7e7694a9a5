"""Benchmark the quorum package: enumeration at n=20, 1M WARS trials, load LPs; ratio vs quoracle.

Run: ``python benchmarks/bench_quorum.py [--quick]``. Prints a table, then one JSON object on
the last line. Each timing is the best of ``repeat`` runs (2 cores are shared; run twice).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Callable

import numpy as np


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and trials")
    args = parser.parse_args()
    repeat = 2 if args.quick else 5
    wars_trials = 200_000 if args.quick else 1_000_000

    from consensuslab.quorum import Grid, Majority, ReadWriteSystem, Threshold, expr, pbs
    from consensuslab.quorum._core import all_states

    rows: list[tuple[str, float, str]] = []
    out: dict[str, float] = {}

    # -- exact enumeration over all 2**20 states ---------------------------------------------
    all_states(20)  # warm the state cache once (reported separately)
    p = np.linspace(0.01, 0.3, 20)
    t_thr = best(lambda: Threshold(20, 11).availability(p, method="enumerate"), repeat)
    g45 = Grid(4, 5)
    t_grid = best(lambda: g45.availability(p, method="enumerate"), repeat)
    ring = expr(" | ".join(f"(n{i} & n{(i + 1) % 20} & n{(i + 2) % 20})" for i in range(20)))
    t_expr = best(lambda: ring.availability(p, method="enumerate"), repeat)
    rows += [("enumerate 2^20 states: Threshold(20,11)", t_thr, "s"), ("enumerate 2^20 states: Grid(4x5)", t_grid, "s"),
             ("enumerate 2^20 states: 20-term expression", t_expr, "s")]
    out.update(enum20_threshold_s=t_thr, enum20_grid_s=t_grid, enum20_expr_s=t_expr)

    # -- WARS Monte Carlo ----------------------------------------------------------------------
    for name in pbs.PROFILES:
        t = best(lambda name=name: pbs.wars(3, 1, 1, name, [0.0, 10.0], trials=wars_trials, seed=1), repeat)
        rows.append((f"WARS {wars_trials:,} trials N=3 R=W=1 {name}", t, "s"))
        out[f"wars_{name.lower().replace('-', '_')}_s"] = t
    out["wars_trials"] = wars_trials
    out["wars_trials_per_s"] = wars_trials / max(out[k] for k in out if k.startswith("wars_") and k.endswith("_s"))

    # -- load LPs --------------------------------------------------------------------------------
    lp_cases = {
        "Majority(11) LP (462 quorums)": lambda: Majority(11).load(method="lp"),
        "Grid(5x5) LP (25 quorums)": lambda: Grid(5, 5).load(method="lp"),
        "Majority(15) LP (6435 quorums)": lambda: Majority(15).load(method="lp"),
    }
    for label, fn in lp_cases.items():
        t = best(fn, repeat)
        rows.append((label, t, "s"))
        out["lp_" + label.split(" ")[0].lower().replace("(", "").replace(")", "").replace("x", "x") + "_s"] = t

    # -- vs quoracle: load of the same read/write systems -----------------------------------------
    try:
        import quoracle as qr
    except ImportError:  # pragma: no cover
        qr = None
    if qr is not None:
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        names = "abcdefgh"
        n = {x: qr.Node(x) for x in names}
        cases = {
            "grid 2x3 (f=0.25)": (ReadWriteSystem(expr("a*b*c + d*e*f")), qr.QuorumSystem(reads=n["a"] * n["b"] * n["c"] + n["d"] * n["e"] * n["f"]), 0.25),
            "majority 5 (f=0.5)": (ReadWriteSystem(expr("choose(3, a, b, c, d, e)")), qr.QuorumSystem(reads=qr.choose(3, [n[x] for x in "abcde"])), 0.5),
            "majority 7 (f=0.9)": (ReadWriteSystem(expr("choose(4, a, b, c, d, e, f, g)")), qr.QuorumSystem(reads=qr.choose(4, [n[x] for x in "abcdefg"])), 0.9),
        }
        ratios = []
        for label, (ours, theirs, f) in cases.items():
            a = ours.load(read_fraction=f, method="lp")
            b = theirs.load(read_fraction=f)
            assert abs(a - b) < 1e-6, (label, a, b)
            t_ours = best(lambda ours=ours, f=f: ours.load(read_fraction=f, method="lp"), repeat)
            t_theirs = best(lambda theirs=theirs, f=f: theirs.load(read_fraction=f), repeat)
            rows.append((f"load {label}: ours", t_ours, "s"))
            rows.append((f"load {label}: quoracle", t_theirs, "s"))
            key = label.split(" (")[0].replace(" ", "_")
            out[f"load_{key}_ours_s"] = t_ours
            out[f"load_{key}_quoracle_s"] = t_theirs
            out[f"load_{key}_speedup_vs_quoracle"] = t_theirs / t_ours
            ratios.append(t_theirs / t_ours)
        out["load_speedup_vs_quoracle_geomean"] = float(np.exp(np.mean(np.log(ratios))))

    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'time':>10}")
    for label, t, unit in rows:
        print(f"{label:<{width}}  {t * 1000:>8.1f} ms")
    print(json.dumps({k: (round(v, 6) if isinstance(v, float) else v) for k, v in out.items()}))


if __name__ == "__main__":
    main()
