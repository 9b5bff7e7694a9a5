"""Benchmark consensuslab.hashing against uhashring (default, ketama) and jump-consistent-hash.

Run: ``python benchmarks/bench_hashing.py [--quick]``. Prints a table, then one JSON object on
the last line. Peers are called per key (that is their API); per-key peer timings are measured
on a subsample and scaled to the full key count (``peer_sample`` keys).

Figures: 1M uint64 keys on 100 nodes; 1M string keys ``"key-<i>"`` on 100 nodes; 10M uint64 keys
on 1000 nodes (ours only) with lookup-state memory. AnchorHash runs with its default capacity
(twice the node count: about 1.7 hash evaluations per key).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import jump
import numpy as np
import xxhash
from uhashring import HashRing

from consensuslab.hashing import AnchorHash, Jump, Maglev, Ring


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    m = 200_000 if args.quick else 1_000_000
    big = 2_000_000 if args.quick else 10_000_000
    sample = 20_000 if args.quick else 100_000
    repeat = 3 if args.quick else 5
    rng = np.random.default_rng(0)
    nodes = [f"node-{i}" for i in range(100)]
    u64 = rng.integers(0, 2**64 - 1, m, dtype=np.uint64)
    strs = [f"key-{i}" for i in range(m)]

    ours = {"ring": Ring(nodes), "jump": Jump(nodes), "maglev": Maglev(nodes), "anchor": AnchorHash(nodes)}
    uh = HashRing(nodes)
    uk = HashRing(nodes, hash_fn="ketama")
    res: dict[str, float] = {"keys": m}

    # ---- peers (per key), on a sample, scaled
    ints_s = u64[:sample].tolist()
    strs_s = strs[:sample]
    scale = m / sample
    res["uhashring_uint64_s"] = best_of(lambda: [uh.get_node(k) for k in ints_s], 2) * scale
    res["uhashring_str_s"] = best_of(lambda: [uh.get_node(k) for k in strs_s], 2) * scale
    res["uhashring_ketama_str_s"] = best_of(lambda: [uk.get_node(k) for k in strs_s], 2) * scale
    jh, xx = jump.hash, xxhash.xxh64_intdigest
    res["jumpc_uint64_s"] = best_of(lambda: [jh(k, 100) for k in ints_s], 2) * scale
    res["jumpc_xxhash_str_s"] = best_of(lambda: [jh(xx(k.encode()), 100) for k in strs_s], 2) * scale

    # ---- ours
    for name, algo in ours.items():
        res[f"{name}_uint64_s"] = best_of(lambda a=algo: a.assign(u64), repeat)
        res[f"{name}_str_s"] = best_of(lambda a=algo: a.assign(strs), repeat)
        res[f"{name}_uint64_ratio_vs_uhashring"] = res["uhashring_uint64_s"] / res[f"{name}_uint64_s"]
        res[f"{name}_str_ratio_vs_uhashring"] = res["uhashring_str_s"] / res[f"{name}_str_s"]
        res[f"{name}_str_ratio_vs_jumpc_xxhash"] = res["jumpc_xxhash_str_s"] / res[f"{name}_str_s"]
    res["jump_uint64_ratio_vs_jumpc"] = res["jumpc_uint64_s"] / res["jump_uint64_s"]
    kr = Ring(nodes, mode="ketama")
    res["ours_ketama_str_s"] = best_of(lambda: kr.assign(strs), 2)
    res["ours_ketama_ratio_vs_uhashring_ketama"] = res["uhashring_ketama_str_s"] / res["ours_ketama_str_s"]

    # ---- 10M uint64 on 1000 nodes
    nodes_k = [f"node-{i}" for i in range(1000)]
    bigkeys = rng.integers(0, 2**64 - 1, big, dtype=np.uint64)
    big_algos = {"ring": Ring(nodes_k), "jump": Jump(nodes_k), "maglev": Maglev(nodes_k), "anchor": AnchorHash(nodes_k)}
    for name, algo in big_algos.items():
        res[f"{name}_{big // 1_000_000}M_1000nodes_s"] = best_of(lambda a=algo: a.assign(bigkeys), 2)
        res[f"{name}_1000nodes_state_bytes"] = algo.memory_bytes()

    print(f"{'figure':48s} {'value':>14s}")
    for k, v in res.items():
        print(f"{k:48s} {v:14.4g}")
    print(json.dumps({k: (round(v, 6) if isinstance(v, float) else v) for k, v in res.items()}))


if __name__ == "__main__":
    main()
