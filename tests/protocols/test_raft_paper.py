"""Paper-rule tests for Raft, one rule per test, each citing its section.

Modelled on etcd's ``raft_paper_test.go``: a node is driven directly through its handlers and
the effects it emits are inspected. References: Ongaro & Ousterhout (2014), "In Search of an
Understandable Consensus Algorithm" (extended version) — "§5.x"; Ongaro (2014), "Consensus:
Bridging Theory and Practice" (dissertation) — "diss. §x".
"""

from __future__ import annotations

import numpy as np
import pytest

from consensuslab.protocols.kv import NOOP, ClientRequest, ClientResponse, Command
from consensuslab.protocols.raft import (
    AppendEntries,
    AppendEntriesReply,
    Entry,
    InstallSnapshot,
    InstallSnapshotReply,
    RaftConfig,
    RaftError,
    RaftNode,
    RequestVote,
    RequestVoteReply,
    Role,
    TimeoutNow,
)
from consensuslab.node import Broadcast, CancelTimer, Persist, Reply, Send, SetTimer

PEERS = (0, 1, 2)


def make(node_id: int = 0, stable: dict | None = None, n: int = 3, now: float = 0.0, **opts) -> RaftNode:
    cfg = RaftConfig(n=n, **opts)
    node = RaftNode(node_id, tuple(range(n)), np.random.default_rng(7), dict(stable or {}), config=cfg)
    node.now = now
    node.on_start()
    node.out.clear()
    return node


def take(node: RaftNode) -> list:
    out, node.out = node.out, []
    return out


def sent(effects: list, kind: type | None = None) -> list[tuple[int | None, object]]:
    """(dst, msg) of Send/Broadcast effects (dst None for a broadcast)."""
    got = []
    for e in effects:
        if isinstance(e, Send) and (kind is None or isinstance(e.msg, kind)):
            got.append((e.dst, e.msg))
        elif isinstance(e, Broadcast) and (kind is None or isinstance(e.msg, kind)):
            got.append((None, e.msg))
    return got


def cmd(i: int) -> Command:
    return Command(9, i, "put", "k", i)


def log_of(*terms: int) -> tuple[Entry, ...]:
    return tuple(Entry(t, cmd(i)) for i, t in enumerate(terms, start=1))


def fire_election(node: RaftNode) -> list:
    """Advance to the election deadline and fire the election timer."""
    node.now = node._deadline
    node.on_timer("election")
    return take(node)


def elect(node: RaftNode) -> list:
    """Make ``node`` leader with votes from every peer; returns the leader's effects."""
    fire_election(node)
    for p in node._others:
        node.on_message(p, RequestVoteReply(node.term, True))
        if node.role is Role.LEADER:
            break
    return take(node)


# -- §5.1 terms --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["follower", "candidate", "leader"])
def test_higher_term_converts_to_follower(role: str) -> None:
    """§5.1: if a server sees a larger term it updates its term and reverts to follower."""
    node = make()
    if role == "candidate":
        fire_election(node)
    elif role == "leader":
        elect(node)
    t = node.term
    node.on_message(1, AppendEntries(t + 5, 1, 0, 0, (), 0))
    effects = take(node)
    assert node.role is Role.FOLLOWER and node.term == t + 5 and node.leader_id == 1
    assert Persist({"term": t + 5, "voted_for": None}) in effects
    assert node.voted_for is None


def test_stale_term_request_is_rejected() -> None:
    """§5.1: a server rejects a request with a stale term and answers with its own term."""
    node = make(stable={"term": 3})
    node.on_message(1, AppendEntries(2, 1, 0, 0, (), 0))
    assert sent(take(node)) == [(1, AppendEntriesReply(3, False))]
    node.on_message(2, RequestVote(2, 2, 5, 2))
    assert sent(take(node)) == [(2, RequestVoteReply(3, False))]
    assert node.term == 3 and node.role is Role.FOLLOWER


# -- §5.2 leader election ----------------------------------------------------------------------


