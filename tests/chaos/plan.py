"""A chaos run's plan: from a seed, a replayable sequence of tenant operations, host-side interference and faults.
Pure (no I/O), so a failing seed replays the same sequence and the plan itself is unit-tested."""

from __future__ import annotations

import random
from dataclasses import dataclass

TENANT = ("create", "update", "delete")
# each kind its own names (a selector-less Service and its Endpoints are the "endpoints" kind's), so that kinds never
# meet under one name; NAMES per kind are few, so operations meet the same objects again
PREFIX = {"config_map": "c", "secret": "s", "service": "v", "endpoints": "e", "pod": "p", "pvc": "d"}
KINDS = tuple(PREFIX)
NAMES = 6
INTERFERENCE = {  # what a host admin does, and to which kinds
    "host_delete": KINDS,  # for a pod: an eviction
    "host_edit": ("config_map", "secret", "service", "endpoints", "pvc"),
    "squat": ("config_map", "secret", "service"),  # the copy deleted, an unmanaged object put at its name
    "drop_markers": ("config_map", "secret", "service"),  # the copy's managed-by label removed
    "delete_node": ("pod",),  # the virtual node of a pod deleted
}
NAMESPACE = ("create_namespace", "delete_namespace")  # a second namespace with a ConfigMap and a pod in it
FAULTS = (
    "kill_leader",
    "pause_leader",  # frozen past its renew deadline: the standby takes over, the old leader must not write
    "restart_virtual_apiserver",
    "restart_host_apiserver",
    "restart_virtual_etcd",
    "restart_host_etcd",
    "compact_virtual_etcd",  # then its API server restarted: watches come back 410 Gone and re-list
    "compact_host_etcd",
)


@dataclass(frozen=True)
class Op:
    action: str  # create / update / delete / storm / interference / namespace / a fault
    kind: str = ""
    name: str = ""

    def __str__(self) -> str:
        return " ".join(part for part in (self.action, self.kind, self.name) if part)


def plan(seed: int, length: int, faults: int) -> list[Op]:
    """`length` operations, `faults` of them faults, in an order fixed by `seed`."""
    rng = random.Random(seed)
    ops = [Op(rng.choice(FAULTS)) for _ in range(faults)]
    ops += [_operation(rng) for _ in range(length - faults)]
    rng.shuffle(ops)
    return ops


def _operation(rng: random.Random) -> Op:
    roll = rng.random()
    if roll < 0.15:
        action = rng.choice(sorted(INTERFERENCE))
        kind = rng.choice(INTERFERENCE[action])
    elif roll < 0.20:
        return Op(rng.choice(NAMESPACE))
    elif roll < 0.26:
        action, kind = "storm", rng.choice(("config_map", "pod", "endpoints"))  # rapid updates of one object
    else:
        action, kind = rng.choice(TENANT), rng.choice(KINDS)
    return Op(action, kind, f"{PREFIX[kind]}{rng.randrange(NAMES)}")
