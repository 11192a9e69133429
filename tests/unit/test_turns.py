"""Turns for writes that can wait: reserved 1/rate apart, kept until used or forgotten."""

import time

from ecs_facade.controllers.turns import Turns


def test_the_first_turn_is_now_the_next_ones_follow_at_the_rate() -> None:
    turns = Turns()
    waits = [turns.wait(key, 4.0) for key in "abcd"]
    assert waits[0] == 0.0
    assert [round(w, 2) for w in waits[1:]] == [0.25, 0.5, 0.75]


def test_a_key_asked_again_keeps_its_place() -> None:
    turns = Turns()
    turns.wait("a", 2.0)
    first = turns.wait("b", 2.0)
    turns.wait("c", 2.0)
    again = turns.wait("b", 2.0)
    assert 0.45 < again <= first <= 0.5  # not behind c


def test_a_turn_that_came_is_used_once() -> None:
    turns = Turns()
    turns.wait("a", 20.0)
    time.sleep(turns.wait("b", 20.0))
    assert turns.wait("b", 20.0) == 0.0
    assert "b" not in turns


def test_a_forgotten_turn_is_given_up() -> None:
    turns = Turns()
    turns.wait("a", 1.0)
    assert turns.wait("b", 1.0) > 0.0
    turns.forget("b")
    assert "b" not in turns


def test_after_a_quiet_while_the_turn_is_now_again() -> None:
    turns = Turns()
    turns.wait("a", 50.0)
    time.sleep(0.05)
    assert turns.wait("b", 50.0) == 0.0


def test_no_rate_no_turns() -> None:
    turns = Turns()
    assert [turns.wait(key, 0.0) for key in "abc"] == [0.0, 0.0, 0.0]
