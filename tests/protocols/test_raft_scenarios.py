"""Raft scenario tests: each reads like a story (crash the leader, partition, heal, assert).

Every cluster runs with ``check_every_step=True``, so the five safety properties of Figure 3
are checked after every simulator step throughout each scenario.
"""

from __future__ import annotations

import numpy as np
import pytest

from consensuslab.check import check_linearizable
from consensuslab.cluster import Cluster
from consensuslab.protocols.kv import ClientRequest, Command
from consensuslab.protocols.raft import Role, TransferLeadership
from consensuslab.scenarios.raft import figure8_replay, invoke, log_frame, roles_frame


def make(n: int = 3, seed: int = 0, **kw) -> Cluster:
    kw.setdefault("check_every_step", True)
    return Cluster("raft", n=n, seed=seed, **kw)


def wait_leader(c: Cluster, among: list[int] | None = None, timeout: float = 5000.0) -> int:
    """Run until some node of ``among`` leads with the highest term among them; return it."""
    ids = list(range(c.n)) if among is None else among

    def leader_among() -> int | None:
        best, term = None, -1
        for i in ids:
            node = c.node(i)
            if node is not None and node.role is Role.LEADER and node.term > term:
                best, term = i, node.term
        others = [c.node(i).term for i in ids if c.node(i) is not None]
        return best if best is not None and term >= max(others) else None

    assert c.run_until(lambda: leader_among() is not None, timeout=timeout), "no leader elected"
    got = leader_among()
    assert got is not None
    return got


def agree(c: Cluster, nodes: list[int] | None = None) -> list:
    """All given nodes have applied the same commands; return them."""
    nodes = list(range(c.n)) if nodes is None else nodes
    logs = [c.committed(i) for i in nodes]
    assert all(log == logs[0] for log in logs), logs
    return logs[0]


def settle(c: Cluster, nodes: list[int] | None = None, timeout: float = 5000.0) -> None:
    """Run until the given nodes have applied the same number of entries as the leader."""
    nodes = list(range(c.n)) if nodes is None else nodes

    def done() -> bool:
        ls = [c.node(i) for i in nodes]
        return all(x is not None for x in ls) and len({(x.last_applied, x.last_log_index) for x in ls}) == 1

    assert c.run_until(done, timeout=timeout)


# -- elections ------------------------------------------------------------------------------


def test_initial_election_and_stable_leader() -> None:
    """A leader is elected quickly and, with no failures, keeps its office and term."""
    c = make(3, seed=1)
    leader = wait_leader(c, timeout=1000)
    term = c.node(leader).term
    c.run_for(5000)
    assert c.leader() == leader and c.node(leader).term == term
    assert all(c.node(i).term == term for i in range(3))


def test_reelection_after_leader_cut_off_and_no_leader_without_quorum() -> None:
    """Cut the leader off: the others elect a new one; reconnecting the old leader does not
    disturb it; with no majority connected nobody new is elected."""
    c = make(3, seed=2)
    l1 = wait_leader(c)
    c.isolate(l1)
    rest = [i for i in range(3) if i != l1]
    l2 = wait_leader(c, rest)
    assert l2 != l1
    c.heal()
    c.run_for(1000)
    l3 = wait_leader(c)
    assert c.node(l1).role is Role.FOLLOWER and c.node(l1).term == c.node(l3).term
    # no majority anywhere: no new leader can be elected
    c.partition([0], [1], [2])
    old = c.leader()
    c.run_for(3000)
    leaders = [i for i in range(3) if c.node(i).role is Role.LEADER]
    assert leaders in ([], [old])  # only the stale leader may still believe it leads
    c.heal()
    wait_leader(c)


def test_no_leader_without_quorum_with_check_quorum() -> None:
    """With CheckQuorum even the stale leader steps down once it cannot reach a majority."""
    c = make(3, seed=3, check_quorum=True)
    wait_leader(c)
    c.partition([0], [1], [2])
    c.run_for(1000)
    assert all(c.node(i).role is not Role.LEADER for i in range(3))


