"""Paper-rule tests for Raft membership changes, one rule per test, each citing its section.

References: Ongaro (2014), "Consensus: Bridging Theory and Practice" (dissertation) — "diss.
§4.x"; Ongaro & Ousterhout (2014), "In Search of an Understandable Consensus Algorithm" — "§6"
(joint consensus); Ongaro, raft-dev, July 2015, "bug in single-server membership changes" —
"the 2015 fix"; etcd-io/raft — learners and ``promotable``.
"""

from __future__ import annotations

import numpy as np
import pytest

from consensuslab.check import SafetyViolation
from consensuslab.cluster import Cluster
from consensuslab.node import Broadcast, Send
from consensuslab.protocols.kv import NOOP, ClientRequest, Command
from consensuslab.protocols.raft import (
    AppendEntries,
    AppendEntriesReply,
    ChangeMembership,
    Entry,
    InstallSnapshot,
    Membership,
    MembershipError,
    RaftConfig,
    RaftNode,
    RequestVote,
    RequestVoteReply,
    Role,
)
from consensuslab.scenarios.raft import membership_bug_replay


def make(node_id: int = 0, n: int = 3, members: tuple[int, ...] | None = None, stable: dict | None = None,
         **opts) -> RaftNode:
    cfg = RaftConfig(n=n, members=members, **opts)
    node = cfg.make_node(node_id, tuple(range(n)), np.random.default_rng(7), dict(stable or {}))
    node.on_start()
    node.out.clear()
    return node


def take(node: RaftNode) -> list:
    out, node.out = node.out, []
    return out


def sends(effects: list, kind: type | None = None) -> list[tuple[int | None, object]]:
    got = []
    for e in effects:
        if isinstance(e, Send) and (kind is None or isinstance(e.msg, kind)):
            got.append((e.dst, e.msg))
        elif isinstance(e, Broadcast) and (kind is None or isinstance(e.msg, kind)):
            got.append((None, e.msg))
    return got


def elect(node: RaftNode) -> None:
    node.now = node._deadline
    node.on_timer("election")
    for p in node._vote_targets:
        if node.role is Role.LEADER:
            break
        node.on_message(p, RequestVoteReply(node.term, True))
    assert node.role is Role.LEADER
    take(node)


def ack_all(node: RaftNode, peers: list[int] | None = None) -> None:
    """Every (or the listed) follower acknowledges the leader's whole log."""
    for p in node._targets if peers is None else peers:
        node.on_message(p, AppendEntriesReply(node.term, True, match_index=node.last_log_index))


def cfg(voters, learners=(), old=None) -> Membership:
    return Membership(frozenset(voters), frozenset(learners), None if old is None else frozenset(old))


# -- diss. §4.1: configurations live in the log ---------------------------------------------


def test_a_server_uses_the_latest_configuration_in_its_log_committed_or_not() -> None:
    """diss. §4.1: "a server always uses the latest configuration in its log, regardless of
    whether the entry is committed" — and falls back when a conflicting entry is removed."""
    node = make(1, n=4, members=(0, 1, 2))
    assert node.membership == cfg({0, 1, 2})
    c1 = cfg({0, 1, 2, 3})
    node.on_message(0, AppendEntries(1, 0, 0, 0, (Entry(1, NOOP), Entry(1, NOOP, c1)), 0))
    assert node.membership == c1 and node.commit_index == 0  # in force, though uncommitted
    # a new leader of term 2 overwrites index 2: the configuration entry goes, C0 is back
    node.on_message(2, AppendEntries(2, 2, 1, 1, (Entry(2, NOOP),), 1))
    assert node.membership == cfg({0, 1, 2}) and node.last_log_index == 2


def test_leader_adopts_its_new_configuration_on_append_and_replicates_to_the_newcomer() -> None:
    """diss. §4.1: the leader uses C_new as soon as it appends it, so it replicates to the
    added server and counts it in majorities from then on."""
    node = make(0, n=4, members=(0, 1, 2))
    elect(node)
    ack_all(node)  # the no-op of term 1 is committed
    index = node.propose_membership("add_voter", 3)
    assert node.membership == cfg({0, 1, 2, 3}) and index == 2
    out = take(node)
    assert 3 in {dst for dst, _ in sends(out, AppendEntries)}
    node.on_message(1, AppendEntriesReply(1, True, match_index=2))
    assert node.commit_index == 1  # 2 of 4 is not a majority of C_new
    node.on_message(2, AppendEntriesReply(1, True, match_index=2))
    assert node.commit_index == 2


