"""A copied event's message names virtual objects: the split around the object's own host name (qualified or not)
is the one a regex alternation gives, found without compiling a regex per event."""

from __future__ import annotations

import random
import re

from translators.events import VirtualTarget, _split_at, rewrite_message

TARGET = VirtualTarget("Pod", "shop", "web", "u1", "7", "web-x-shop-x-vc")


def test_own_names_become_virtual_and_other_host_names_are_hidden() -> None:
    message = "Pod t/web-x-shop-x-vc and web-x-shop-x-vc use db-x-shop-x-vc"
    assert rewrite_message(message, "t", TARGET) == "Pod shop/web and web use <host object>"


def test_the_split_matches_a_regex_alternation_on_random_messages() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        namespace = "".join(rng.choice("ab") for _ in range(rng.randint(1, 2)))
        name = "".join(rng.choice("ab-") for _ in range(rng.randint(1, 3)))
        message = "".join(rng.choice("ab/-x ") for _ in range(rng.randint(0, 14)))
        qualified = f"{namespace}/{name}"
        alternation = re.compile(f"({re.escape(qualified)}|{re.escape(name)})")
        assert _split_at(message, qualified, name) == alternation.split(message), (message, qualified, name)