def test_many_elections_with_minority_disconnects_7_nodes() -> None:
    """Repeatedly disconnect three random servers of seven: the connected majority always
    (re)establishes a leader."""
    c = make(7, seed=4)
    rng = np.random.default_rng(4)
    wait_leader(c)
    elected = set()
    for _ in range(12):
        cut = [int(x) for x in rng.choice(7, size=3, replace=False)]
        rest = [i for i in range(7) if i not in cut]
        c.partition(cut, rest)
        elected.add((wait_leader(c, rest), c.node(wait_leader(c, rest)).term))
        c.heal()
        c.run_for(200)
    wait_leader(c)
    assert len(elected) >= 4  # leadership actually moved around


# -- agreement -------------------------------------------------------------------------------


def test_basic_agreement() -> None:
    """Each acknowledged command is applied by every server, in the same order."""
    c = make(5, seed=5)
    wait_leader(c)
    for i in range(10):
        assert c.put(f"k{i}", i).ok
    settle(c)
    log = agree(c)
    assert [(x.key, x.value) for x in log] == [(f"k{i}", i) for i in range(10)]
    assert c.get("k7").value == 7


def test_agreement_despite_follower_failure() -> None:
    """With one follower crashed the others still agree; the follower catches up on restart."""
    c = make(3, seed=6)
    leader = wait_leader(c)
    f = (leader + 1) % 3
    assert c.put("a", 1).ok
    c.crash(f)
    for i in range(5):
        assert c.append("s", str(i)).ok
    c.restart(f)
    settle(c)
    assert [x.value for x in agree(c)] == [1, "0", "1", "2", "3", "4"]


def test_no_agreement_without_majority_then_recovery() -> None:
    """With a majority of followers down nothing commits; once they return it does."""
    c = make(5, seed=7, op_timeout=2000)
    leader = wait_leader(c)
    assert c.put("x", 1).ok
    down = [(leader + k) % 5 for k in (1, 2, 3)]
    for i in down:
        c.crash(i)
    commit = c.node(leader).commit_index
    op = c.put("x", 2, wait=False)
    c.run_for(1500)
    assert not op.done and c.node(leader).commit_index == commit
    for i in down:
        c.restart(i)
    assert c.run_until(lambda: op.done, timeout=5000) and op.ok
    assert c.get("x").value == 2
    settle(c)
    assert [x.value for x in agree(c)][:2] == [1, 2]


def test_concurrent_client_requests() -> None:
    """Five clients issue operations at once; all complete, each exactly once, linearizably."""
    c = make(3, seed=8, clients=5)
    wait_leader(c)
    ops = [c.submit("append", "log", f"{cl}.{k}", client=cl) for k in range(6) for cl in range(5)]
    assert c.run_until(lambda: all(o.done for o in ops), timeout=10000)
    assert all(o.ok for o in ops)
    settle(c)
    final = c.node(0).kv.data["log"]
    assert sorted(final[i:i + 3] for i in range(0, len(final), 3)) == sorted(
        f"{cl}.{k}" for k in range(6) for cl in range(5))
    assert check_linearizable(c.history, "kv").ok


def test_partitioned_leader_uncommitted_entries_are_overwritten() -> None:
    """An old leader cut off with a minority keeps accepting entries it can never commit;
    when it rejoins, the new leader's log overwrites them."""
    c = make(5, seed=9, clients=2, op_timeout=1500)
    l1 = wait_leader(c)
    assert c.put("x", "committed").ok
    minority = [l1, (l1 + 1) % 5]
    majority = [i for i in range(5) if i not in minority]
    c.partition(minority, majority)
    c.sim.request(0, l1, ClientRequest(0, 99, Command(0, 99, "put", "x", "lost")))
    c.run_for(100)
    assert c.node(l1).last_log_index > c.node(l1).commit_index  # stuck, uncommitted
    l2 = wait_leader(c, majority)
    assert c.put("x", "new", client=1).ok
    c.heal()
    settle(c)
    values = [x.value for x in agree(c)]
    assert "lost" not in values and values[-1] == "new"
    assert c.node(l1).role is Role.FOLLOWER and c.leader() is not None
    assert l2 in majority