def test_one_change_at_a_time() -> None:
    """diss. §4.1: "the leader must not begin a new configuration change until the previous
    one is committed"."""
    node = make(0, n=5, members=(0, 1, 2))
    elect(node)
    ack_all(node)
    node.propose_membership("add_voter", 3)
    with pytest.raises(MembershipError, match="not committed yet"):
        node.propose_membership("add_voter", 4)
    ack_all(node)
    node.propose_membership("add_voter", 4)
    assert node.membership == cfg({0, 1, 2, 3, 4})


def test_the_2015_fix_a_leader_first_commits_an_entry_of_its_term() -> None:
    """The 2015 fix (raft-dev, Ongaro): a leader may not start a membership change until it
    has committed an entry of its current term (its no-op)."""
    node = make(0, n=4, members=(0, 1, 2))
    elect(node)
    with pytest.raises(MembershipError, match="has not committed an entry of term 1"):
        node.propose_membership("add_voter", 3)
    ack_all(node)
    assert node.propose_membership("add_voter", 3) == 2


def test_without_the_2015_fix_a_new_leader_changes_at_once() -> None:
    """membership_rule=False (the dissertation as first published) accepts the change before
    the no-op commits: the precondition of the 2015 bug."""
    node = make(0, n=4, members=(0, 1, 2), membership_rule=False)
    elect(node)
    assert node.propose_membership("add_voter", 3) == 2


def test_bad_changes_are_refused() -> None:
    """diss. §4.1: a change adds or removes one server; the configuration keeps a voter."""
    node = make(0, n=3, members=(0,))
    elect(node)
    with pytest.raises(MembershipError, match="already a voter"):
        node.propose_membership("add_voter", 0)
    with pytest.raises(MembershipError, match="is not a member"):
        node.propose_membership("remove", 2)
    with pytest.raises(MembershipError, match="last voter"):
        node.propose_membership("remove", 0)
    follower = make(1, n=3)
    with pytest.raises(MembershipError, match="not the leader"):
        follower.propose_membership("add_learner", 2)


def test_change_membership_request_answers_with_the_index_or_the_reason() -> None:
    """A client-style ChangeMembership is answered ok with the entry's index, or refused."""
    node = make(0, n=4, members=(0, 1, 2))
    elect(node)
    node.on_client(ChangeMembership(5, 1, "add_voter", 3))
    (reply,) = [e for e in take(node) if type(e).__name__ == "Reply"]
    assert not reply.response.ok and "has not committed" in reply.response.error
    ack_all(node)
    node.on_client(ChangeMembership(5, 2, "add_voter", 3))
    (reply,) = [e for e in take(node) if type(e).__name__ == "Reply"]
    assert reply.response.ok and reply.response.value == 2


# -- diss. §4.2.2: removing the leader --------------------------------------------------------


def test_a_removed_leader_does_not_count_itself_and_steps_down_once_committed() -> None:
    """diss. §4.2.2: a leader removed from the configuration "replicates log entries but does not
    count itself in majorities", and steps down once C_new is committed."""
    node = make(0, n=3)
    elect(node)
    ack_all(node)
    node.propose_membership("remove", 0)
    assert node.membership == cfg({1, 2}) and node.role is Role.LEADER
    node.on_message(1, AppendEntriesReply(1, True, match_index=2))
    assert node.commit_index == 1 and node.role is Role.LEADER  # itself + S2 is not a majority of {1, 2}
    node.on_message(2, AppendEntriesReply(1, True, match_index=2))
    assert node.commit_index == 2 and node.role is Role.FOLLOWER
    node.now = node._deadline + 1000
    node.on_timer("election")  # it is no longer a voter: it never campaigns
    assert node.role is Role.FOLLOWER and not sends(take(node), RequestVote)


# -- §6: joint consensus ------------------------------------------------------------------------