def test_servers_start_as_followers_with_a_random_timeout() -> None:
    """§5.2: servers begin as followers; the election timeout is drawn from [lo, hi]."""
    delays = []
    for seed in range(200):
        node = RaftNode(0, PEERS, np.random.default_rng(seed), {}, config=RaftConfig(n=3))
        node.on_start()
        assert node.role is Role.FOLLOWER
        delays += [e.delay for e in node.out if isinstance(e, SetTimer) and e.name == "election"]
    assert len(delays) == 200
    assert 150.0 <= min(delays) and max(delays) <= 300.0
    assert max(delays) - min(delays) > 100.0  # actually randomized


def test_follower_timeout_starts_election_persisting_vote_before_requests() -> None:
    """§5.2: on timeout a follower increments its term, votes for itself and requests votes;
    Figure 2 / diss. §3.8: term and vote are persisted before the RequestVote leaves."""
    node = make(stable={"term": 4, "log": log_of(1, 4)})
    effects = fire_election(node)
    assert node.role is Role.CANDIDATE and node.term == 5 and node.voted_for == 0
    persist = effects.index(Persist({"term": 5, "voted_for": 0}))
    rv = [i for i, e in enumerate(effects) if isinstance(e, Broadcast)]
    assert rv and persist < rv[0]
    assert effects[rv[0]].msg == RequestVote(5, 0, 2, 4)


def test_election_timer_is_reset_by_heartbeats() -> None:
    """§5.2: a follower remains a follower while it receives valid AppendEntries."""
    node = make()
    for k in range(50):
        node.now = 40.0 * (k + 1)
        node.on_message(1, AppendEntries(1, 1, 0, 0, (), 0))
        take(node)
        node.on_timer("election")  # fires early (stale deadline) -> re-arms, no election
        assert node.role is Role.FOLLOWER and node.term == 1
    take(node)


def test_candidate_with_majority_becomes_leader_and_heartbeats() -> None:
    """§5.2: a candidate winning a majority becomes leader and sends AppendEntries at once,
    then every heartbeat interval; §8: its first entry is a no-op of its term."""
    node = make(heartbeat=40)
    fire_election(node)
    node.on_message(1, RequestVoteReply(1, True))
    effects = take(node)
    assert node.role is Role.LEADER and node.leader_id == 0
    assert node.log == [Entry(1, NOOP)]
    aes = sent(effects, AppendEntries)
    assert {d for d, _ in aes} == {1, 2}
    assert all(m.entries == (Entry(1, NOOP),) and m.prev_log_index == 0 for _, m in aes)
    assert SetTimer("heartbeat", 40.0) in effects
    assert CancelTimer("election") in effects
    node.on_timer("heartbeat")
    assert {d for d, _ in sent(take(node), AppendEntries)} == {1, 2}


def test_candidate_without_majority_stays_candidate() -> None:
    """§5.2: a vote from a minority (or a refusal) does not make a leader (5 servers)."""
    node = make(n=5)
    fire_election(node)
    node.on_message(1, RequestVoteReply(1, True))
    node.on_message(2, RequestVoteReply(1, False))
    node.on_message(3, RequestVoteReply(1, False))
    assert node.role is Role.CANDIDATE
    node.on_message(1, RequestVoteReply(1, True))  # a duplicate vote counts once
    assert node.role is Role.CANDIDATE


def test_candidate_steps_down_on_append_from_leader_of_same_term() -> None:
    """§5.2: a candidate receiving AppendEntries from a leader with term >= its own returns
    to follower."""
    node = make()
    fire_election(node)
    node.on_message(2, AppendEntries(1, 2, 0, 0, (), 0))
    assert node.role is Role.FOLLOWER and node.term == 1 and node.leader_id == 2


def test_split_vote_times_out_into_a_new_election() -> None:
    """§5.2: a candidate that neither wins nor loses times out and starts a new term."""
    node = make()
    fire_election(node)
    assert node.term == 1
    fire_election(node)
    assert node.role is Role.CANDIDATE and node.term == 2 and node.voted_for == 0


def test_one_vote_per_term_persisted_before_reply() -> None:
    """§5.2: each server votes for at most one candidate per term, first-come-first-served;
    the vote is persisted before the reply (Figure 2)."""
    node = make()
    node.on_message(1, RequestVote(1, 1, 0, 0))
    effects = take(node)
    assert effects.index(Persist({"voted_for": 1})) < effects.index(Send(1, RequestVoteReply(1, True)))
    node.on_message(2, RequestVote(1, 2, 0, 0))
    assert sent(take(node)) == [(2, RequestVoteReply(1, False))]
    node.on_message(1, RequestVote(1, 1, 0, 0))  # the same candidate asking again
    assert sent(take(node)) == [(1, RequestVoteReply(1, True))]


