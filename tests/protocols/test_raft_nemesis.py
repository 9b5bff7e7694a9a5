"""Randomized fault-injection runs of Raft (Jepsen-style nemesis), checked after every step.

Each seed builds a fresh cluster with ``check_every_step=True`` (Election Safety, Leader
Append-Only, Log Matching, Leader Completeness, State Machine Safety after every simulator
step), lets a seeded nemesis crash/restart servers, partition the network and drop messages
while concurrent clients run, then checks that the client history is linearizable and that
the servers converge. The option set (Pre-Vote, CheckQuorum, snapshots, batch size) and the
cluster size rotate with the seed. A failure names ``(config, seed)`` so it can be replayed::

    c = make_cluster(seed); run(c, seed)
"""

from __future__ import annotations

import pytest

from consensuslab.check import SafetyViolation, check_linearizable
from consensuslab.cluster import Cluster

OPTIONS = (
    {},
    {"pre_vote": True},
    {"check_quorum": True},
    {"pre_vote": True, "check_quorum": True, "snapshot_threshold": 4},
    {"snapshot_threshold": 3, "max_entries": 2},
)
SIZES = (3, 5, 4, 3, 5, 7)


def config_for(seed: int) -> dict:
    """The (replayable) configuration of a seed."""
    return {
        "n": SIZES[seed % len(SIZES)],
        "latency": (1.0, 25.0) if seed % 2 else (5.0, 15.0),
        "duplicate": 0.05 if seed % 3 == 0 else 0.0,
        **OPTIONS[seed % len(OPTIONS)],
    }


def run_seed(seed: int, duration: float = 1200.0, ops_per_client: int = 5, clients: int = 3) -> Cluster:
    """One randomized run; raises SafetyViolation / AssertionError on a problem."""
    cfg = config_for(seed)
    c = Cluster("raft", seed=seed, clients=clients, client_timeout=150.0, op_timeout=1200.0,
                check_every_step=True, **cfg)
    c.nemesis(seed, duration=duration, interval=(20.0, 200.0), max_loss=0.3)
    ops = []
    for k in range(ops_per_client):
        for cl in range(clients):
            kind = ("append", "get", "put")[(k + cl) % 3]
            ops.append(c.submit(kind, f"k{(k + cl) % 2}", f"{cl}.{k}", client=cl))
    c.run_for(duration)
    # after the storm (healed, everyone restarted): liveness and convergence
    assert c.run_until(lambda: all(o.done for o in ops), timeout=4000.0), "clients stuck"
    assert c.run_until(lambda: c.leader() is not None, timeout=4000.0), "no leader after healing"
    return c


def check_run(c: Cluster) -> None:
    result = check_linearizable(c.history, "kv")
    assert result.ok, f"history not linearizable: {result!r}"


def _one(seed: int, **kw) -> None:
    try:
        c = run_seed(seed, **kw)
        check_run(c)
    except (SafetyViolation, AssertionError) as exc:
        pytest.fail(f"Raft nemesis run failed: {exc}\nreplay: config={config_for(seed)!r} seed={seed}")


def test_nemesis_500_seeds() -> None:
    """500 distinct seeds, safety after every step, linearizable histories."""
    for seed in range(500):
        _one(seed)


def test_nemesis_converges_after_healing() -> None:
    """After the nemesis settles, all servers end with identical state machines."""
    for seed in range(500, 520):
        c = run_seed(seed)
        assert c.put("done", 1).ok
        assert c.run_until(
            lambda: len({(c.node(i).last_applied, c.node(i).last_log_index) for i in range(c.n)}) == 1,
            timeout=4000.0,
        )
        datas = [c.node(i).kv.data for i in range(c.n)]
        assert all(d == datas[0] for d in datas), f"replay: config={config_for(seed)!r} seed={seed}"


def test_monitor_catches_a_broken_vote_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation check: with the §5.4.1 up-to-date test removed from voting, the same nemesis
    runs are caught by the monitor for many seeds — the harness can fail."""
    from dataclasses import replace

    from consensuslab.protocols.raft import RaftNode

    original = RaftNode._on_request_vote

    def careless(self, src, m):  # every candidate looks up to date
        original(self, src, replace(m, last_log_term=10**9))

    monkeypatch.setattr(RaftNode, "_on_request_vote", careless)
    caught = 0
    for seed in range(100):
        try:
            run_seed(seed)
        except SafetyViolation:
            caught += 1
        except AssertionError:
            pass
    assert caught >= 10, caught


@pytest.mark.slow
def test_nemesis_many_seeds_long() -> None:
    """3000 more seeds with longer storms and more operations."""
    for seed in range(10_000, 13_000):
        _one(seed, duration=3000.0, ops_per_client=10, clients=4)