def test_joint_consensus_needs_both_majorities_then_appends_c_new() -> None:
    """§6: in C_old,new "agreement (for elections and entry commitment) requires separate
    majorities from both the old and new configurations"; once C_old,new is committed the
    leader creates C_new."""
    node = make(0, n=6, members=(0, 1, 2))
    elect(node)
    ack_all(node)
    index = node.propose_membership("joint", voters=(0, 3, 4, 5))
    assert node.membership == cfg({0, 3, 4, 5}, old={0, 1, 2}) and index == 2
    node.on_message(3, AppendEntriesReply(1, True, match_index=2))
    node.on_message(4, AppendEntriesReply(1, True, match_index=2))
    assert node.commit_index == 1  # a majority of C_new (0, 3, 4) but only 1 of 3 in C_old
    node.on_message(1, AppendEntriesReply(1, True, match_index=2))
    assert node.commit_index == 2  # now both: C_old,new committed
    assert node.membership == cfg({0, 3, 4, 5}) and node.last_log_index == 3  # C_new appended
    assert node.entry_at(3).config == cfg({0, 3, 4, 5})


def test_joint_election_needs_both_majorities() -> None:
    """§6: a candidate in C_old,new needs a majority of C_old and of C_new."""
    joint = cfg({2, 3, 4}, old={0, 1, 2})
    node = make(2, n=5, stable={"log": (Entry(1, NOOP), Entry(1, NOOP, joint)), "term": 1})
    assert node.membership == joint
    node.now = node._deadline
    node.on_timer("election")
    assert [dst for dst, _ in sends(take(node), RequestVote)] == [None]  # all four others vote
    assert node._vote_targets == (0, 1, 3, 4)
    node.on_message(3, RequestVoteReply(2, True))
    node.on_message(4, RequestVoteReply(2, True))
    assert node.role is Role.CANDIDATE  # C_new yes, C_old only itself
    node.on_message(0, RequestVoteReply(2, True))
    assert node.role is Role.LEADER


def test_a_leader_outside_c_new_steps_down_after_committing_it() -> None:
    """§6: "the leader ... steps down (returns to follower state) once it has committed the
    C_new log entry" when it is not part of C_new."""
    node = make(0, n=4, members=(0, 1, 2))
    elect(node)
    ack_all(node)
    node.propose_membership("joint", voters=(1, 2, 3))
    ack_all(node)  # C_old,new committed -> C_new appended
    assert node.membership == cfg({1, 2, 3}) and node.role is Role.LEADER
    ack_all(node)
    assert node.role is Role.FOLLOWER and node.commit_index == 3


# -- learners (etcd) --------------------------------------------------------------------------


def test_learners_receive_the_log_but_neither_count_nor_campaign() -> None:
    """etcd learners: a non-voting member gets AppendEntries, is not counted for commitment,
    and never starts an election (etcd's ``promotable``)."""
    node = make(0, n=3, members=(0, 1))
    elect(node)
    ack_all(node)
    node.propose_membership("add_learner", 2)
    assert node.membership == cfg({0, 1}, learners={2})
    assert 2 in {d for d, _ in sends(take(node), AppendEntries)}
    node.on_message(2, AppendEntriesReply(1, True, match_index=2))
    assert node.commit_index == 1  # the learner's copy does not count
    node.on_message(1, AppendEntriesReply(1, True, match_index=2))
    assert node.commit_index == 2
    learner = make(2, n=3, members=(0, 1))
    learner.on_message(0, AppendEntries(1, 0, 0, 0, (Entry(1, NOOP), Entry(1, NOOP, cfg({0, 1}, {2}))), 2))
    learner.now = learner._deadline + 1
    learner.on_timer("election")
    assert learner.role is Role.FOLLOWER and not sends(take(learner), RequestVote)
    learner.campaign()
    assert learner.role is Role.FOLLOWER


def test_promoting_a_learner_is_a_single_server_change() -> None:
    """etcd: a learner becomes a voter through a configuration change (add_voter)."""
    node = make(0, n=3, members=(0, 1))
    elect(node)
    ack_all(node)
    node.propose_membership("add_learner", 2)
    ack_all(node)
    node.propose_membership("add_voter", 2)
    assert node.membership == cfg({0, 1, 2})