def test_vote_survives_restart() -> None:
    """§5.2 / Figure 2 (persistent state): a restarted server keeps its vote."""
    node = make()
    node.on_message(1, RequestVote(1, 1, 0, 0))
    again = make(stable=node.stable)
    again.on_message(2, RequestVote(1, 2, 0, 0))
    assert sent(take(again)) == [(2, RequestVoteReply(1, False))]


@pytest.mark.parametrize(
    ("mine", "cand_last", "granted"),
    [
        ((1, 2), (3, 1), True),  # higher last term wins even with a shorter log
        ((1, 2), (2, 2), True),  # same last term, same length
        ((1, 2), (2, 3), True),  # same last term, longer
        ((1, 2), (2, 1), False),  # same last term, shorter
        ((1, 2, 2), (2, 2), False),  # same last term, shorter
        ((1, 3), (2, 5), False),  # lower last term, however long
    ],
)
def test_vote_only_for_up_to_date_log(mine: tuple, cand_last: tuple, granted: bool) -> None:
    """§5.4.1: a voter denies its vote if its own log is more up to date than the candidate's
    (compare the last entries' terms; if equal, the longer log)."""
    node = make(stable={"term": 5, "log": log_of(*mine)})
    last_term, last_index = cand_last
    node.on_message(1, RequestVote(6, 1, last_index, last_term))
    assert sent(take(node)) == [(1, RequestVoteReply(6, granted))]
    assert node.term == 6  # the term is adopted either way (§5.1)


# -- §5.3 log replication ----------------------------------------------------------------------


def test_leader_appends_client_command_and_replicates_it() -> None:
    """§5.3: the leader appends the command to its log (persisted first), then issues
    AppendEntries to the followers."""
    node = make()
    elect(node)
    for p in (1, 2):
        node.on_message(p, AppendEntriesReply(1, True, match_index=1))
    take(node)
    req = ClientRequest(3, 1, Command(3, 1, "put", "x", 7))
    node.on_client(req)
    effects = take(node)
    assert node.log[-1] == Entry(1, req.command)
    p = effects.index(Persist({"log": tuple(node.log)}))
    aes = [i for i, e in enumerate(effects) if isinstance(e, Send) and isinstance(e.msg, AppendEntries)]
    assert len(aes) == 2 and p < min(aes)
    assert effects[aes[0]].msg.entries == (Entry(1, req.command),)
    assert effects[aes[0]].msg.prev_log_index == 1


def test_leader_commits_on_majority_and_answers_client() -> None:
    """§5.3: an entry is committed once the leader replicated it on a majority; the leader
    applies it and returns the result to the client."""
    node = make(n=5)
    elect(node)
    req = ClientRequest(3, 1, Command(3, 1, "put", "x", 7))
    node.on_client(req)
    take(node)
    node.on_message(1, AppendEntriesReply(1, True, match_index=2))
    assert node.commit_index == 0  # 2 of 5
    node.on_message(2, AppendEntriesReply(1, True, match_index=2))
    assert node.commit_index == 2 and node.last_applied == 2
    assert node.kv.data == {"x": 7}
    replies = [e for e in take(node) if isinstance(e, Reply)]
    assert replies == [Reply(req, ClientResponse(3, 1, True, None, leader_hint=0))]


def test_follower_rejects_when_prev_entry_missing_with_conflict_hint() -> None:
    """§5.3 consistency check: a follower refuses entries whose (prev index, prev term) it lacks;
    fast backtracking: it reports the first index of the conflicting term."""
    node = make(stable={"term": 3, "log": log_of(1, 2, 2, 2)})
    node.on_message(1, AppendEntries(3, 1, 6, 3, (), 0))  # too short
    assert sent(take(node)) == [(1, AppendEntriesReply(3, False, conflict_index=5))]
    node.on_message(1, AppendEntries(3, 1, 4, 3, (), 0))  # term 2 at index 4, not 3
    assert sent(take(node)) == [(1, AppendEntriesReply(3, False, conflict_index=2, conflict_term=2))]
    assert len(node.log) == 4


