"""VeSTA: placement, quorums, versions, failure handling, membership, safety, the Raft variant.

References: DeCandia et al. (Dynamo, SOSP 2007) §4.3 (vector clocks -> here LWW by HLC),
§4.5 (sloppy quorum / hinted handoff, §4.6), §4.7 (anti-entropy); Bailis et al. (PBS, 2012) §4.
"""

from __future__ import annotations

import numpy as np
import pytest

from consensuslab.check import SafetyViolation, check_linearizable
from consensuslab.cluster import Cluster
from consensuslab.protocols.vesta import (
    Read,
    ReadReply,
    Version,
    VestaConfig,
    VestaNode,
    Write,
    WriteAck,
)
from consensuslab.scenarios.vesta import holders, reconfigure
from consensuslab.node import Send, SetTimer
from consensuslab.protocols.kv import ClientRequest, ClientResponse, Command


def _cluster(**kw):
    kw.setdefault("n", 5)
    kw.setdefault("seed", 1)
    kw.setdefault("check_every_step", True)
    return Cluster("vesta", **kw)


# -- placement ------------------------------------------------------------------------------


def test_preference_list_comes_from_hashing_and_is_distinct():
    from consensuslab.hashing import make

    cfg = VestaConfig(n=8, replicas=3)
    keys = [f"user:{i}" for i in range(300)]
    prefs = cfg.preferences(keys)
    oracle = make("ring", [f"n{i}" for i in range(8)]).assign(keys, replicas=3)
    assert np.array_equal(prefs, oracle)  # node "n{i}" is simulator node i
    assert all(len(set(row)) == 3 for row in prefs.tolist())
    for k in keys[:20]:
        assert cfg.preference(k, cfg.members)[:3] == tuple(prefs[keys.index(k)])


@pytest.mark.parametrize("algorithm", ["ring", "jump", "rendezvous", "maglev", "multiprobe"])
def test_any_hashing_algorithm_places_writes_on_its_replicas(algorithm):
    c = _cluster(n=6, algorithm=algorithm)
    for i in range(10):
        assert c.put(f"k{i}", i).ok
    c.run_for(100)
    for i in range(10):
        reps = c.config.preference(f"k{i}", c.config.members)[:3]
        assert sorted(holders(c, f"k{i}")) == sorted(reps)


# -- quorum reads and writes -----------------------------------------------------------------


def test_write_answers_after_w_acks_and_read_returns_newest_of_r():
    """The coordinator (the node receiving the request) answers after W acks; a read returns
    the newest of the first R replies."""
    cfg = VestaConfig(n=5, replicas=3, r=2, w=2)
    node = VestaNode(4, tuple(range(5)), np.random.default_rng(0), {}, config=cfg)
    node.on_start()
    key = next(k for k in (f"k{i}" for i in range(100)) if 4 not in cfg.preference(k, cfg.members)[:3])
    reps = cfg.preference(key, cfg.members)[:3]
    node.out = []
    req = ClientRequest(0, 1, Command(0, 1, "put", key, "v"))
    node.on_client(req)
    writes = [e for e in node.out if isinstance(e, Send) and isinstance(e.msg, Write)]
    assert sorted(e.dst for e in writes) == sorted(reps)  # sent to all N replicas
    stamp = writes[0].msg.version.stamp
    node.out = []
    node.on_message(reps[0], WriteAck(writes[0].msg.op, key, stamp))
    assert not any(type(e).__name__ == "Reply" for e in node.out)  # 1 < W
    node.on_message(reps[1], WriteAck(writes[0].msg.op, key, stamp))
    replies = [e for e in node.out if type(e).__name__ == "Reply"]
    assert len(replies) == 1 and replies[0].response == ClientResponse(0, 1, True, None)
    # read: newest of the first R answers
    node.out = []
    node.on_client(ClientRequest(0, 2, Command(0, 2, "get", key)))
    reads = [e for e in node.out if isinstance(e, Send) and isinstance(e.msg, Read)]
    op = reads[0].msg.op
    old, new = Version((1.0, 0, 1), "old"), Version((2.0, 0, 2), "new")
    node.out = []
    node.on_message(reps[0], ReadReply(op, key, old))
    assert not any(type(e).__name__ == "Reply" for e in node.out)
    node.on_message(reps[1], ReadReply(op, key, new))
    (reply,) = [e for e in node.out if type(e).__name__ == "Reply"]
    assert reply.response.value == "new"


def test_strict_quorum_read_after_write_and_unavailable_without_quorum():
    c = _cluster()
    assert c.put("x", "1").ok
    assert c.get("x").value == "1"
    reps = c.config.preference("x", c.config.members)[:3]
    c.crash(reps[0])
    c.crash(reps[1])
    op = c.put("x", "2", timeout=1000)
    assert not op.ok  # only 1 of 3 replicas: W=2 impossible without sloppy quorums


