"""Cluster histories through the checker, with two toy protocols defined here.

``single``: node 0 serves every request and the others redirect to it — linearizable whatever
the faults between nodes. ``local``: every node answers from its own unreplicated store — reads
on one node miss writes made on another, so the history is not linearizable. They exercise
:func:`kv_workload` and the ``Cluster.history`` -> ``check_linearizable`` path without Raft or
VeSTA (whose own suites check their histories).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

cluster_mod = pytest.importorskip("consensuslab.cluster")

from consensuslab.check import check_linearizable  # noqa: E402
from consensuslab.experiments.linearizability import kv_workload  # noqa: E402
from consensuslab.protocols.base import Monitor, ProtocolConfig  # noqa: E402
from consensuslab.protocols.kv import ClientResponse, KVStore  # noqa: E402
from consensuslab.node import Node  # noqa: E402


class _NoMonitor(Monitor):
    def observe(self, sim):
        return None


class _Local(Node):
    def on_start(self):
        self.store = KVStore()

    def on_client(self, request):
        value = self.store.apply(request.command)
        self.reply(request, ClientResponse(request.client, request.seq, True, value))


class _Single(_Local):
    def on_client(self, request):
        if self.id != 0:
            self.reply(request, ClientResponse(request.client, request.seq, False, leader_hint=0))
            return
        super().on_client(request)


@dataclass(frozen=True)
class _Config(ProtocolConfig):
    n: int
    node: type = _Local

    def make_node(self, node_id, peers, rng, stable):
        return self.node(node_id, peers, rng, stable)

    def monitor(self):
        return _NoMonitor()


@pytest.fixture
def toy(monkeypatch):
    kinds = {"local": _Local, "single": _Single}

    def config_class(protocol):
        return lambda n, **kw: _Config(n=n, node=kinds[protocol])

    monkeypatch.setattr(cluster_mod, "config_class", config_class)
    return cluster_mod.Cluster


def test_single_server_history_is_linearizable(toy):
    c = toy("single", n=3, seed=4, clients=4)
    faults = [(200, lambda c: c.partition([0, 1], [2])), (600, lambda c: c.heal())]
    h = kv_workload(c, 1000, faults=faults, seed=4)
    assert len(h) > 40 and len({op.client for op in h}) == 4
    res = check_linearizable(h, "kv", timeout=30)
    assert res.ok is True, res.explain()


def test_unreplicated_local_stores_are_not_linearizable(toy):
    c = toy("local", n=3, seed=2, clients=4)
    h = kv_workload(c, 1000, seed=2)
    res = check_linearizable(h, "kv", timeout=30)
    assert res.ok is False
    assert res.unplaceable and res.failing_time is not None


def test_workload_is_deterministic(toy):
    runs = []
    for _ in range(2):
        c = toy("single", n=3, seed=7, clients=3)
        runs.append(kv_workload(c, 300, seed=7))
    assert runs[0] == runs[1]


def test_workload_validates(toy):
    c = toy("single", n=3, seed=0, clients=1)
    with pytest.raises(ValueError, match="duration"):
        kv_workload(c, 0)
    with pytest.raises(ValueError, match="mix"):
        kv_workload(c, 10, mix=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="client"):
        kv_workload(toy("single", n=3, seed=0, clients=0), 10)