def test_follower_deletes_conflicting_suffix_and_appends() -> None:
    """§5.3: if an existing entry conflicts with a new one (same index, different terms), delete
    it and all that follow, then append; entries already present are kept."""
    node = make(stable={"term": 3, "log": log_of(1, 1, 2, 2)})
    new = (Entry(1, cmd(2)), Entry(3, cmd(30)), Entry(3, cmd(31)))
    node.on_message(1, AppendEntries(3, 1, 1, 1, new, 0))
    effects = take(node)
    assert node.log == [Entry(1, cmd(1)), Entry(1, cmd(2)), Entry(3, cmd(30)), Entry(3, cmd(31))]
    assert effects.index(Persist({"log": tuple(node.log)})) < effects.index(
        Send(1, AppendEntriesReply(3, True, match_index=4)))


def test_stale_append_does_not_truncate_newer_entries() -> None:
    """§5.3: a delayed AppendEntries carrying a prefix of the log must not delete later
    entries that match (only conflicts truncate)."""
    node = make(stable={"term": 2, "log": log_of(1, 2, 2)})
    node.on_message(1, AppendEntries(2, 1, 0, 0, (Entry(1, cmd(1)),), 0))
    assert len(node.log) == 3
    assert sent(take(node)) == [(1, AppendEntriesReply(2, True, match_index=1))]


def test_follower_commit_is_min_of_leader_commit_and_last_new_entry() -> None:
    """Figure 2 (AppendEntries rule 5): commitIndex = min(leaderCommit, index of last new entry);
    committed entries are applied in order."""
    node = make(stable={"term": 2, "log": log_of(1, 1, 1)})
    node.on_message(1, AppendEntries(2, 1, 1, 1, (), 3))
    assert node.commit_index == 1  # only index 1 is known to match
    node.on_message(1, AppendEntries(2, 1, 3, 1, (), 2))
    assert node.commit_index == 2 and node.last_applied == 2
    assert node.applied == [cmd(1), cmd(2)]


def test_leader_backtracks_a_whole_term_per_round_trip() -> None:
    """§5.3 (optimization described at the end of the section): with the conflicting term and
    its first index, the leader skips all conflicting entries of that term at once."""
    leader = make(stable={"term": 5, "log": log_of(1, 1, 4, 4, 4)})
    fire_election(leader)
    leader.on_message(1, RequestVoteReply(6, True))
    take(leader)
    # follower 2 has 1, 1, 3, 3, 3, 3, 3 (term 3 is unknown to the leader)
    leader.on_message(2, AppendEntriesReply(6, False, conflict_index=3, conflict_term=3))
    msgs = sent(take(leader), AppendEntries)
    assert msgs[0][1].prev_log_index == 2  # jumped straight to the first term-3 index - 1
    # a follower whose conflicting term the leader knows: resume after the leader's last one
    leader.on_message(1, AppendEntriesReply(6, False, conflict_index=3, conflict_term=4))
    msgs = sent(take(leader), AppendEntries)
    assert msgs[0][1].prev_log_index == 5


def test_figure8_leader_does_not_count_replicas_of_older_terms() -> None:
    """§5.4.2 / Figure 8: a leader never commits an entry of a previous term by counting
    replicas; it becomes committed once an entry of the current term is."""
    leader = make(stable={"term": 3, "log": log_of(1, 2)}, n=5)
    fire_election(leader)
    leader.on_message(1, RequestVoteReply(4, True))
    leader.on_message(2, RequestVoteReply(4, True))
    assert leader.role is Role.LEADER and leader.log[-1] == Entry(4, NOOP)
    take(leader)
    # index 2 (term 2) now on a majority -- but not the current term's no-op at index 3
    leader.on_message(1, AppendEntriesReply(4, True, match_index=2))
    leader.on_message(2, AppendEntriesReply(4, True, match_index=2))
    assert leader.commit_index == 0
    leader.on_message(1, AppendEntriesReply(4, True, match_index=3))
    leader.on_message(2, AppendEntriesReply(4, True, match_index=3))
    assert leader.commit_index == 3  # index 2 committed indirectly (Log Matching)