def test_fast_backup_over_many_conflicting_entries() -> None:
    """Fast backtracking (§5.3): a follower with 60 conflicting entries of a stale term is
    repaired in a handful of rejected AppendEntries, not one per entry."""
    c = make(5, seed=10, trace=True, clients=2, op_timeout=20000, max_entries=16)
    l1 = wait_leader(c)
    assert c.put("k", 0).ok
    minority = [l1, (l1 + 1) % 5]
    majority = [i for i in range(5) if i not in minority]
    c.partition(minority, majority)
    for s in range(100, 160):  # 60 entries the old leader can never commit
        c.sim.request(0, l1, ClientRequest(0, s, Command(0, s, "put", "k", f"lost{s}")))
    c.run_for(200)
    assert c.node(l1).last_log_index >= 61
    wait_leader(c, majority)
    for i in range(60):
        assert c.put("k", f"ok{i}", client=1).ok
    healed = c.now
    c.heal()
    settle(c)
    agree(c)
    refusals = sum(1 for t, ev, node, peer, kind, msg, _ in c.trace.records
                   if ev == "send" and t >= healed and kind == "AppendEntriesReply" and not msg.success)
    assert refusals <= 6, refusals  # per follower: ~1 per conflicting term, not ~60
    assert all("lost" not in str(x.value) for x in c.committed(l1))


@pytest.mark.parametrize("which", ["one", "majority", "all"])
def test_persistence_across_crash_and_restart(which: str) -> None:
    """Figure 2 persistent state: after one, a majority, or all servers crash and restart,
    every acknowledged command is still there and the cluster keeps working."""
    c = make(5, seed=11)
    wait_leader(c)
    for i in range(5):
        assert c.append("s", str(i)).ok
    for rnd in range(3):
        leader = c.leader()
        victims = {"one": [leader], "majority": [(leader + k) % 5 for k in range(3)],
                   "all": list(range(5))}[which]
        for v in victims:
            c.crash(v)
        c.run_for(300)
        for v in victims:
            c.restart(v)
        wait_leader(c)
        assert c.append("s", f"r{rnd}").ok
    assert c.get("s").value == "01234r0r1r2"
    settle(c)
    assert [x.value for x in agree(c)] == [*"01234", "r0", "r1", "r2", None]


def test_figure8_scenario_replay() -> None:
    """§5.4.2 / Figure 8: with the rule, the term-2 entry on a majority is not committed and
    can safely be overwritten; without it, the monitor catches the lost committed entry."""
    safe = figure8_replay("d", figure8_rule=True)
    assert safe.violation is None
    c_state = next(s for s in safe.states if s.label == "c")
    assert c_state.logs[:3] == ((1, 2, 4), (1, 2, 4), (1, 2)) and c_state.commit[0] < 2
    d_state = safe.states[-1]
    assert d_state.logs[1:] == ((1, 3, 5),) * 4
    unsafe = figure8_replay("d", figure8_rule=False)
    assert unsafe.violation is not None and unsafe.violation.invariant == "Leader Completeness"
    kept = figure8_replay("e")
    assert kept.violation is None and kept.states[-1].roles[4] != "leader"
    frame = log_frame(safe.states)
    assert set(frame.columns) >= {"stage", "node", "index", "term", "committed"}


def test_figure8_random_leader_crashes_hundreds_of_times() -> None:
    """Figure 8 in the large (after 6.824's TestFigure8): hundreds of times, a leader gets a
    command and crashes shortly after appending it (before or after it commits), while
    crashed servers come back; safety holds throughout (checked every step) and the cluster
    finally agrees on everything."""
    crashes = 0
    for seed in range(2):
        c = make(5, seed=100 + seed, clients=2)
        rng = np.random.default_rng(seed)
        down: list[int] = []
        for it in range(150):
            assert c.run_until(lambda: c.leader() is not None, timeout=5000)
            leader = c.leader()
            c.sim.request(1, leader, ClientRequest(1, 1 + it, Command(1, 1 + it, "append", "f", f"{it},")))
            c.run_for(float(rng.uniform(0, 30)))  # often before the entry commits
            if rng.random() < 0.7 and c.node(leader) is not None:
                c.crash(leader)
                down.append(leader)
                crashes += 1
            if len(down) >= 2 or (down and rng.random() < 0.5):
                c.restart(down.pop(int(rng.integers(len(down)))))
        for i in down:
            c.restart(i)
        wait_leader(c)
        assert c.put("final", seed).ok
        settle(c)
        agree(c)
    assert crashes >= 150


