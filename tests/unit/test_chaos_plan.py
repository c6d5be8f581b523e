"""A chaos run's plan is replayable from its seed and holds what was asked for."""

from __future__ import annotations

from tests.chaos.plan import FAULTS, INTERFERENCE, NAMESPACE, PREFIX, plan


def test_a_seed_replays_the_same_plan_and_another_seed_another():
    assert plan(7, 50, 3) == plan(7, 50, 3)
    assert plan(7, 50, 3) != plan(8, 50, 3)


def test_a_plan_has_its_length_and_its_faults():
    ops = plan(1, 50, 3)
    assert len(ops) == 50
    assert sum(op.action in FAULTS for op in ops) == 3
    assert {op.action for op in ops} >= {"create", "update", "delete"}


def test_interference_meets_only_the_kinds_it_applies_to_and_names_carry_their_kind():
    ops = [op for seed in range(20) for op in plan(seed, 50, 3)]
    for op in ops:
        if op.action in INTERFERENCE:
            assert op.kind in INTERFERENCE[op.action]
        if op.kind:
            assert op.name.startswith(PREFIX[op.kind])
    assert {op.action for op in ops} >= set(INTERFERENCE) | set(NAMESPACE) | {"storm"}
