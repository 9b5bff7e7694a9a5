"""Benchmark: the linearizability checker on Porcupine's reference histories.

Times ``check_linearizable`` on all 102 Jepsen etcd histories (target: < 3 s in total) and on
each key-value history (target: < 5 s for each 50-client history), best of several repeats,
and the same search with its reductions switched off (plain Wing & Gong + Lowe memo, capped per
history) to show what the reductions buy (the speedup is a lower bound if any baseline
run hit the cap). Porcupine itself is Go and cannot run here; its
figure from the issue (about 1 s for the 102 etcd histories on this 2-core machine) is quoted.

Usage: ``python benchmarks/bench_linearizability.py [--quick]``; the last line printed is one
JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from consensuslab.check import check_linearizable, load_jepsen_etcd, load_porcupine_kv
from consensuslab.check.jepsen import porcupine_dir, reference_file
from consensuslab.check.linearizability import _check_part
from consensuslab.check.models import get_model

ROOT = porcupine_dir()  # the repository's data/jepsen
PORCUPINE_ETCD_S = 1.0  # issue 8: "Porcupine (Go) checks all 102 etcd histories in about 1 s"


def _load() -> tuple[dict, dict, dict, float]:
    expected = json.loads((ROOT / "expected.json").read_text())
    t0 = time.perf_counter()
    etcd = {n: load_jepsen_etcd(reference_file(n)) for n in sorted(expected) if n.startswith("jepsen/")}
    kv = {n: load_porcupine_kv(reference_file(n)) for n in sorted(expected) if n.startswith("kv/")}
    return expected, etcd, kv, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat, short baseline cap")
    args = parser.parse_args(argv)
    if not (ROOT / "expected.json").is_file():
        print(f"Porcupine reference histories not found at {ROOT.resolve()}; nothing to time.")
        out = {"skipped": True}
        print(json.dumps(out))
        return out
    repeats = 1 if args.quick else 3
    cap = 0.2 if args.quick else 2.0

    expected, etcd, kv, load_s = _load()

    etcd_totals = []
    wrong = 0
    for _ in range(repeats):
        total = 0.0
        for name, h in etcd.items():
            t = time.perf_counter()
            res = check_linearizable(h, "cas-register")
            total += time.perf_counter() - t
            wrong += res.ok is not expected[name]
        etcd_totals.append(total)
    etcd_s = min(etcd_totals)

    kv_s: dict[str, float] = {}
    for name, h in kv.items():
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            res = check_linearizable(h, "kv")
            times.append(time.perf_counter() - t)
            wrong += res.ok is not expected[name]
        kv_s[name] = min(times)

    # Baseline: the same search without the reductions, each history capped at `cap` seconds.
    model = get_model("cas-register")
    base_total, base_undecided = 0.0, 0
    for name, h in etcd.items():
        t = time.perf_counter()
        res = _check_part(h, model, t + cap, reductions=False)
        base_total += time.perf_counter() - t
        if res.ok is None:
            base_undecided += 1
        elif res.ok is not expected[name]:
            wrong += 1

    print(f"{'workload':32s} {'seconds':>10s}  target")
    print(f"{'load 108 files':32s} {load_s:10.3f}")
    print(f"{'etcd x102 (ours, best of %d)' % repeats:32s} {etcd_s:10.3f}  < 3 s   (Porcupine/Go ~{PORCUPINE_ETCD_S} s)")
    for name, s in kv_s.items():
        target = "< 5 s" if "c50" in name else ""
        print(f"{name:32s} {s:10.3f}  {target}")
    print(
        f"{'etcd x102 without reductions':32s} {base_total:10.3f}  "
        f"({base_undecided} of {len(etcd)} undecided at the {cap} s cap)"
    )
    print(f"wrong verdicts: {wrong}")
    c50 = max(kv_s["kv/c50-ok.txt"], kv_s["kv/c50-bad.txt"])
    out = {
        "etcd_102_total_s": round(etcd_s, 4),
        "etcd_ratio_vs_porcupine_stated": round(etcd_s / PORCUPINE_ETCD_S, 3),
        "etcd_target_met": etcd_s < 3.0,
        "kv_c50_max_s": round(c50, 4),
        "kv_c50_target_met": c50 < 5.0,
        **{f"kv_{Path(n).stem.replace('-', '_')}_s": round(s, 4) for n, s in kv_s.items()},
        "load_s": round(load_s, 4),
        "etcd_no_reductions_s": round(base_total, 4),
        "etcd_no_reductions_undecided": base_undecided,
        "no_reductions_cap_s": cap,
        "speedup_vs_no_reductions": round(base_total / etcd_s, 2) if etcd_s else math.nan,
        "wrong_verdicts": wrong,
        "repeats": repeats,
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
