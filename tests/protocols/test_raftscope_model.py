"""The step-through Raft view, without a kernel: the model (record, step, scrub, act, branch,
replay), its SVG and the explorer's controls."""

from __future__ import annotations

import json

import pytest

from consensuslab.plots.raftscope import scope_svg
from consensuslab.scenarios.raftscope import RaftScope, message_label
from consensuslab.protocols.raft import AppendEntries, Entry, RequestVote
from consensuslab.protocols.kv import NOOP


def led(scope: RaftScope, limit: int = 400) -> int:
    for _ in range(limit):
        if scope.frame.leader is not None:
            return scope.frame.leader
        scope.step()
    raise AssertionError("no leader")


def test_frames_show_what_raftscope_shows() -> None:
    scope = RaftScope(n=5, seed=1)
    leader = led(scope)
    scope.step(3)
    f = scope.frame
    assert len(f.nodes) == 5 and f.nodes[leader].role == "leader" and f.nodes[leader].timer is None
    follower = f.nodes[(leader + 1) % 5]
    assert follower.voted_for == leader and 0.0 <= follower.timer <= 1.0 and follower.member == "voter"
    assert follower.log[0] == (f.nodes[leader].term, "noop")
    while not scope.frame.messages:
        scope.step()
    m = scope.frame.messages[0]
    assert 0.0 <= m.progress <= 1.0 and m.sent <= scope.frame.time <= m.due and m.label


def test_the_election_timer_drains_between_heartbeats() -> None:
    scope = RaftScope(n=3, seed=2)
    f0 = scope.frame
    scope.step()
    f1 = scope.frame
    assert all(b.timer <= a.timer for a, b in zip(f0.nodes, f1.nodes) if a.timer and b.timer and a.term == b.term)


def test_scrub_back_and_forth_replays_the_recording() -> None:
    scope = RaftScope(n=3, seed=3)
    scope.step(60)
    recorded = list(scope.frames)
    scope.seek(10)
    assert scope.frame == recorded[10]
    scope.back(5)
    assert scope.position == 5
    scope.step(55)
    assert scope.position == 60 and scope.frames == recorded  # forward through the recording
    with pytest.raises(ValueError, match="`k` must be an int >= 0 and <= 60"):
        scope.seek(61)


def test_actions_crash_restart_timeout_request_drop() -> None:
    scope = RaftScope(n=3, seed=4)
    leader = led(scope)
    scope.crash(leader)
    assert scope.frame.nodes[leader].role == "down" and scope.frame.event == f"you crashed S{leader + 1}"
    other = (leader + 1) % 3
    scope.timeout(other)
    assert scope.frame.nodes[other].role == "candidate"
    flying = [m for m in scope.frame.messages if m.kind == "RequestVote" and m.src == other]
    assert flying and flying[0].label == f"RV t{scope.frame.nodes[other].term}"
    scope.drop(flying[0].seq)
    assert flying[0].seq not in {m.seq for m in scope.frame.messages}
    scope.restart(leader)
    assert scope.frame.nodes[leader].role == "follower"
    scope.crash(leader)
    scope.timeout(leader)
    assert scope.error == f"S{leader + 1} is down"
    led(scope)
    scope.request()
    assert scope.frame.event == "a client sends put x=1"
    scope.step(60)
    assert any(kind == "cmd" for _, kind in scope.frame.nodes[scope.frame.leader].log)


def test_add_and_remove_a_server_in_the_view() -> None:
    scope = RaftScope(n=3, seed=5)
    leader = led(scope)
    scope.step(20)
    scope.add_node()
    assert len(scope.frame.nodes) == 4 and scope.frame.nodes[3].member == "voter"
    scope.step(150)
    assert ("config" in {k for _, k in scope.frame.nodes[3].log})
    victim = next(i for i in range(3) if i != leader)
    scope.remove_node(victim)
    scope.step(10)
    assert scope.frame.nodes[victim].member == "outside"
    scope2 = RaftScope(n=3, seed=5)
    scope2.add_node()  # no leader yet: refused, shown as an error
    assert scope2.error and "needs a leader" in scope2.error and len(scope2.frame.nodes) == 3


def test_acting_in_the_past_branches_and_export_load_rebuilds_frame_for_frame() -> None:
    scope = RaftScope(n=5, seed=6)
    led(scope)
    scope.step(30)
    scope.request()
    scope.step(40)
    scope.seek(20)
    scope.crash(0)  # branch: the request and everything after frame 20 are gone
    assert scope.last == 21 and [a for _, a, _ in scope.script] == ["crash"]
    scope.step(50)
    text = scope.export()
    data = json.loads(text)
    assert data["script"] == [[20, "crash", [0]]] and data["frames"] == 72
    again = RaftScope.load(text)
    assert again.frames == scope.frames and again.position == scope.position
    with pytest.raises(ValueError, match="RaftScope export"):
        RaftScope.load({"format": "other"})


def test_the_same_seed_gives_the_same_run() -> None:
    a, b = RaftScope(n=4, seed=9), RaftScope(n=4, seed=9)
    a.step(120)
    b.step(120)
    assert a.frames == b.frames


def test_message_labels() -> None:
    assert message_label(AppendEntries(2, 0, 2, 1, (Entry(2, NOOP), Entry(2, NOOP)), 2)) == "AE t2 [3-4] c2"
    assert message_label(AppendEntries(2, 0, 4, 2, (), 3)) == "AE t2 heartbeat c3"
    assert message_label(RequestVote(3, 1, 0, 0, pre_vote=True)) == "PV t3"


def test_svg_draws_nodes_messages_and_logs() -> None:
    scope = RaftScope(n=3, seed=1)
    led(scope)
    while not scope.frame.messages:
        scope.step()
    svg = scope_svg(scope.frame)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('class="scope-node"') == 3 and svg.count('class="scope-msg"') == len(scope.frame.messages)
    assert "leader S" in svg and 'data-role="leader"' in svg and "scope-entry" in svg


def test_explorer_controls_without_a_kernel() -> None:
    from consensuslab.widgets.raftscope import RaftScopeExplorer

    ex = RaftScopeExplorer(n=3, seed=1, warmup=60)
    s = ex.summary
    assert s["frame"] == 60 and ex.time.max == 60 and "<svg" in ex.html.value
    ex.buttons["step"].click()
    assert ex.summary["frame"] == 61 and ex.time.value == 61
    ex.time.value = 10  # scrub
    assert ex.summary["frame"] == 10 and ex.scope.position == 10
    ex.buttons["run10"].click()
    assert ex.summary["frame"] == 20
    leader = next(i for i in range(150) if ex.buttons["step"].click() is None and ex.summary["leader"] is not None)
    assert leader >= 0
    ex.node.value = ex.summary["leader"]
    ex.buttons["crash"].click()
    assert ex.summary["roles"][ex.node.value] == "down" and ex.summary["actions"] == 1
    ex.buttons["restart"].click()
    ex.buttons["request"].click()
    assert ex.summary["event"].startswith("a client sends put")
    if ex.message.options:
        ex.message.value = ex.message.options[0][1]
        ex.buttons["drop"].click()
    ex.play.value = ex.play.value + 1  # a Play tick steps once
    frame = ex.summary["frame"]
    ex.buttons["export"].click()
    replay = ex.replay.value
    ex.seed.value = 2  # a new run
    assert ex.summary["frame"] == 60 and ex.summary["actions"] == 0
    ex.replay.value = replay
    ex.buttons["load"].click()
    assert ex.summary["frame"] == frame
    ex.buttons["back"].click()
    assert ex.summary["frame"] == frame - 1
