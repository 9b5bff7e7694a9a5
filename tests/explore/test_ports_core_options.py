"""The two default-off core options the stateright ports need: no-op deliveries, check-at-expansion."""

from __future__ import annotations

from typing import Any

import pytest

from consensuslab.explore import (
    ActorModel,
    Deliver,
    TransitionSystem,
    always,
    check,
    sometimes,
)
from consensuslab.node import Node


class Gate(Node):
    """Ignores "x" until it has seen "y"; then counts the "x"s."""

    def on_start(self) -> None:
        self.open = False
        self.xs = 0
        if self.id == 1:
            self.send(0, "x")
            self.send(0, "y")

    def on_message(self, src: int, msg: Any) -> None:
        if msg == "y":
            self.open = True
        elif msg == "x" and self.open:
            self.xs += 1


def test_noop_deliveries_are_consumed_by_default() -> None:
    model = ActorModel(Gate, 2)
    state = model.initial_states()[0]
    events = [e for e, _ in model.successors(state)]
    assert Deliver(1, 0, "x") in events  # a no-op delivery, which consumes "x"
    result = check(model, stop_when="never")
    # states: {x,y} in flight; x consumed (ignored); y delivered; both orders of the rest
    assert result.unique_states == 5


def test_skip_noop_deliveries_keeps_the_message_in_flight() -> None:
    model = ActorModel(Gate, 2, skip_noop_deliveries=True,
                       properties=[sometimes("counted", lambda s: s.nodes[0].xs == 1)])
    state = model.initial_states()[0]
    assert [e for e, _ in model.successors(state)] == [Deliver(1, 0, "y")]  # "x" is no event yet
    result = check(model, stop_when="never")
    assert result.unique_states == 3  # start; y delivered; then x counted
    assert result.examples["counted"].events == [Deliver(1, 0, "y"), Deliver(1, 0, "x")]


def test_check_on_expand_counts_the_generated_states_before_stopping() -> None:
    # a binary tree of depth 3; the invariant fails at the first leaf (depth 2) in BFS order
    system = TransitionSystem(
        initial=[""],
        actions={"L": lambda s: s + "L" if len(s) < 3 else None, "R": lambda s: s + "R" if len(s) < 3 else None},
        properties=[always("short", lambda s: len(s) < 2)])
    at_generation = check(system)
    at_expansion = check(system, check_on="expand")
    assert at_generation.counterexamples["short"].last == at_expansion.counterexamples["short"].last == "LL"
    # generation: stops when "LL" is kept (root, L, R, LL); expansion: when "LL" is popped, after
    # L and R were expanded (root, L, R, LL, LR, RL, RR)
    assert (at_generation.unique_states, at_expansion.unique_states) == (4, 7)
    # exhaustive searches agree
    assert check(system, stop_when="never").unique_states == check(
        system, stop_when="never", check_on="expand").unique_states == 15


def test_check_on_rejects_unknown_values() -> None:
    with pytest.raises(ValueError, match="check_on"):
        check(TransitionSystem([0], {"a": lambda s: None}), check_on="later")
