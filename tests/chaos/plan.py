"""A chaos run's plan: from a seed, a replayable sequence of tenant operations, host-side interference and faults.
Pure (no I/O), so a failing seed replays the same sequence and the plan itself is unit-tested."""

from __future__ import annotations

import random
from dataclasses import dataclass

TENANT = ("create", "update", "delete")
KINDS = ("config_map", "secret", "service")
INTERFERENCE = ("host_delete", "host_edit")
FAULTS = ("kill_syncer", "pause_syncer", "restart_virtual_apiserver", "restart_host_apiserver")
NAMES = 8  # per kind: small, so operations meet the same objects again


@dataclass(frozen=True)
class Op:
    action: str  # create / update / delete / storm / host_delete / host_edit / a fault
    kind: str = ""
    name: str = ""

    def __str__(self) -> str:
        return " ".join(part for part in (self.action, self.kind, self.name) if part)


def plan(seed: int, length: int, faults: int) -> list[Op]:
    """`length` operations, `faults` of them faults, in an order fixed by `seed`."""
    rng = random.Random(seed)
    ops = [_fault(rng) for _ in range(faults)]
    ops += [_operation(rng) for _ in range(length - faults)]
    rng.shuffle(ops)
    return ops


def _fault(rng: random.Random) -> Op:
    return Op(rng.choice(FAULTS))


def _operation(rng: random.Random) -> Op:
    kind, name = rng.choice(KINDS), f"o{rng.randrange(NAMES)}"
    roll = rng.random()
    if roll < 0.15:
        return Op(rng.choice(INTERFERENCE), kind, name)
    if roll < 0.22:
        return Op("storm", "config_map", name)  # rapid updates of one object
    return Op(rng.choice(TENANT), kind, name)