def test_figure8_rule_switch_is_really_unsafe() -> None:
    """§5.4.2: ``figure8_rule=False`` commits the old-term entry by counting (for demos)."""
    leader = make(stable={"term": 3, "log": log_of(1, 2)}, n=5, figure8_rule=False)
    fire_election(leader)
    leader.on_message(1, RequestVoteReply(4, True))
    leader.on_message(2, RequestVoteReply(4, True))
    leader.on_message(1, AppendEntriesReply(4, True, match_index=2))
    leader.on_message(2, AppendEntriesReply(4, True, match_index=2))
    assert leader.commit_index == 2


# -- §5.6 / §8 clients --------------------------------------------------------------------------


def test_follower_redirects_client_with_leader_hint() -> None:
    """§8: a follower rejects client requests and supplies the most recent leader it heard of."""
    node = make()
    node.on_message(2, AppendEntries(1, 2, 0, 0, (), 0))
    take(node)
    req = ClientRequest(4, 1, Command(4, 1, "get", "x"))
    node.on_client(req)
    assert [e for e in take(node) if isinstance(e, Reply)] == [
        Reply(req, ClientResponse(4, 1, False, leader_hint=2, error="not leader"))]


def test_retried_command_is_applied_once() -> None:
    """Diss. §6.3: with client ids and sequence numbers a command retried after it was applied
    returns the saved answer and is not executed twice."""
    node = make(n=1)
    elect(node)
    req = ClientRequest(4, 1, Command(4, 1, "append", "x", "a"))
    node.on_client(req)
    node.on_client(req)  # a retry (e.g. the first answer was lost)
    assert node.kv.data == {"x": "a"}
    replies = [e.response for e in take(node) if isinstance(e, Reply)]
    assert [r.ok for r in replies] == [True, True]


def test_reads_go_through_the_log() -> None:
    """Diss. §6.4 (we use the simplest linearizable option): a read is appended to the log and
    answered only after it is committed and applied."""
    node = make(n=3)
    elect(node)
    req = ClientRequest(4, 1, Command(4, 1, "get", "x"))
    node.on_client(req)
    assert node.log[-1].command == req.command
    assert not [e for e in take(node) if isinstance(e, Reply)]
    node.on_message(1, AppendEntriesReply(1, True, match_index=2))
    assert [e.response.value for e in take(node) if isinstance(e, Reply)] == [None]


def test_leader_stepping_down_fails_pending_requests() -> None:
    """§8: a deposed leader tells waiting clients to retry elsewhere (they may already be
    committed; the session table keeps the retry exactly-once)."""
    node = make()
    elect(node)
    req = ClientRequest(4, 1, Command(4, 1, "put", "x", 1))
    node.on_client(req)
    take(node)
    node.on_message(1, AppendEntries(2, 1, 0, 0, (), 0))
    replies = [e.response for e in take(node) if isinstance(e, Reply)]
    assert replies == [ClientResponse(4, 1, False, leader_hint=1, error="not leader")]


# -- persistence and recovery (Figure 2, diss. §3.8) ---------------------------------------------


def test_restart_recovers_term_vote_and_log_but_not_commit() -> None:
    """Figure 2: currentTerm, votedFor and log[] are persistent; commitIndex and lastApplied are
    volatile (re-learned from the leader)."""
    node = make(stable={"term": 2, "log": log_of(1, 2)})
    node.on_message(1, AppendEntries(2, 1, 2, 2, (Entry(2, cmd(3)),), 3))
    assert node.commit_index == 3
    again = make(stable=node.stable)
    assert (again.term, again.log, again.commit_index, again.last_applied) == (2, node.log, 0, 0)
    assert again.role is Role.FOLLOWER


# -- options -------------------------------------------------------------------------------------


