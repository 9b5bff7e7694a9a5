"""Local live clusters: n node processes on 127.0.0.1, killed with -9, restarted, partitioned.

Theory of operation
-------------------
:class:`LocalCluster` launches ``python -m consensuslab.live.serve`` once per node, each its own OS
process with its own UDP port and data directory (``<root>/node-<i>``), and writes
``<root>/cluster.json`` (protocol, addresses, process ids) so that ``consensuslab cluster stop``
can find it again. It offers the fault methods of the simulator's cluster, so the nemesis
schedules of :class:`~consensuslab.sim.Nemesis` run unchanged on real processes
(:meth:`LocalCluster.apply_schedule`):

``crash(i)`` / ``restart(i)``   ``kill -9`` the process / start it again on the same port and data
``partition(*groups)``          every node blocks its datagrams to nodes of other groups
``cut_link(a, b)``              node ``a`` stops sending to ``b``
``set_loss(p)`` / ``heal()``    drop each datagram with probability ``p`` / clear every filter

Every wait is bounded, and :meth:`stop` (also on ``with`` exit and at interpreter exit) kills
every process it started, so a failing test leaves nothing running.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from consensuslab._validate import check_bool, check_choice, check_float, check_int
from consensuslab.live.client import control, status
from consensuslab.live.runtime import Address
from consensuslab.protocols.base import PROTOCOLS

__all__ = ["LocalCluster", "free_ports", "stop_cluster"]


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct UDP ports the kernel reports free now (bound, read, released)."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((host, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


class LocalCluster:
    """``n`` live nodes of ``protocol`` on loopback, each a separate process.

    Parameters
    ----------
    n : int
        Number of nodes, 1 to 15.
    protocol : str
        A registered protocol name ("raft", "multipaxos", "paxos", "vesta").
    root : path
        Folder for the nodes' data directories, logs and ``cluster.json``.
    options : dict, optional
        Protocol options (e.g. ``{"election_timeout": (150, 300), "heartbeat": 50}``).
    fsync : bool
        Whether nodes fsync every ``Persist`` (durable) or not.
    """

    def __init__(self, n: int, protocol: str, root: str | os.PathLike[str], options: dict[str, Any] | None = None,
                 fsync: bool = True, ports: Sequence[int] | None = None) -> None:
        self.n = check_int("n", n, 1, 15)
        self.protocol = check_choice("protocol", protocol, sorted(PROTOCOLS))
        self.root = Path(root)
        self.options = dict(options or {})
        self.fsync = check_bool("fsync", fsync)
        self.ports = list(ports) if ports is not None else free_ports(self.n)
        self.addresses: list[Address] = [("127.0.0.1", p) for p in self.ports]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * self.n
        atexit.register(self.stop)

    # -- processes --------------------------------------------------------------------------
    def _command(self, i: int) -> list[str]:
        peers = ",".join(f"{h}:{p}" for h, p in self.addresses)
        cmd = [sys.executable, "-m", "consensuslab.live.serve", "--protocol", self.protocol, "--id", str(i),
               "--peers", peers, "--data-dir", str(self.root / f"node-{i}"),
               "--options", json.dumps(self.options)]
        if not self.fsync:
            cmd.append("--no-fsync")
        return cmd

    def start(self, wait: float = 10.0) -> LocalCluster:
        """Start every node; wait until each answers a status query (at most ``wait`` s)."""
        self.root.mkdir(parents=True, exist_ok=True)
        for i in range(self.n):
            self._spawn(i)
        self._write_state()
        self.wait_up(range(self.n), wait)
        return self

    def _spawn(self, i: int) -> None:
        (self.root / f"node-{i}").mkdir(parents=True, exist_ok=True)
        logf = open(self.root / f"node-{i}.log", "ab")
        env = dict(os.environ)
        self.procs[i] = subprocess.Popen(self._command(i), stdout=logf, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        logf.close()

    def _write_state(self) -> None:
        state = {"protocol": self.protocol, "n": self.n, "addresses": [f"{h}:{p}" for h, p in self.addresses],
                 "pids": [p.pid if p is not None else None for p in self.procs], "options": self.options,
                 "fsync": self.fsync}
        tmp = self.root / "cluster.json.tmp"
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, self.root / "cluster.json")

    def wait_up(self, nodes: Iterable[int], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        for i in nodes:
            while status(self.addresses[i], 0.2) is None:
                proc = self.procs[i]
                if proc is not None and proc.poll() is not None:
                    log = (self.root / f"node-{i}.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"node {i} exited with {proc.returncode}:\n{log}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"node {i} did not answer within {timeout} s")
                time.sleep(0.05)

    def crash(self, i: int) -> None:
        """``kill -9`` node ``i`` (no-op if it is down)."""
        proc = self.procs[check_int("i", i, 0, self.n - 1)]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        self.procs[i] = None

    def restart(self, i: int, wait: float = 10.0) -> None:
        """Start node ``i`` again from its data directory (no-op if it is up)."""
        i = check_int("i", i, 0, self.n - 1)
        if self.procs[i] is not None and self.procs[i].poll() is None:  # type: ignore[union-attr]
            return
        self._spawn(i)
        self._write_state()
        self.wait_up([i], wait)

    def is_up(self, i: int) -> bool:
        proc = self.procs[i]
        return proc is not None and proc.poll() is None

    def stop(self) -> None:
        """Kill every node this object started (idempotent)."""
        for i, proc in enumerate(self.procs):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:  # pragma: no cover - the kernel did not reap it
                    pass
            self.procs[i] = None

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- observation --------------------------------------------------------------------------
    def status(self, i: int) -> dict[str, Any] | None:
        return status(self.addresses[i]) if self.is_up(i) else None

    def leader(self, timeout: float = 0.0) -> int | None:
        """The node that says it leads with the highest term (waits up to ``timeout`` s for one)."""
        deadline = time.monotonic() + timeout
        while True:
            best, term = None, -1
            for i in range(self.n):
                st = self.status(i)
                if st and st.get("role") == "leader" and (st.get("term") or 0) > term:
                    best, term = i, st.get("term") or 0
            if best is not None or time.monotonic() >= deadline:
                return best
            time.sleep(0.02)

    # -- network faults (the simulator's names, so nemesis schedules apply) --------------------
    def _ctl(self, i: int, spec: dict[str, Any]) -> None:
        if self.is_up(i):
            control(self.addresses[i], spec)

    def partition(self, *groups: Iterable[int]) -> None:
        where: dict[int, int] = {}
        for g, members in enumerate(groups):
            for i in members:
                where[check_int("groups[]", i, 0, self.n - 1)] = g
        rest = len(groups)
        for a in range(self.n):
            blocked = [b for b in range(self.n) if b != a and where.get(a, rest) != where.get(b, rest)]
            self._ctl(a, {"block": blocked})

    def cut_link(self, src: int, dst: int, both: bool = False) -> None:
        """Node ``src`` stops sending to ``dst`` (and the reverse with ``both``), on top of other cuts."""
        pairs = [(src, dst), (dst, src)] if both else [(src, dst)]
        for a, b in pairs:
            st = self.status(a) or {}
            self._ctl(a, {"block": sorted(set(st.get("blocked", [])) | {b})})

    def set_loss(self, p: float) -> None:
        p = check_float("p", p, 0.0, 1.0)
        for i in range(self.n):
            self._ctl(i, {"loss": p})

    def heal(self) -> None:
        for i in range(self.n):
            self._ctl(i, {"heal": True})

    def apply_schedule(self, events: Sequence[Any], time_scale: float = 1.0) -> None:
        """Perform nemesis events (``FaultEvent(time, action, args)``) at their times (ms) from now."""
        t0 = time.monotonic()
        for ev in sorted(events, key=lambda e: e.time):
            delay = t0 + ev.time * time_scale / 1000.0 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            getattr(self, ev.action)(*ev.args)


def stop_cluster(root: str | os.PathLike[str]) -> list[int]:
    """Kill the processes listed in ``<root>/cluster.json``; returns the pids signalled."""
    path = Path(root) / "cluster.json"
    if not path.exists():
        raise FileNotFoundError(f"no cluster.json in {root}: was a cluster started there?")
    state = json.loads(path.read_text())
    killed = []
    for pid in state.get("pids", []):
        if pid is None:
            continue
        try:
            os.killpg(pid, signal.SIGKILL)
            killed.append(pid)
        except ProcessLookupError:
            pass
    path.unlink()
    return killed