def test_agreement_on_unreliable_network() -> None:
    """10% loss each way, delays of 1-80 ms (heavy reordering): every operation completes,
    the servers agree and the history is linearizable."""
    c = make(5, seed=12, loss=0.1, latency=(1.0, 80.0), clients=4, op_timeout=20000,
             election_timeout=(300.0, 600.0), heartbeat=60.0)
    ops = [c.submit("append", f"k{cl % 2}", f"{cl}{k}", client=cl) for k in range(8) for cl in range(4)]
    assert c.run_until(lambda: all(o.done for o in ops), timeout=60000)
    assert all(o.ok for o in ops)
    c.set_loss(0.0)
    settle(c)
    agree(c)
    assert check_linearizable(c.history, "kv").ok


def test_churn_with_concurrent_clients() -> None:
    """Random crashes, restarts, partitions and loss with concurrent clients: afterwards every
    value a client saw acknowledged is in every server's applied log."""
    for seed in range(4):
        c = make(5, seed=200 + seed, clients=4, op_timeout=1500, client_timeout=200)
        c.nemesis(seed, duration=4000, interval=(50, 300))
        ops = [c.submit("append", "k", f"<{cl}.{k}>", client=cl) for k in range(12) for cl in range(4)]
        c.run_for(4000)
        assert c.run_until(lambda: all(o.done for o in ops), timeout=20000)
        wait_leader(c)
        assert c.put("end", 1).ok
        settle(c)
        log = agree(c)
        applied = {x.value for x in log}
        acked = {o.command.value for o in ops if o.ok}
        assert acked and acked <= applied, acked - applied
        assert check_linearizable(c.history, "kv").ok


# -- options -------------------------------------------------------------------------------


def test_leadership_transfer_request() -> None:
    """Diss. §3.10: a TransferLeadership request moves leadership to the chosen server."""
    c = make(5, seed=13)
    l1 = wait_leader(c)
    assert c.put("a", 1).ok
    target = (l1 + 2) % 5
    c.sim.request(0, l1, TransferLeadership(0, -1, target))
    assert c.run_until(lambda: c.leader() == target and c.node(l1).role is Role.FOLLOWER, timeout=1000)
    assert c.put("a", 2).ok and c.get("a").value == 2


def test_leadership_transfer_direct_call_with_check_quorum() -> None:
    """Transfer works even though every follower holds a leader lease (CheckQuorum)."""
    c = make(3, seed=14, check_quorum=True, pre_vote=True)
    l1 = wait_leader(c)
    target = (l1 + 1) % 3
    assert invoke(c.sim, l1, "transfer_leadership", target) is True
    assert c.run_until(lambda: c.leader() == target, timeout=500)


def test_pre_vote_keeps_a_rejoining_server_from_disrupting() -> None:
    """Diss. §9.6: a server cut off for a long time does not bump the term when it rejoins
    (with Pre-Vote); without Pre-Vote it forces a new election."""
    terms = {}
    for pre in (False, True):
        c = make(3, seed=15, pre_vote=pre)
        leader = wait_leader(c)
        term = c.node(leader).term
        lonely = (leader + 1) % 3
        c.isolate(lonely)
        c.run_for(3000)
        c.heal()
        c.run_for(1000)
        wait_leader(c)
        terms[pre] = (term, max(c.node(i).term for i in range(3)))
    assert terms[True][0] == terms[True][1]
    assert terms[False][1] > terms[False][0]


def test_snapshot_catches_up_a_lagging_server() -> None:
    """§7: with compaction, a server that missed many entries gets InstallSnapshot and ends up
    with the same state as everyone else, also after a restart."""
    c = make(3, seed=16, snapshot_threshold=5, trace=True)
    leader = wait_leader(c)
    lag = (leader + 1) % 3
    c.crash(lag)
    for i in range(30):
        assert c.put(f"k{i % 7}", i).ok
    c.restart(lag)
    settle(c)
    assert c.trace.sent_by_kind.get("InstallSnapshot", 0) >= 1
    datas = [c.node(i).kv.data for i in range(3)]
    assert datas[0] == datas[1] == datas[2] and len(datas[0]) == 7
    assert max(len(c.node(i).log) for i in range(3)) < 12
    c.crash(lag)
    c.restart(lag)
    assert c.node(lag).kv.data == datas[0] or c.node(lag).commit_index == c.node(lag).snapshot_index