def test_pre_vote_does_not_change_terms() -> None:
    """Diss. §9.6: a pre-candidate asks for votes for term+1 without incrementing its term; a
    voter grants the pre-vote without changing its own term or vote."""
    node = make(pre_vote=True, stable={"term": 3})
    effects = fire_election(node)
    assert node.role is Role.PRE_CANDIDATE and node.term == 3
    assert not [e for e in effects if isinstance(e, Persist)]
    assert sent(effects) == [(None, RequestVote(4, 0, 0, 0, pre_vote=True))]
    voter = make(1, stable={"term": 3}, pre_vote=True)
    voter.on_message(0, RequestVote(4, 0, 0, 0, pre_vote=True))
    assert sent(take(voter)) == [(0, RequestVoteReply(4, True, pre_vote=True))]
    assert voter.term == 3 and voter.voted_for is None
    node.on_message(1, RequestVoteReply(4, True, pre_vote=True))
    assert node.role is Role.CANDIDATE and node.term == 4  # now the real election


def test_pre_vote_refused_while_hearing_from_a_leader() -> None:
    """Diss. §9.6: a server refuses a pre-vote if it heard from a leader within the minimum
    election timeout, so a partitioned server cannot force an election on rejoining."""
    voter = make(1, pre_vote=True)
    voter.now = 100.0
    voter.on_message(2, AppendEntries(1, 2, 0, 0, (), 0))
    take(voter)
    voter.now = 180.0  # 80 ms < 150 ms after the heartbeat
    voter.on_message(0, RequestVote(5, 0, 9, 9, pre_vote=True))
    assert sent(take(voter)) == [(0, RequestVoteReply(1, False, pre_vote=True))]
    voter.now = 260.0  # 160 ms later: the leader may be gone
    voter.on_message(0, RequestVote(5, 0, 9, 9, pre_vote=True))
    assert sent(take(voter)) == [(0, RequestVoteReply(5, True, pre_vote=True))]


def test_check_quorum_leader_steps_down_without_majority() -> None:
    """Diss. §6.2: with CheckQuorum a leader that did not hear from a majority during an
    election timeout steps down."""
    node = make(check_quorum=True, n=5)
    elect(node)
    node.on_message(1, AppendEntriesReply(1, True, match_index=1))
    node.on_timer("check_quorum")  # heard from 1 of 4: itself + 1 < 3
    assert node.role is Role.FOLLOWER and node.term == 1


def test_check_quorum_leader_stays_with_majority() -> None:
    """Diss. §6.2: hearing from a majority keeps the leader in office."""
    node = make(check_quorum=True, n=5)
    elect(node)
    node.on_message(1, AppendEntriesReply(1, True, match_index=1))
    node.on_message(2, AppendEntriesReply(1, True, match_index=1))
    node.on_timer("check_quorum")
    assert node.role is Role.LEADER
    node.on_timer("check_quorum")  # a new round: nobody answered since
    assert node.role is Role.FOLLOWER


def test_check_quorum_lease_ignores_disruptive_request_vote() -> None:
    """Diss. §4.2.3: a server that heard from a leader within the minimum election timeout
    ignores RequestVote (it neither updates its term nor votes)."""
    node = make(1, check_quorum=True)
    node.now = 100.0
    node.on_message(2, AppendEntries(1, 2, 0, 0, (), 0))
    take(node)
    node.now = 120.0
    node.on_message(0, RequestVote(7, 0, 5, 5))
    assert take(node) == [] and node.term == 1
    node.on_message(0, RequestVote(7, 0, 5, 5, transfer=True))  # leadership transfer overrides
    assert node.term == 7 and sent(take(node)) == [(0, RequestVoteReply(7, True))]


def test_leadership_transfer() -> None:
    """Diss. §3.10: the leader catches the target up, sends TimeoutNow, and stops taking
    client requests; the target starts an election immediately (no Pre-Vote, lease bypassed)."""
    leader = make()
    elect(leader)
    take(leader)
    assert leader.transfer_leadership(1) is True
    assert [m for _, m in sent(take(leader), AppendEntries)]  # target lags: catch it up first
    req = ClientRequest(4, 1, Command(4, 1, "put", "x", 1))
    leader.on_client(req)
    assert [e.response.ok for e in take(leader) if isinstance(e, Reply)] == [False]
    leader.on_message(1, AppendEntriesReply(1, True, match_index=1))
    assert sent(take(leader), TimeoutNow) == [(1, TimeoutNow(1, 0))]
    target = make(1, pre_vote=True, check_quorum=True)
    target.on_message(0, AppendEntries(1, 0, 0, 0, (Entry(1, NOOP),), 0))
    take(target)
    target.on_message(0, TimeoutNow(1, 0))
    assert target.role is Role.CANDIDATE and target.term == 2
    assert sent(take(target), RequestVote) == [(None, RequestVote(2, 1, 1, 1, transfer=True))]