def test_w1_r1_can_read_stale_but_strict_cannot():
    """R+W<=N: a read may miss the write quorum (Bailis et al. §3); R+W>N: it never does."""
    stale = 0
    for seed in range(10):
        c = Cluster("vesta", n=5, seed=seed, clients=2, r=1, w=1, read_repair=False)
        reps = c.config.preference("k", c.config.members)[:3]
        c.put("k", "a", client=0)
        c.isolate(reps[1])
        c.isolate(reps[2])
        assert c.put("k", "b", client=0).ok  # W=1: acknowledged by reps[0] alone
        c.heal()
        stale += c.get("k", client=1).value != "b"
    assert stale > 0
    for seed in range(10):
        c = Cluster("vesta", n=5, seed=seed, clients=2, r=2, w=2, read_repair=False)
        reps = c.config.preference("k", c.config.members)[:3]
        c.put("k", "a", client=0)
        c.isolate(reps[2])
        assert c.put("k", "b", client=0).ok
        c.heal()
        assert c.get("k", client=1).value == "b"  # every 2-read meets every 2-write of 3


# -- versions -------------------------------------------------------------------------------


def test_lww_applies_only_newer_stamps_and_hlc_orders_append_after_read():
    cfg = VestaConfig(n=3, replicas=3)
    node = VestaNode(0, (0, 1, 2), np.random.default_rng(0), {}, config=cfg)
    node.on_start()
    assert node.apply("k", Version((5.0, 0, 1), "a"))
    assert not node.apply("k", Version((4.0, 9, 2), "older"))  # LWW: older stamp loses
    assert not node.apply("k", Version((5.0, 0, 1), "a"))  # same version: idempotent
    assert node.apply("k", Version((5.0, 1, 0), "b"))
    assert [e.version.value for e in node.log] == ["a", "b"]
    # HLC: after observing a stamp from the future, local stamps are larger
    node._observe((1000.0, 3, 2))
    assert node._tick() > (1000.0, 3, 2)


def test_append_is_read_modify_write_and_concurrent_appends_can_lose_updates():
    """LWW keeps no siblings: two concurrent appends read the same base, one is lost."""
    lost = 0
    for seed in range(10):
        c = Cluster("vesta", n=5, seed=seed, clients=2, latency=(5, 15))
        a = c.append("k", "a;", client=0, wait=False)
        b = c.append("k", "b;", client=1, wait=False)
        c.run_until(lambda: a.done and b.done, 3000)
        final = c.get("k").value
        assert a.ok and b.ok
        lost += final in ("a;", "b;")
    assert lost > 0


def test_clock_skew_makes_lww_drop_a_later_write():
    """With skewed clocks a later write (real time) can carry an older stamp and be discarded."""
    dropped = 0
    for seed in range(20):
        c = Cluster("vesta", n=5, seed=seed, clients=2, clock_skew=200.0)
        c.put("k", "first", client=0)
        c.put("k", "second", client=1)
        c.run_for(100)
        dropped += c.get("k").value == "first"
    assert dropped > 0


# -- failure handling -----------------------------------------------------------------------


def test_sloppy_quorum_uses_fallbacks_and_hinted_handoff_returns_data():
    """Dynamo §4.6: the first N healthy nodes take the write; hints go home when the replica is back."""
    c = _cluster(n=6, sloppy=True)
    reps = c.config.preference("x", c.config.members)[:3]
    c.crash(reps[0])
    c.crash(reps[1])
    assert c.put("x", "v").ok  # one replica + one fallback
    hinted = [i for i in range(6) if c.node(i) is not None and c.node(i).hints]
    assert hinted and not set(hinted) & set(reps)
    c.restart(reps[0])
    c.restart(reps[1])
    c.run_for(500)
    assert sorted(holders(c, "x")) == sorted(reps)
    assert all(not c.node(i).hints for i in range(6))


def _stale_replica_cluster(**kw):
    """A cluster where one replica of "x" missed the last write (its isolation ended)."""
    for seed in range(20):
        c = _cluster(seed=seed, r=3, w=2, **kw)
        reps = c.config.preference("x", c.config.members)[:3]
        c.put("x", "old")
        c.isolate(reps[2])
        c.put("x", "new")
        c.heal()
        c.run_for(50)
        if holders(c, "x")[reps[2]].value == "old":  # (unless reps[2] coordinated the write)
            return c, reps[2]
    raise AssertionError("no seed produced a stale replica")


def test_read_repair_fixes_stale_replica():
    c, stale = _stale_replica_cluster(read_repair=True)
    assert c.get("x").value == "new"
    c.run_for(100)
    assert holders(c, "x")[stale].value == "new"


