"""Live clusters on loopback: the same protocol nodes as the simulator, real processes, kill -9.

Every cluster is started in a temporary folder and killed on exit (``LocalCluster`` is a context
manager and also registers an ``atexit`` stop); every wait is bounded.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from consensuslab.check import check_linearizable
from consensuslab.live.client import LiveClient, status
from consensuslab.live.cluster import LocalCluster
from consensuslab.live.storage import Storage, TornRecordWarning
from consensuslab.live.wire import WIRE_VERSION, WireError, decode, encode, envelope, open_envelope

RAFT = {"election_timeout": [150, 300], "heartbeat": 50}
MULTIPAXOS = {"heartbeat": 50, "leader_timeout": [150, 300]}


# -- wire format ----------------------------------------------------------------------------------
def _messages():
    from consensuslab.protocols import multipaxos, paxos, raft_messages as rm, vesta
    from consensuslab.protocols.kv import NOOP, ClientRequest, ClientResponse, Command

    cmd = Command(3, 7, "append", "k", ("x", 1))
    return [
        rm.AppendEntries(4, 1, 2, 3, (rm.Entry(3, cmd), rm.Entry(4, NOOP)), 2),
        rm.RequestVote(5, 2, 9, 4), rm.AppendEntriesReply(4, True, 3),
        paxos.Prepare(paxos.Ballot(2, 1)), paxos.Promise(paxos.Ballot(2, 1), (paxos.Ballot(1, 0), "v")),
        multipaxos.Accept(multipaxos.Ballot(3, 0), 5, cmd), ClientRequest(3, 7, cmd),
        ClientResponse(3, 7, True, value=None, leader_hint=2),
        vesta.Write(1, "k", vesta.Version((-float("inf"), 0, -1), {"a": 1}, (1, 2))),
        vesta.SyncDigest(2, (0, 1, 2), (("k", (1.5, 0, 1)),)),
    ]


def test_every_kind_of_message_round_trips() -> None:
    for msg in _messages():
        wire = json.loads(json.dumps(encode(msg)))
        assert decode(wire) == msg, msg
        kind, body = open_envelope(envelope("msg", src=1, m=msg))
        assert kind == "msg" and body["m"] == msg and body["src"] == 1


@pytest.mark.parametrize("data", [
    b"", b"\xff\xfe\x00garbage", b"[1,2,3]", b"{}", b'{"v": 99, "k": "msg"}',
    b'{"v": %d, "k": "gossip"}' % WIRE_VERSION,
    b'{"v": %d, "k": "msg", "src": 0, "m": {"C": "Nope", "f": []}}' % WIRE_VERSION,
    b'{"v": %d, "k": "msg", "src": 0, "m": {"C": "RequestVote", "f": [1, 2]}}' % WIRE_VERSION,
    b'{"v": %d, "k": "msg", "src": 0, "m": {"C": "RequestVote", "f": ["1", 2, 3, 4, false]}}' % WIRE_VERSION,
    b'{"v": %d, "k": "msg", "src": 0, "m": {"C": "RaftConfig", "f": []}}' % WIRE_VERSION,
])
def test_malformed_datagrams_are_refused(data: bytes) -> None:
    with pytest.raises(WireError):
        open_envelope(data)


def test_a_truncated_message_is_refused_at_every_cut() -> None:
    data = envelope("msg", src=0, m=_messages()[0])
    for cut in range(len(data) - 1):
        with pytest.raises(WireError):
            open_envelope(data[:cut])


# -- storage --------------------------------------------------------------------------------------
def test_storage_recovers_and_truncates_a_torn_last_record(tmp_path: Path) -> None:
    st = Storage(tmp_path / "s.log")
    st.load()
    st.persist({"term": 1, "voted_for": None})
    st.persist({"term": 2, "voted_for": 1, "log": ((1, "a"),)})
    st.close()
    whole = (tmp_path / "s.log").read_bytes()
    st2 = Storage(tmp_path / "s.log")
    assert st2.load() == {"term": 2, "voted_for": 1, "log": ((1, "a"),)}
    st2.close()
    first_len = 8 + int.from_bytes(whole[:4], "big")
    for cut in range(first_len + 1, len(whole)):  # the second record torn at every byte
        (tmp_path / "s.log").write_bytes(whole[:cut])
        st3 = Storage(tmp_path / "s.log")
        with pytest.warns(TornRecordWarning, match="truncated"):
            assert st3.load() == {"term": 1, "voted_for": None}
        st3.close()
        assert (tmp_path / "s.log").stat().st_size == first_len
    corrupt = bytearray(whole)
    corrupt[-1] ^= 0xFF  # a flipped bit in the last record: CRC mismatch
    (tmp_path / "s.log").write_bytes(bytes(corrupt))
    st4 = Storage(tmp_path / "s.log")
    with pytest.warns(TornRecordWarning, match="CRC"):
        assert st4.load() == {"term": 1, "voted_for": None}
    st4.close()


def test_storage_compacts_into_one_record(tmp_path: Path) -> None:
    st = Storage(tmp_path / "s.log", compact_every=10)
    st.load()
    for k in range(25):
        st.persist({"k": k, f"x{k % 3}": k})
    st.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = Storage(tmp_path / "s.log")
        assert again.load() == {"k": 24, "x0": 24, "x1": 22, "x2": 23}
        again.close()


# -- clusters -------------------------------------------------------------------------------------
def _workload(c: LocalCluster, clients: int = 3, ops: int = 12, kill_leader_after: int | None = 4):
    """Concurrent clients; optionally kill -9 the leader mid-run and restart it. Returns histories."""
    results: list = []
    acked: dict[str, str] = {}
    lock = threading.Lock()

    def worker(k: int) -> None:
        with LiveClient(c.addresses, client_timeout=200, op_timeout=8000) as cl:
            for j in range(ops):
                key = f"k{j % 2}"
                r = cl.append(key, f"{k}.{j};") if j % 3 else cl.get(key)
                if r.ok and j % 3:
                    with lock:
                        acked[f"{k}.{j};"] = key
            with lock:
                results.append(cl.history)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    if kill_leader_after is not None:
        time.sleep(0.05 * kill_leader_after)
        lead = c.leader(timeout=5)
        assert lead is not None
        c.crash(lead)
        time.sleep(0.4)
        c.restart(lead)
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a client thread did not finish in 60 s"
    return [op for h in results for op in h], acked


@pytest.mark.parametrize(("protocol", "options"), [("raft", RAFT), ("multipaxos", MULTIPAXOS)])
def test_a_live_cluster_survives_kill_9_of_its_leader(tmp_path: Path, protocol: str, options: dict) -> None:
    with LocalCluster(3, protocol, tmp_path, options=options) as c:
        assert c.leader(timeout=10) is not None, "no leader elected"
        history, acked = _workload(c)
        assert acked, "no write was acknowledged"
        # no acknowledged write is lost: every acked token is in the final value of its key
        with LiveClient(c.addresses, op_timeout=8000) as cl:
            finals = {key: cl.get(key) for key in ("k0", "k1")}
        for token, key in acked.items():
            assert finals[key].ok and token in (finals[key].value or ""), f"acknowledged {token!r} lost from {key}"
        result = check_linearizable(history, "kv", timeout=30)
        assert result.ok, f"live history not linearizable: {result}"


def test_a_node_fed_garbage_keeps_serving(tmp_path: Path) -> None:
    with LocalCluster(3, "raft", tmp_path, options=RAFT) as c:
        assert c.leader(timeout=10) is not None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i, addr in enumerate(c.addresses):
                for junk in (b"\x00" * 100, b"{not json", envelope("msg", src=0, m=_messages()[0])[:-5],
                             b'{"v": 1, "k": "msg", "src": 7, "m": 1}', bytes(range(256))):
                    s.sendto(junk, addr)
        time.sleep(0.3)
        with LiveClient(c.addresses, op_timeout=8000) as cl:
            assert cl.put("x", "1").ok and cl.get("x").value == "1"
        counts = [status(a)["counters"]["malformed"] for a in c.addresses]
        assert all(k >= 5 for k in counts), counts


def test_a_torn_last_record_is_truncated_and_the_node_rejoins(tmp_path: Path) -> None:
    with LocalCluster(3, "raft", tmp_path, options=RAFT) as c:
        lead = c.leader(timeout=10)
        with LiveClient(c.addresses, op_timeout=8000) as cl:
            assert cl.put("a", "1").ok
            victim = (lead + 1) % 3
            c.crash(victim)
            assert cl.put("b", "2").ok
            with open(tmp_path / f"node-{victim}" / "stable.log", "ab") as f:
                f.write(b"\x00\x00\x01\x00torn")  # a header promising 256 bytes, then the crash
            c.restart(victim)
            assert "truncated" in (tmp_path / f"node-{victim}.log").read_text()
            assert cl.put("c", "3").ok
            deadline = time.monotonic() + 10
            while (status(c.addresses[victim]) or {}).get("commit", 0) < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert status(c.addresses[victim])["commit"] >= 4  # caught up: no-op + a, b, c


def test_the_cli_starts_a_cluster_serves_kv_and_stops_it(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "consensuslab.cli"]
    d = str(tmp_path / "cl")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=60)

    start = run("cluster", "start", "--n", "3", "--dir", d)
    try:
        assert start.returncode == 0, start.stderr
        assert start.stdout.count("127.0.0.1:") == 3
        put = run("kv", "put", "greeting", "hello", "--dir", d)
        assert put.returncode == 0 and put.stdout.strip() == "ok", put.stderr
        get = run("kv", "get", "greeting", "--dir", d)
        assert get.returncode == 0 and get.stdout.strip() == "hello", get.stderr
    finally:
        stop = run("cluster", "stop", "--dir", d)
    assert stop.returncode == 0 and "stopped 3" in stop.stdout
    bad = run("kv", "get", "x", "--dir", str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and "no cluster" in bad.stderr


def test_a_simulator_nemesis_schedule_runs_on_live_processes(tmp_path: Path) -> None:
    """The same seeded fault schedule as in simulation: partitions, one-way cuts, loss, kill -9."""
    from consensuslab.sim.nemesis import Nemesis

    events = Nemesis(3, seed=5, duration=1500.0, interval=(100.0, 300.0), max_loss=0.3, one_way=True).schedule()
    assert {e.action for e in events} - {"heal", "set_loss", "restart"}, "the schedule should inject faults"
    with LocalCluster(3, "raft", tmp_path, options=RAFT) as c:
        assert c.leader(timeout=10) is not None
        done = threading.Event()
        results: list = []

        def clients() -> None:
            results.extend(_workload(c, clients=2, ops=10, kill_leader_after=None)[0])
            done.set()

        t = threading.Thread(target=clients)
        t.start()
        c.apply_schedule(events)
        t.join(timeout=90)
        assert done.is_set(), "clients did not finish within 90 s after the schedule"
        with LiveClient(c.addresses, op_timeout=8000) as cl:
            assert cl.put("after", "ok").ok  # healed: the cluster serves again
        assert check_linearizable(results, "kv", timeout=30).ok
