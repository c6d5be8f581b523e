"""The mass-deletion valve's pure parts: when inferred deletions count as a mass deletion, how an operator's
permission is read, and which removals a store reports as unseen."""

from __future__ import annotations

import datetime as dt

from syncer.cache import Store
from syncer.deletionvalve import ALLOW_UNTIL, allowed_until, too_many


def test_a_mass_deletion_is_more_than_the_share_and_more_than_the_minimum():
    assert too_many(30, 40, 0.5, 20)
    assert not too_many(20, 20, 0.5, 20)  # not more than the minimum
    assert not too_many(30, 100, 0.5, 20)  # not more than half
    assert too_many(1, 1, 0.5, 0)
    assert not too_many(1000, 1000, 1.0, 20)  # share 1 turns the valve off


def test_the_operator_allows_until_a_time_and_garbage_allows_nothing():
    when = dt.datetime(2026, 12, 2, 18, 0, tzinfo=dt.UTC)
    assert allowed_until({"metadata": {"annotations": {ALLOW_UNTIL: "2026-12-02T18:00:00Z"}}}) == when
    assert allowed_until({"metadata": {"annotations": {ALLOW_UNTIL: "soon"}}}) is None
    assert allowed_until({"metadata": {}}) is None and allowed_until(None) is None


def _obj(name: str, rv: str = "1") -> dict:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv}}


def test_only_objects_a_relist_no_longer_shows_are_reported_as_unseen_removals():
    store = Store("secrets", "virtual")
    unseen: list[str] = []
    store.add_unseen_removal_handler(unseen.append)
    store.replace(map(store.keep, [_obj("a"), _obj("b"), _obj("c")]))
    store.remove(_obj("a"))  # a watched deletion
    store.replace(map(store.keep, [_obj("c", "2")]))
    assert unseen == ["ns/b"] and store.keys() == ["ns/c"]