def test_no_read_repair_leaves_replica_stale():
    c, stale = _stale_replica_cluster(read_repair=False)
    assert c.get("x").value == "new"
    c.run_for(200)
    assert holders(c, "x")[stale].value == "old"


def test_anti_entropy_converges_all_replicas():
    c = _cluster(anti_entropy=True, anti_entropy_interval=50.0, read_repair=False, w=1, r=1)
    c.isolate(3)
    c.isolate(4)
    for i in range(30):
        assert c.put(f"k{i}", i).ok
    c.heal()

    def converged():
        for i in range(30):
            h = holders(c, f"k{i}")
            reps = c.config.preference(f"k{i}", c.config.members)[:3]
            if sorted(h) != sorted(reps) or any(v.value != i for v in h.values()):
                return False
        return True

    assert not converged()
    assert c.run_until(converged, 5000)


# -- membership -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_membership_change_moves_exactly_the_ring_keys_with_their_data(seed):
    c = _cluster(n=6, seed=seed, members=(0, 1, 2, 3, 4), clients=3)
    keys = [f"key{i}" for i in range(90)]
    ops = [c.submit("put", k, f"v-{k}", client=i % 3) for i, k in enumerate(keys)]
    c.run_until(lambda: all(o.done for o in ops), 20000)
    assert all(o.ok for o in ops)
    c.run_for(200)
    for before, after in [((0, 1, 2, 3, 4), (0, 1, 2, 3, 4, 5)), ((0, 1, 2, 3, 4, 5), (0, 2, 3, 4, 5))]:
        for i in range(6):
            c.node(i).moved_keys.clear()
        old, new = c.config.preferences(keys, before), c.config.preferences(keys, after)
        must_move = {k for k, a, b in zip(keys, old, new) if set(a) != set(b)}
        reconfigure(c, after)
        c.run_for(1000)
        moved = set().union(*(c.node(i).moved_keys for i in range(6)))
        assert moved == must_move  # only the keys the ring says
        for k, row in zip(keys, new):
            h = holders(c, k)
            assert sorted(h) == sorted(row.tolist())  # the data moved with them
            assert {v.value for v in h.values()} == {f"v-{k}"}  # nothing lost
    assert not c.node(1).store  # the removed node handed everything over


def test_membership_change_survives_a_crash_of_a_new_replica():
    c = _cluster(n=6, members=(0, 1, 2, 3, 4))
    keys = [f"key{i}" for i in range(40)]
    for k in keys:
        c.put(k, k)
    reconfigure(c, range(6))
    c.crash(5)  # the joining node crashes while data is moving to it
    c.run_for(300)
    c.restart(5)
    c.run_for(1000)
    new = c.config.preferences(keys, range(6))
    for k, row in zip(keys, new):
        assert sorted(holders(c, k)) == sorted(row.tolist())


# -- safety monitor and the no-loss property ------------------------------------------------


def _crash_stop_run(seed, *, max_crashes, config):
    """Clients run while up to ``max_crashes`` nodes crash for good (data gone: durable=False),
    with partitions and loss from the nemesis; the monitor checks after every step."""
    c = Cluster("vesta", n=5, seed=seed, clients=3, check_every_step=True, client_timeout=300,
                op_timeout=1500, durable=False, **config)
    rng = np.random.default_rng(seed)
    c.nemesis(seed, duration=800, interval=(40, 200), crash=False, max_loss=0.2)
    victims = rng.choice(5, size=max_crashes, replace=False)
    for v in victims:
        c.sim.schedule(float(rng.uniform(0, 800)), c.crash, int(v))
    ops = [c.submit(["put", "append", "get"][i % 3], f"k{i % 3}", f"{i};", client=i % 3) for i in range(24)]
    c.run_until(lambda: all(o.done for o in ops), 5000)
    c.run_for(300)
    c.check_safety()
    return c


@pytest.mark.parametrize("config", [
    {"replicas": 3, "r": 2, "w": 2},
    {"replicas": 3, "r": 2, "w": 2, "sloppy": True},
    {"replicas": 3, "r": 1, "w": 2, "anti_entropy": True},
])
def test_no_acknowledged_write_lost_with_at_most_n_minus_w_crashes(config):
    """N - W = 1 < W: some node that acknowledged each write survives (200 seeds per config)."""
    for seed in range(200):
        try:
            _crash_stop_run(seed, max_crashes=config["replicas"] - config["w"], config=config)
        except SafetyViolation as exc:
            pytest.fail(f"{exc} config={config!r} seed={seed}")


def test_writes_can_be_lost_when_w_is_one():
    """N=3, W=1: N - W = 2 crashes may take the only acknowledging replica -> the monitor fires."""
    config = {"replicas": 3, "r": 1, "w": 1}
    losses = 0
    for seed in range(60):
        try:
            _crash_stop_run(seed, max_crashes=2, config=config)
        except SafetyViolation as exc:
            assert exc.invariant == "Acknowledged-Write Durability"
            losses += 1
    assert losses > 0


