"""Live 3-node Raft KV on loopback: ours (consensuslab.live, UDP) vs PySyncObj (TCP), same run.

Both clusters are three OS processes on 127.0.0.1 with the same client workload: ``CLIENTS``
concurrent clients, each doing synchronous puts (wait for the answer, then the next) on its own
keys for ``SECONDS`` seconds after a leader is elected. Reported per system: throughput (ops/s)
and latency p50/p99 (ms).

Durability is equal: **fsync off** on both sides (PySyncObj's default keeps its journal in
memory; ours writes each ``Persist`` to the page cache without ``fsync``). Ours with fsync on is
reported too, as ``ours_fsync_*``. One difference is stated, not hidden: PySyncObj's clients are
threads inside one node's process that call its replicated method (``sync=True``), so they skip
a network hop; ours are separate sockets in this process sending UDP requests to the leader.

Usage: ``python benchmarks/bench_live.py [--quick]``; prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import numpy as np

from consensuslab.live.client import LiveClient
from consensuslab.live.cluster import LocalCluster, free_ports

RAFT = {"election_timeout": [150, 300], "heartbeat": 45, "max_entries": 64}  # PySyncObj needs timeout > 3 x period


def _stats(latencies: list[float], seconds: float) -> dict[str, float]:
    lat = np.asarray(latencies)
    return {"ops_per_s": len(lat) / seconds, "p50_ms": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
            "p99_ms": float(np.percentile(lat, 99)) if len(lat) else float("nan"), "ops": int(len(lat))}


def ours(clients: int, seconds: float, fsync: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d, LocalCluster(3, "raft", d, options=RAFT, fsync=fsync) as c:
        lead = c.leader(timeout=10)
        assert lead is not None, "no leader"
        lat: list[float] = []
        lock = threading.Lock()
        stop = time.monotonic() + seconds

        def worker(k: int) -> None:
            mine = []
            with LiveClient(c.addresses, op_timeout=5000) as cl:
                cl.target = lead
                j = 0
                while time.monotonic() < stop:
                    t0 = time.perf_counter()
                    if cl.put(f"c{k}-{j % 16}", str(j)).ok:
                        mine.append((time.perf_counter() - t0) * 1000)
                    j += 1
            with lock:
                lat.extend(mine)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return _stats(lat, time.monotonic() - t0)


NODE = textwrap.dedent("""
    import json, sys, threading, time
    from pysyncobj import SyncObj, SyncObjConf, replicated
    class KV(SyncObj):
        def __init__(self, me, partners):
            super().__init__(me, partners, SyncObjConf(raftMinTimeout=0.15, raftMaxTimeout=0.3,
                                                       appendEntriesPeriod=0.045, dynamicMembershipChange=False))
            self.data = {}
        @replicated
        def set(self, key, value):
            self.data[key] = value
    me, partners, drive, clients, seconds = sys.argv[1], sys.argv[2].split(","), sys.argv[3] == "1", int(sys.argv[4]), float(sys.argv[5])
    kv = KV(me, partners)
    if not drive:
        time.sleep(seconds + 30); sys.exit(0)
    deadline = time.time() + 30
    while kv._getLeader() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    lat, lock, stop = [], threading.Lock(), time.monotonic() + seconds
    def worker(k):
        mine, j = [], 0
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                kv.set("c%d-%d" % (k, j % 16), str(j), sync=True, timeout=5)
                mine.append((time.perf_counter() - t0) * 1000)
            except Exception:
                pass
            j += 1
        with lock:
            lat.extend(mine)
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    t0 = time.monotonic()
    [t.start() for t in ts]; [t.join() for t in ts]
    print(json.dumps({"lat": lat, "seconds": time.monotonic() - t0}), flush=True)
""")


def peer_pysyncobj(clients: int, seconds: float) -> dict[str, float]:
    ports = free_ports(3)
    addrs = [f"127.0.0.1:{p}" for p in ports]
    procs = []
    try:
        for i in range(3):
            partners = ",".join(a for j, a in enumerate(addrs) if j != i)
            procs.append(subprocess.Popen([sys.executable, "-c", NODE, addrs[i], partners, "1" if i == 0 else "0",
                                           str(clients), str(seconds)], stdout=subprocess.PIPE, text=True))
        out, _ = procs[0].communicate(timeout=seconds + 60)
        res = json.loads(out.strip().splitlines()[-1])
        return _stats(res["lat"], res["seconds"])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 s per system instead of 10 s")
    args = ap.parse_args()
    seconds = 2.0 if args.quick else 10.0
    clients = 8
    try:
        import pysyncobj  # noqa: F401
    except ImportError:
        sys.exit("PySyncObj is not installed: pip install -e '.[dev]' installs it")
    ours_nofsync = ours(clients, seconds, fsync=False)
    peer = peer_pysyncobj(clients, seconds)
    ours_fsync = ours(clients, seconds, fsync=True)
    result = {
        "clients": clients, "seconds": seconds, "durability": "fsync off on both (ours_fsync_*: ours with fsync on)",
        "cpus": os.cpu_count(),
        **{f"ours_{k}": v for k, v in ours_nofsync.items()},
        **{f"pysyncobj_{k}": v for k, v in peer.items()},
        **{f"ours_fsync_{k}": v for k, v in ours_fsync.items()},
        "throughput_ratio_vs_pysyncobj": ours_nofsync["ops_per_s"] / peer["ops_per_s"],
        "p50_ratio_vs_pysyncobj": ours_nofsync["p50_ms"] / peer["p50_ms"],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
