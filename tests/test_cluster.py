"""The Cluster facade's client logic, with a toy primary-backup protocol defined here.

The toy protocol: node 0 applies every command to a KVStore and answers; any other node
answers "not leader" with a hint pointing at node 0. It lets us test redirects, retries,
timeouts (unknown outcomes) and history recording independently of Raft or Paxos.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from consensuslab.cluster import Cluster
from consensuslab.protocols import base
from consensuslab.protocols.base import Monitor, ProtocolConfig
from consensuslab.protocols.kv import ClientResponse, KVStore
from consensuslab.sim import Node


class Primary(Node):
    def on_start(self):
        self.kv = KVStore()
        self.applied = []

    def on_client(self, request):
        if self.id != 0:
            self.reply(request, ClientResponse(request.client, request.seq, False, leader_hint=0))
            return
        self.applied.append(request.command)
        value = self.kv.apply(request.command)
        self.reply(request, ClientResponse(request.client, request.seq, True, value))


class NoMonitor(Monitor):
    def observe(self, sim):
        pass


@dataclass(frozen=True)
class PrimaryConfig(ProtocolConfig):
    n: int

    def make_node(self, node_id, peers, rng, stable):
        return Primary(node_id, peers, rng, stable)

    def monitor(self):
        return NoMonitor()

    def leader(self, sim):
        return 0 if sim.nodes[0] is not None else None


@pytest.fixture(autouse=True)
def toy_protocol(monkeypatch):
    monkeypatch.setitem(base.PROTOCOLS, "toy", f"{__name__}:PrimaryConfig")


def test_put_get_append_round_trip_and_history():
    c = Cluster("toy", n=3, seed=2, latency=(1, 2))
    assert c.put("x", "a").ok
    assert c.append("x", "b").ok
    got = c.get("x")
    assert got.ok and got.value == "ab"
    assert c.get("missing").value is None
    assert [op.command.op for op in c.operations] == ["put", "append", "get", "get"]
    calls = [op.call for op in c.operations]
    assert calls == sorted(calls) and all(op.ret >= op.call for op in c.operations)


def test_client_follows_the_leader_hint():
    # seed chosen so that client 0's first target is not node 0 (checked below)
    for seed in range(20):
        c = Cluster("toy", n=5, seed=seed, latency=(1, 2))
        if c._clients[0].target != 0:
            break
    op = c.put("k", "v")
    assert op.ok and op.attempts == 2  # first to a follower, then redirected to node 0
    assert c.committed(0)[-1].key == "k"


def test_unanswered_operation_has_unknown_outcome():
    c = Cluster("toy", n=3, seed=1, latency=(1, 2), client_timeout=50, op_timeout=300)
    c.crash(0)
    op = c.put("x", "1")
    assert op.done and not op.ok and op.ret is None
    assert op.attempts >= 3
    assert c.now >= 300


def test_clients_run_concurrently_and_each_has_one_op_in_flight():
    c = Cluster("toy", n=3, seed=4, latency=(1, 5), clients=3)
    ops = [c.submit("append", "log", str(i), client=i % 3) for i in range(9)]
    c.run_until(lambda: all(o.done for o in ops), timeout=1000)
    assert all(o.ok for o in ops)
    final = c.get("log").value
    assert sorted(final) == sorted("012345678")
    for cid in range(3):
        mine = [o for o in ops if o.client == cid]
        for a, b in zip(mine, mine[1:]):
            assert a.ret <= b.call  # sequential per client


def test_same_seed_same_history():
    def run(seed):
        c = Cluster("toy", n=3, seed=seed, latency=(1, 9), clients=2)
        ops = [c.submit("put", f"k{i}", i, client=i % 2) for i in range(6)]
        c.run_until(lambda: all(o.done for o in ops), timeout=1000)
        return [(o.client, o.call, o.ret) for o in c.operations]

    assert run(5) == run(5) and run(5) != run(6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="`protocol` must be one of"):
        Cluster("zab", n=3)
    with pytest.raises(ValueError, match="`n` must be an int >= 1; got 0"):
        Cluster("toy", n=0)
    c = Cluster("toy", n=3)
    with pytest.raises(ValueError, match="`op` must be one of"):
        c.submit("delete", "x")
    with pytest.raises(TypeError, match="`key` must be a str"):
        c.put(3, "x")
    with pytest.raises(ValueError, match="`client` must be an int >= 0 and <= 0; got 2"):
        c.put("x", "y", client=2)
    with pytest.raises(ValueError, match="`i` must be an int"):
        c.committed(7)