def test_a_new_server_outside_the_configuration_does_not_campaign() -> None:
    """diss. §4.2.1 / etcd: a server that joins with an empty log is not in any configuration
    it knows, so it waits for the leader instead of starting elections."""
    node = make(3, n=4, members=(0, 1, 2))
    node.now = node._deadline
    node.on_timer("election")
    assert node.role is Role.FOLLOWER and node.term == 0


def test_snapshots_carry_the_configuration() -> None:
    """diss. §5.1: a snapshot holds the latest configuration as of its last included index;
    a server installing it adopts that configuration."""
    node = make(0, n=4, members=(0, 1, 2), snapshot_threshold=2)
    elect(node)
    ack_all(node)
    node.propose_membership("add_voter", 3)
    ack_all(node)  # index 2 (the configuration) applied -> snapshot at 2
    assert node.snapshot_index == 2 and node._snap_membership == cfg({0, 1, 2, 3})
    node.next_index[3] = 1
    node._send_append(3)
    (msg,) = [m for _, m in sends(take(node), InstallSnapshot)]
    assert msg.membership == cfg({0, 1, 2, 3})
    fresh = make(3, n=4, members=(0, 1, 2))
    fresh.on_message(0, msg)
    assert fresh.membership == cfg({0, 1, 2, 3}) and fresh.snapshot_index == 2
    again = RaftNode(3, (0, 1, 2, 3), np.random.default_rng(1), dict(fresh.stable),
                     config=RaftConfig(n=4, members=(0, 1, 2)), bootstrap=(0, 1, 2))
    again.on_start()
    assert again.membership == cfg({0, 1, 2, 3})  # recovered from stable storage


# -- the 2015 bug ------------------------------------------------------------------------------


def test_the_2015_bug_gives_two_leaders_in_one_term_without_the_fix() -> None:
    """The 2015 bug, replayed (see scenarios.raft.membership_bug_replay): C1 = {S1..S5} and
    C2 = {S2, S3, S4} have disjoint majorities {S1, S4, S5} and {S2, S3}; the monitor raises
    Election Safety when S1 and S3 both lead term 3."""
    replay = membership_bug_replay(membership_rule=False)
    assert isinstance(replay.violation, SafetyViolation)
    assert replay.violation.invariant == "Election Safety"
    assert "both led term 3" in str(replay.violation)
    last = replay.states[-1]
    assert last.roles[0] == last.roles[2] == "leader" and last.terms[0] == last.terms[2] == 3
    assert last.members[0] == "{0,1,2,3,4}" and last.members[2] == "{1,2,3}"


def test_the_2015_fix_prevents_it() -> None:
    """With the fix S2 refuses the change until its term-2 no-op is committed under C0, which
    puts a term-2 entry on S4; S1 then cannot win term 3 and only S3 leads it."""
    replay = membership_bug_replay(membership_rule=True)
    assert replay.violation is None
    assert replay.refusals and "has not committed an entry of term 2" in replay.refusals[0]
    last = replay.states[-1]
    assert last.roles.count("leader") == 1 and last.roles[2] == "leader" and last.roles[0] != "leader"


# -- Cluster.add_node / remove_node -------------------------------------------------------------


def elected(c: Cluster) -> int:
    assert c.run_until(lambda: c.leader() is not None, timeout=3000)
    leader = c.leader()
    assert leader is not None
    return leader


def test_cluster_add_node_catches_up_as_a_learner_then_votes() -> None:
    """etcd's recipe (and diss. §4.2.1, catching up new servers): the new server is a learner
    until it holds the leader's log, then a single-server change makes it a voter."""
    c = Cluster("raft", n=3, seed=4, check_every_step=True, trace=True)
    elected(c)
    for k in range(5):
        assert c.put(f"k{k}", k).ok
    new = c.add_node()
    assert new == 3 and c.n == 4 and c.membership() == cfg({0, 1, 2, 3})
    notes = [r[5]["config"] for r in c.trace.records if r[1] == "note" and r[4] == "membership" and r[2] == c.leader()]
    assert notes[:2] == ["{0,1,2} learners {3}", "{0,1,2,3}"]
    assert c.put("after", 1).ok
    assert c.run_until(lambda: [x.key for x in c.committed(3)][-1:] == ["after"], timeout=1000)
    c.check_safety()