# -- message budgets (RPCs: a request and its reply count once) -----------------------------


def _rpcs(c: Cluster) -> int:
    return sum(v for k, v in c.trace.sent_by_kind.items() if not k.endswith("Reply"))


@pytest.mark.parametrize("seed", range(5))
def test_message_budgets(seed: int) -> None:
    """3 servers, 50 ms heartbeat: an initial election uses at most 30 RPCs; an idle second
    at most 60; 10 agreed commands at most 42 beyond the idle traffic of that time."""
    c = make(3, seed=seed, heartbeat=50.0)
    assert c.run_until(lambda: c.leader() is not None, timeout=3000)
    election = _rpcs(c)
    assert election <= 30
    start = _rpcs(c)
    c.run_for(1000)
    idle = _rpcs(c) - start
    assert idle <= 60
    before, t0 = _rpcs(c), c.now
    for i in range(10):
        assert c.put(f"k{i}", i).ok
    busy = _rpcs(c) - before - idle * (c.now - t0) / 1000.0
    assert busy <= 42, busy


def test_roles_frame_from_trace() -> None:
    """The role timeline covers every node from start to end, one row per role interval."""
    c = make(3, seed=17, trace=True)
    leader = wait_leader(c)
    c.crash(leader)
    c.run_for(1000)
    df = roles_frame(c.trace, end=c.now)
    assert set(df["node"]) == {0, 1, 2}
    assert {"leader", "follower", "down"} <= set(df["role"])
    assert (df["end"] >= df["start"]).all()


# -- plots and the notebook's explorer -------------------------------------------------------


def test_plots_draw_timeline_grid_and_figure8() -> None:
    import matplotlib.pyplot as plt

    from consensuslab.plots.raft import figure8_panels, log_grid, role_timeline

    c = make(3, seed=18, trace=True)
    wait_leader(c)
    ax = role_timeline(roles_frame(c.trace, end=c.now))
    assert len(ax.patches) >= 3
    replay = figure8_replay("d")
    ax = log_grid(replay.states[-1].logs, replay.states[-1].commit)
    assert len(ax.patches) == sum(len(x) for x in replay.states[-1].logs)
    fig = figure8_panels(replay.states)
    assert len([a for a in fig.axes if a.patches]) == len(replay.states)  # + a legend panel
    ax2 = log_grid(log_frame(replay.states).query("stage == 1"))
    assert len(ax2.patches) == sum(len(x) for x in replay.states[1].logs)
    plt.close("all")


def test_fault_explorer_reacts_to_controls() -> None:
    """Setting a control re-runs the experiment: the summary and the figure change."""
    from consensuslab.widgets.raft import RaftFaultExplorer

    ex = RaftFaultExplorer(seed=1, duration=1000.0, ops_per_client=4)
    first, fig = dict(ex.summary), ex.figure
    assert first["safety violations"] == 0 and first["linearizable"]
    ex.n.value = 3
    assert ex.summary != first and ex.figure is not fig
    ex.crash.value = False
    ex.partition.value = False
    ex.loss.value = 0.0
    assert ex.summary["safety violations"] == 0 and ex.summary["elections won"] == 1
    assert "safety held" in ex.html.value


def test_monitor_called_once_at_the_end_reports_no_false_violation() -> None:
    """Cluster.check_safety() without per-step checking: a late, single observation must not
    mistake commits that happened before it for violations."""
    from consensuslab.cluster import Cluster

    c = Cluster("raft", n=5, seed=3)
    assert c.run_until(lambda: c.leader() is not None, timeout=3000)
    for i in range(5):
        assert c.put(f"k{i}", str(i)).ok
    c.crash(c.leader())
    c.run_for(1500)
    assert c.put("after", "x").ok
    c.check_safety()  # raises SafetyViolation on a (false) violation
