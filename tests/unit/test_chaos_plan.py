"""A chaos run's plan is replayable from its seed and holds what was asked for."""

from __future__ import annotations

from tests.chaos.plan import FAULTS, plan


def test_a_seed_replays_the_same_plan_and_another_seed_another():
    assert plan(7, 50, 3) == plan(7, 50, 3)
    assert plan(7, 50, 3) != plan(8, 50, 3)


def test_a_plan_has_its_length_and_its_faults():
    ops = plan(1, 50, 3)
    assert len(ops) == 50
    assert sum(op.action in FAULTS for op in ops) == 3
    assert {op.action for op in ops} >= {"create", "update", "delete"}