def test_durable_replicas_lose_nothing_under_the_full_nemesis():
    """Crash-recover (durable) with crashes, partitions and loss: log and durability invariants."""
    for cfg in ({}, {"sloppy": True, "anti_entropy": True}, {"r": 1, "w": 1}):
        for seed in range(100):
            c = Cluster("vesta", n=5, seed=seed, clients=3, check_every_step=True, op_timeout=1500, **cfg)
            c.nemesis(seed, duration=800, interval=(30, 150))
            ops = [c.submit(["put", "get", "append"][i % 3], f"k{i % 3}", str(i), client=i % 3) for i in range(18)]
            try:
                c.run_until(lambda: all(o.done for o in ops), 5000)
                c.run_for(200)
            except SafetyViolation as exc:
                pytest.fail(f"{exc} config={cfg!r} seed={seed}")


def test_monitor_catches_a_corrupted_log():
    c = _cluster()
    c.put("x", "1")
    node = next(c.node(i) for i in range(5) if "x" in c.node(i).store)
    node.store["x"] = Version((0.0, 0, 0), "forged")
    from consensuslab.protocols.vesta import LogEntry

    node.log.append(LogEntry(len(node.log), "x", Version((-1.0, 0, 0), "older")))
    with pytest.raises(SafetyViolation, match="Log Monotonicity"):
        c.check_safety()


def test_restart_recovers_log_and_store_from_stable_storage():
    c = _cluster()
    for i in range(10):
        c.put(f"k{i}", i)
    before = {i: dict(c.node(i).store) for i in range(5)}
    for i in range(5):
        c.crash(i)
        c.restart(i)
    assert {i: dict(c.node(i).store) for i in range(5)} == before


# -- the Raft variant -----------------------------------------------------------------------


def test_raft_variant_is_linearizable_under_the_nemesis():
    for seed in range(8):
        c = Cluster("vesta", n=5, seed=seed, clients=3, consistency="raft", check_every_step=True, op_timeout=3000)
        c.nemesis(seed, duration=1500, interval=(50, 300))
        ops = []
        for i in range(30):
            ops.append(c.submit("append" if i % 3 else "get", f"k{i % 2}", f"{i};", client=i % 3))
        c.run_until(lambda: all(o.done for o in ops), 20000)
        res = check_linearizable(c.history, "kv", timeout=30)
        assert res.ok, f"config=raft seed={seed}"


def test_raft_variant_hosts_one_embedded_raft_member_per_partition():
    from consensuslab.protocols.raft import RaftNode

    c = _cluster(consistency="raft", clients=1)
    for i in range(8):
        assert c.put(f"k{i}", i).ok
    groups = {tuple(sorted(c.config.preference(f"k{i}", c.config.members)[:3])) for i in range(8)}
    for g in groups:
        for i in g:
            assert isinstance(c.node(i).groups[g], RaftNode)
            assert c.node(i).groups[g].peers == g
    assert c.get("k3").value == 3


def test_raft_variant_rejects_membership_change():
    c = _cluster(consistency="raft")
    with pytest.raises(Exception, match="not supported"):
        reconfigure(c, range(4))
        c.run_for(10)


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("kw, exc, msg", [
    ({"replicas": 0}, ValueError, "`replicas` must be an int >= 1"),
    ({"replicas": 6}, ValueError, "`replicas` must be an int >= 1 and <= 5"),
    ({"r": 4}, ValueError, "`r` must be an int >= 1 and <= 3"),
    ({"w": 0}, ValueError, "`w`"),
    ({"w": 1.5}, TypeError, "`w` must be an int"),
    ({"consistency": "strong"}, ValueError, "`consistency` must be one of"),
    ({"sloppy": "yes"}, TypeError, "`sloppy` must be a bool"),
    ({"algorithm": "nope"}, ValueError, "`algorithm`"),
    ({"members": (0, 0, 1)}, ValueError, "`members` must be distinct"),
    ({"members": (0, 9)}, ValueError, "`members\\[\\]`"),
    ({"members": (0, 1), "replicas": 3}, ValueError, "`replicas`"),
    ({"sloppy_timeout": 500.0}, ValueError, "`sloppy_timeout`"),
    ({"heartbeat": 200.0}, ValueError, "`heartbeat`"),
])
def test_bad_config(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        VestaConfig(n=5, **kw)


def test_cluster_builds_vesta_by_name():
    c = Cluster("vesta", n=8, replicas=3, r=2, w=2)
    assert c.leader() is None
    assert c.put("a", 1).ok and c.get("a").value == 1
    assert c.committed(0) == list(c.node(0).log)