def test_snapshot_compacts_log_and_installs_on_lagging_follower() -> None:
    """§7: after the threshold a server snapshots applied state and discards the log prefix; a
    follower needing compacted entries gets InstallSnapshot and resumes from it."""
    leader = make(n=3, snapshot_threshold=3)
    elect(leader)
    for s in range(1, 5):
        leader.on_client(ClientRequest(4, s, Command(4, s, "put", f"k{s}", s)))
        leader.on_message(1, AppendEntriesReply(1, True, match_index=leader.last_log_index))
    take(leader)
    assert leader.commit_index == 5 and leader.snapshot_index >= 3
    assert leader.stable["snapshot"][0] == leader.snapshot_index
    # follower 2 never answered: its next index is 1, now compacted
    leader.on_timer("heartbeat")
    snaps = sent(take(leader), InstallSnapshot)
    assert [d for d, _ in snaps] == [2]
    follower = make(2)
    follower.on_message(0, snaps[0][1])
    reply = sent(take(follower))
    assert reply == [(0, InstallSnapshotReply(1, leader.snapshot_index))]
    assert follower.kv.data == {f"k{s}": s for s in range(1, leader.snapshot_index)}
    again = make(2, stable=follower.stable)  # the snapshot is durable
    assert again.commit_index == leader.snapshot_index and again.kv.data == follower.kv.data


def test_illegal_transitions_raise() -> None:
    """House style: role changes go through become_*; an illegal one raises."""
    node = make()
    with pytest.raises(RaftError):
        node.become_leader()
    elect(node)
    with pytest.raises(RaftError):
        node.become_candidate()
    with pytest.raises(RaftError):
        node.become_follower(0, None)


@pytest.mark.parametrize(
    ("kwargs", "exc", "text"),
    [
        ({"n": 0}, ValueError, "`n` must be an int >= 1; got 0."),
        ({"n": 3, "heartbeat": 200}, ValueError, "`heartbeat` must be < election_timeout[0]"),
        ({"n": 3, "election_timeout": (300, 150)}, ValueError, "low <= high"),
        ({"n": 3, "election_timeout": 150}, TypeError, "(low, high) pair"),
        ({"n": 3, "pre_vote": 1}, TypeError, "`pre_vote` must be a bool"),
        ({"n": 3, "snapshot_threshold": 0}, ValueError, "`snapshot_threshold` must be an int >= 1"),
        ({"n": 3, "heartbeat": 0}, ValueError, "`heartbeat` must be a number > 0.0"),
    ],
)
def test_config_validation(kwargs: dict, exc: type, text: str) -> None:
    with pytest.raises(exc, match=None) as info:
        RaftConfig(**kwargs)
    assert text in str(info.value)


def test_config_normalizes_timeouts() -> None:
    cfg = RaftConfig(n=5, election_timeout=[150, 150], heartbeat=75)
    assert cfg.election_timeout == (150.0, 150.0) and cfg.majority == 3


def test_pre_vote_refused_for_a_stale_log_carries_the_voters_own_term() -> None:
    """Diss. §9.6 (and etcd's implementation): a server whose log is more up-to-date refuses a
    pre-vote with *its own* term, so the pre-candidate does not adopt the proposed term and
    terms do not climb without an election."""
    voter = make(1, stable={"term": 3, "log": log_of(1, 3)}, pre_vote=True)
    voter.on_message(0, RequestVote(4, 0, 1, 1, pre_vote=True))  # candidate's log is behind
    assert sent(take(voter)) == [(0, RequestVoteReply(3, False, pre_vote=True))]
    assert voter.term == 3
    candidate = make(0, stable={"term": 3, "log": log_of(1)}, pre_vote=True)
    fire_election(candidate)
    candidate.on_message(1, RequestVoteReply(3, False, pre_vote=True))
    assert candidate.term == 3  # no term adopted from a refusal at our own term