def test_cluster_remove_the_leader_then_another_leads() -> None:
    """diss. §4.2.2: removing the leader; it steps down once the change commits and the
    remaining voters elect a leader among themselves."""
    c = Cluster("raft", n=5, seed=2, check_every_step=True)
    old = elected(c)
    c.remove_node(old)
    assert old not in c.membership().members
    new = elected(c)
    assert new != old and c.node(old).role is Role.FOLLOWER
    assert c.put("x", 1).ok


def test_cluster_joint_change_to_a_disjoint_set() -> None:
    """§6: joint consensus can replace every voter at once (learners catch up first)."""
    c = Cluster("raft", n=3, seed=5, check_every_step=True)
    elected(c)
    assert c.put("x", 1).ok
    added = [c.add_node(voter=False) for _ in range(3)]
    assert c.membership() == cfg({0, 1, 2}, learners=set(added))
    c.change_voters(added)
    assert c.membership() == cfg(set(added))
    leader = elected(c)
    assert leader in added
    assert c.get("x").value == 1


@pytest.mark.parametrize("pre_vote, check_quorum", [(True, False), (False, True), (True, True)])
def test_a_removed_server_does_not_disrupt_with_prevote_or_checkquorum(pre_vote: bool, check_quorum: bool) -> None:
    """diss. §4.2.3: a removed server that never learns of its removal times out and campaigns
    with ever higher terms; Pre-Vote (its probes are refused while the cluster has a leader)
    and CheckQuorum's leader lease (followers ignore its RequestVotes) each keep the cluster's
    leader in place, as in etcd."""
    c = Cluster("raft", n=4, seed=3, pre_vote=pre_vote, check_quorum=check_quorum, check_every_step=True)
    leader = elected(c)
    victim = next(i for i in range(4) if i != leader)
    c.isolate(victim)  # it misses its own removal
    c.remove_node(victim)
    c.heal()
    term = c.node(leader).term
    c.run_for(3000)
    assert c.leader() == leader and c.node(leader).term == term
    assert c.node(victim).term >= term  # it did campaign (or at least probe)


def test_without_prevote_and_checkquorum_a_removed_server_disrupts() -> None:
    """diss. §4.2.3, the problem itself: the removed server's RequestVotes carry higher terms
    and depose the leader again and again."""
    c = Cluster("raft", n=4, seed=3, check_every_step=True)
    leader = elected(c)
    victim = next(i for i in range(4) if i != leader)
    c.isolate(victim)
    c.remove_node(victim)
    c.heal()
    term = c.node(leader).term
    c.run_for(3000)
    now_leader = c.leader()
    assert now_leader is None or c.node(now_leader).term > term


def test_membership_bad_input() -> None:
    c = Cluster("raft", n=3, seed=1)
    elected(c)
    with pytest.raises(ValueError, match="`node` must not be a member already; node 1 is a voter"):
        c.add_node(1)
    learner = c.add_node(voter=False)
    c.remove_node(learner)
    with pytest.raises(ValueError, match="`node` must be a member; node 3 is not in"):
        c.remove_node(learner)
    c.remove_node(0)
    c.remove_node(1)
    with pytest.raises(ValueError, match="`node` must not be the last voter"):
        c.remove_node(2)
    p = Cluster("paxos", n=3, seed=1)
    for call in (p.add_node, lambda: p.remove_node(0)):
        with pytest.raises(ValueError, match="needs a protocol with membership changes"):
            call()
    with pytest.raises(TypeError, match="`voter` must be a bool"):
        c.add_node(voter="yes")


def test_config_members_must_be_valid() -> None:
    with pytest.raises(ValueError, match="`members\\[\\]` must be an int >= 0 and <= 2; got 3"):
        RaftConfig(n=3, members=(0, 3))
    with pytest.raises(ValueError, match="distinct"):
        RaftConfig(n=3, members=(0, 0))
    assert RaftConfig(n=3, members=[2, 0]).members == (0, 2)


def test_membership_changes_replay_identically() -> None:
    def run() -> tuple:
        c = Cluster("raft", n=3, seed=9)
        elected(c)
        c.add_node()
        c.put("x", 1)
        c.remove_node(0)
        c.put("y", 2)
        return c.now, c.messages_sent, tuple(str(c.node(i).membership) for i in range(1, 4))

    assert run() == run()
