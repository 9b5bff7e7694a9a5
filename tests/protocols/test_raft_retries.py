"""Client retries on Raft: a retried request joins its entry instead of being appended again.

Reference: Ongaro's dissertation §6.3 (clients retry; each command is applied once, through the
session table). A leader that also keeps a table of the requests in its log that are not yet
applied answers a retry from the entry already there, so a client whose timeout is shorter than
the commit latency cannot fill the log with copies (issue 15, defect 1).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from consensuslab.cluster import Cluster
from consensuslab.protocols.kv import ClientRequest, ClientResponse, Command
from consensuslab.protocols.raft import RaftConfig, RaftNode, Role
from consensuslab.node import Reply


def _copies(node: RaftNode) -> Counter:
    return Counter((e.command.client, e.command.seq) for e in node.log if e.command.op != "noop")


def test_tight_client_timeout_on_a_stable_leader_completes_every_put_once() -> None:
    # the setup: 43 of 60 abandoned and 1,005 log entries (up to 23 copies) before the fix
    c = Cluster("raft", n=3, seed=1, latency=(1, 80), clients=6, client_timeout=100, op_timeout=3000,
                max_entries=1, check_every_step=True)
    ops = [c.submit("put", f"k{k}", i, client=k) for k in range(6) for i in range(10)]
    leaders: set[tuple[int, int]] = set()
    worst = [0]

    def watch(sim) -> None:
        lead = c.leader()
        if lead is not None:
            node = sim.nodes[lead]
            leaders.add((lead, node.term))
            copies = _copies(node)
            worst[0] = max(worst[0], max(copies.values(), default=0))

    c.sim.step_hooks.append(watch)
    assert c.run_until(lambda: all(op.done for op in ops), timeout=60_000)
    assert sum(op.ok for op in ops) == 60
    assert len(leaders) == 1, f"the leader changed ({leaders}); the scenario needs a stable leader"
    assert worst[0] == 1, f"a command stood {worst[0]} times in the leader's log"
    lead = c.node(c.leader())
    assert len(lead.log) == 61  # one no-op and the 60 puts
    c.check_safety()


def _leader(n: int = 3) -> RaftNode:
    cfg = RaftConfig(n=n)
    node = cfg.make_node(0, tuple(range(n)), np.random.default_rng(0), {})
    node.on_start()
    node.become_candidate()
    node.become_leader()
    node.out = []
    return node


def test_a_retry_joins_the_entry_and_only_the_latest_copy_is_answered() -> None:
    node = _leader()
    cmd = Command(client=7, seq=1, op="put", key="x", value=1)
    first, retry = ClientRequest(7, 1, cmd), ClientRequest(7, 1, cmd)
    node.on_client(first)
    size = node.last_log_index
    node.on_client(retry)
    assert node.last_log_index == size  # not appended again
    assert node.in_log == {(7, 1): size}
    # the entry commits (both followers acknowledge) and is applied once; the reply goes to the retry
    node.out = []
    node.match_index = {1: size, 2: size}
    node._advance_commit()
    replies = [e for e in node.out if isinstance(e, Reply)]
    assert [r.request is retry for r in replies] == [True]
    assert replies[0].response == ClientResponse(7, 1, True, value=None, leader_hint=0)
    assert node.in_log == {}
    assert [c for c in node.applied if c.op != "noop"] == [cmd]


def test_a_new_leader_rebuilds_the_table_from_its_log() -> None:
    node = _leader()
    cmd = Command(client=3, seq=4, op="put", key="y", value=2)
    node.on_client(ClientRequest(3, 4, cmd))
    index = node.last_log_index
    # the leader loses leadership with the command uncommitted, then wins the next term
    node.become_follower(node.term + 1, None)
    assert node.role is Role.FOLLOWER and node.in_log == {}
    node.become_candidate()
    node.become_leader()
    assert node.in_log == {(3, 4): index}
    node.out = []
    node.on_client(ClientRequest(3, 4, cmd))
    assert node.last_log_index == index + 1  # only the new term's no-op was appended
    assert _copies(node)[(3, 4)] == 1
