"""The indexed cache every controller reads (SPEC §9.1-9.3): a stale index entry would keep an unused Secret
synced or miss a requeue, and a spurious handler call after a 410 re-list would wake every controller for
nothing, so indexes and notifications must follow exactly what changed."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY

from syncer.cache import Store, key_of, split_key

Obj = dict[str, Any]
Event = tuple[Obj | None, Obj | None]


def cm(name: str, rv: str = "1", namespace: str | None = "default", **labels: str) -> Obj:
    meta: Obj = {"name": name, "resourceVersion": rv, "labels": dict(labels)}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


def by_app(obj: Obj) -> list[str]:
    app = obj["metadata"].get("labels", {}).get("app")
    return [app] if app else []


def recording_store(*objs: Obj) -> tuple[Store, list[Event]]:
    store = Store("configmaps", "virtual")
    for obj in objs:
        store.upsert(obj)
    events: list[Event] = []
    store.add_handler(lambda old, new: events.append((old, new)))
    return store, events


# ---- keys ----------------------------------------------------------------------------------------------------------
def test_namespaced_key_is_namespace_slash_name() -> None:
    assert key_of(cm("a")) == "default/a"


def test_cluster_scoped_key_is_the_name() -> None:
    assert key_of(cm("node-1", namespace=None)) == "node-1"


def test_split_key_round_trips_both_forms() -> None:
    assert split_key("default/a") == ("default", "a")
    assert split_key("node-1") == (None, "node-1")


# ---- upsert / remove / get -------------------------------------------------------------------------------------------
def test_upserted_object_can_be_read_back_by_key() -> None:
    store = Store("configmaps", "virtual")
    obj = cm("a")
    store.upsert(obj)
    assert store.get("default/a") is obj
    assert store.keys() == ["default/a"]
    assert store.values() == [obj]
    assert len(store) == 1


def test_upsert_of_same_key_replaces_the_object() -> None:
    store = Store("configmaps", "virtual")
    store.upsert(cm("a", rv="1"))
    store.upsert(cm("a", rv="2"))
    assert len(store) == 1
    assert store.get("default/a")["metadata"]["resourceVersion"] == "2"


def test_same_name_in_two_namespaces_are_two_objects() -> None:
    store = Store("configmaps", "virtual")
    store.upsert(cm("a", namespace="x"))
    store.upsert(cm("a", namespace="y"))
    assert sorted(store.keys()) == ["x/a", "y/a"]


def test_removed_object_is_gone() -> None:
    store = Store("configmaps", "virtual")
    store.upsert(cm("a"))
    store.remove(cm("a", rv="7"))
    assert store.get("default/a") is None
    assert len(store) == 0


def test_removing_an_unknown_object_is_a_no_op() -> None:
    store, events = recording_store(cm("a"))
    store.remove(cm("missing"))
    assert events == []
    assert store.keys() == ["default/a"]


def test_get_of_unknown_key_is_none() -> None:
    assert Store("configmaps", "virtual").get("default/nope") is None


def test_managed_fields_are_dropped_on_upsert() -> None:
    store = Store("configmaps", "virtual")
    obj = cm("a")
    obj["metadata"]["managedFields"] = [{"manager": "kubectl", "operation": "Apply"}]
    store.upsert(obj)
    assert "managedFields" not in store.get("default/a")["metadata"]
    assert store.get("default/a")["metadata"]["name"] == "a"


# ---- indexes -------------------------------------------------------------------------------------------------------
def test_index_finds_objects_by_value() -> None:
    store = Store("configmaps", "virtual")
    store.add_index("app", by_app)
    store.upsert(cm("a", app="web"))
    store.upsert(cm("b", app="web"))
    store.upsert(cm("c", app="db"))
    assert store.keys_by_index("app", "web") == {"default/a", "default/b"}
    assert [o["metadata"]["name"] for o in store.by_index("app", "db")] == ["c"]
    assert sorted(o["metadata"]["name"] for o in store.iter_by_index("app", "web")) == ["a", "b"]


def test_index_lookup_of_unknown_value_is_empty() -> None:
    store = Store("configmaps", "virtual")
    store.add_index("app", by_app)
    assert store.keys_by_index("app", "nothing") == set()
    assert store.by_index("app", "nothing") == []
    assert list(store.iter_by_index("app", "nothing")) == []


def test_object_may_have_several_index_values() -> None:
    store = Store("configmaps", "virtual")
    store.add_index("labels", lambda o: sorted(o["metadata"]["labels"].values()))
    store.upsert(cm("a", app="web", tier="front"))
    assert store.keys_by_index("labels", "web") == {"default/a"}
    assert store.keys_by_index("labels", "front") == {"default/a"}


def test_changed_object_is_unindexed_from_its_old_value() -> None:
    store = Store("configmaps", "virtual")
    store.add_index("app", by_app)
    store.upsert(cm("a", rv="1", app="web"))
    store.upsert(cm("a", rv="2", app="db"))
    assert store.keys_by_index("app", "web") == set()
    assert store.keys_by_index("app", "db") == {"default/a"}


def test_change_keeps_other_objects_under_the_old_value() -> None:
    store = Store("configmaps", "virtual")
    store.add_index("app", by_app)
    store.upsert(cm("a", rv="1", app="web"))
    store.upsert(cm("b", rv="1", app="web"))
    store.upsert(cm("a", rv="2", app="db"))
    assert store.keys_by_index("app", "web") == {"default/b"}


def test_objects_sharing_a_value_leave_it_one_by_one() -> None:
    store = Store("configmaps", "virtual")
    store.add_index("twice", lambda o: [o["metadata"]["labels"]["app"]] * 2)  # e.g. two containers, one ConfigMap
    for name in ("a", "b", "c"):
        store.upsert(cm(name, app="web"))
    assert store.keys_by_index("twice", "web") == {"default/a", "default/b", "default/c"}
    store.remove(cm("b"))
    assert store.keys_by_index("twice", "web") == {"default/a", "default/c"}
    store.remove(cm("a"))
    assert [o["metadata"]["name"] for o in store.iter_by_index("twice", "web")] == ["c"]
    store.upsert(cm("a", app="web"))
    assert store.keys_by_index("twice", "web") == {"default/a", "default/c"}
    store.remove(cm("c"))
    store.remove(cm("a"))
    assert store.keys_by_index("twice", "web") == set() and store.by_index("twice", "web") == []


def test_object_losing_its_index_value_is_unindexed() -> None:
    store = Store("configmaps", "virtual")
    store.add_index("app", by_app)
    store.upsert(cm("a", rv="1", app="web"))
    store.upsert(cm("a", rv="2"))
    assert store.keys_by_index("app", "web") == set()


def test_removed_object_is_unindexed() -> None:
    store = Store("configmaps", "virtual")
    store.add_index("app", by_app)
    store.upsert(cm("a", app="web"))
    store.remove(cm("a"))
    assert store.keys_by_index("app", "web") == set()
    assert store.by_index("app", "web") == []


def test_index_added_after_data_indexes_existing_objects() -> None:
    store = Store("configmaps", "virtual")
    store.upsert(cm("a", app="web"))
    store.upsert(cm("b", app="db"))
    store.add_index("app", by_app)
    assert store.keys_by_index("app", "web") == {"default/a"}
    assert store.keys_by_index("app", "db") == {"default/b"}


def test_adding_an_index_twice_keeps_the_first() -> None:
    store = Store("configmaps", "virtual")
    store.add_index("app", by_app)
    store.add_index("app", lambda o: ["other"])
    store.upsert(cm("a", app="web"))
    assert store.keys_by_index("app", "web") == {"default/a"}
    assert store.keys_by_index("app", "other") == set()


def test_returned_key_set_is_a_copy() -> None:
    store = Store("configmaps", "virtual")
    store.add_index("app", by_app)
    store.upsert(cm("a", app="web"))
    store.keys_by_index("app", "web").clear()
    assert store.keys_by_index("app", "web") == {"default/a"}


# ---- handlers ------------------------------------------------------------------------------------------------------
def test_handler_sees_add_as_none_then_new() -> None:
    store, events = recording_store()
    obj = cm("a")
    store.upsert(obj)
    assert events == [(None, obj)]


def test_handler_sees_update_as_old_then_new() -> None:
    old = cm("a", rv="1")
    store, events = recording_store(old)
    new = cm("a", rv="2")
    store.upsert(new)
    assert len(events) == 1
    assert events[0][0] is old
    assert events[0][1] is new


def test_handler_sees_delete_as_old_then_none() -> None:
    old = cm("a")
    store, events = recording_store(old)
    store.remove(cm("a"))
    assert len(events) == 1
    assert events[0][0] is old
    assert events[0][1] is None


def test_handler_runs_after_the_store_and_indexes_are_updated() -> None:
    store = Store("configmaps", "virtual")
    store.add_index("app", by_app)
    seen: list[tuple[Obj | None, set[str]]] = []
    store.add_handler(lambda old, new: seen.append((store.get("default/a"), store.keys_by_index("app", "web"))))
    obj = cm("a", app="web")
    store.upsert(obj)
    store.remove(obj)
    assert seen == [(obj, {"default/a"}), (None, set())]


def test_every_handler_is_called() -> None:
    store = Store("configmaps", "virtual")
    calls: list[str] = []
    store.add_handler(lambda old, new: calls.append("first"))
    store.add_handler(lambda old, new: calls.append("second"))
    store.upsert(cm("a"))
    assert calls == ["first", "second"]


# ---- replace (the 410 re-list path) ---------------------------------------------------------------------------------
def test_replace_with_same_resource_versions_calls_no_handler() -> None:
    store, events = recording_store(cm("a", rv="1"), cm("b", rv="5"))
    store.replace(map(store.keep, [cm("a", rv="1"), cm("b", rv="5")]))
    assert events == []
    assert sorted(store.keys()) == ["default/a", "default/b"]


def test_replace_deletes_objects_missing_from_the_list() -> None:
    gone = cm("gone", rv="3")
    store, events = recording_store(cm("a", rv="1"), gone)
    store.replace(map(store.keep, [cm("a", rv="1")]))
    assert store.get("default/gone") is None
    assert events == [(gone, None)]


def test_replace_adds_new_objects() -> None:
    store, events = recording_store(cm("a", rv="1"))
    fresh = cm("b", rv="9")
    store.replace(map(store.keep, [cm("a", rv="1"), fresh]))
    assert store.get("default/b") is fresh
    assert events == [(None, fresh)]


def test_replace_updates_objects_with_a_changed_resource_version() -> None:
    old = cm("a", rv="1")
    store, events = recording_store(old)
    new = cm("a", rv="2", app="web")
    store.replace(map(store.keep, [new]))
    assert store.get("default/a") is new
    assert len(events) == 1
    assert events[0][0] is old
    assert events[0][1] is new


def test_replace_keeps_the_cached_object_when_unchanged() -> None:
    old = cm("a", rv="1")
    store, _ = recording_store(old)
    store.replace(map(store.keep, [cm("a", rv="1")]))
    assert store.get("default/a") is old


def test_replace_emits_exactly_the_difference() -> None:
    keep, change, drop = cm("keep", rv="1"), cm("change", rv="1"), cm("drop", rv="1")
    store, events = recording_store(keep, change, drop)
    changed, added = cm("change", rv="2"), cm("add", rv="1")
    store.replace(map(store.keep, [cm("keep", rv="1"), changed, added]))
    assert sorted(store.keys()) == ["default/add", "default/change", "default/keep"]
    kinds = sorted(
        ("delete" if new is None else "add" if old is None else "update", key_of(new or old)) for old, new in events
    )
    assert kinds == [("add", "default/add"), ("delete", "default/drop"), ("update", "default/change")]


def test_replace_with_empty_list_deletes_everything() -> None:
    store, events = recording_store(cm("a"), cm("b"))
    store.replace(map(store.keep, []))
    assert len(store) == 0
    assert sorted(key_of(old) for old, new in events if new is None) == ["default/a", "default/b"]
    assert all(new is None for _, new in events)


def test_replace_keeps_indexes_consistent() -> None:
    store = Store("configmaps", "virtual")
    store.add_index("app", by_app)
    store.upsert(cm("a", rv="1", app="web"))
    store.upsert(cm("b", rv="1", app="web"))
    store.replace(map(store.keep, [cm("a", rv="2", app="db"), cm("c", rv="1", app="web")]))
    assert store.keys_by_index("app", "web") == {"default/c"}
    assert store.keys_by_index("app", "db") == {"default/a"}


def test_replace_drops_managed_fields_of_new_objects() -> None:
    store = Store("configmaps", "virtual")
    fresh = cm("a")
    fresh["metadata"]["managedFields"] = [{"manager": "x"}]
    store.replace(map(store.keep, [fresh]))
    assert "managedFields" not in store.get("default/a")["metadata"]


def test_a_projection_keeps_what_it_returns_and_nothing_when_it_returns_none() -> None:
    store, seen = recording_store()
    store.set_projection(lambda obj: None if obj["metadata"]["name"] == "skip" else {"metadata": obj["metadata"]})
    store.upsert(cm("kept", app="a"))
    store.upsert(cm("skip"))
    assert store.get("default/kept") == {"metadata": cm("kept", app="a")["metadata"]}
    assert store.get("default/skip") is None and store.keys() == ["default/kept"]
    assert len(seen) == 1


def test_a_relisted_object_the_projection_no_longer_keeps_is_deleted_not_reported_unseen() -> None:
    store, seen = recording_store()
    store.set_projection(lambda obj: None if obj["metadata"].get("labels") else obj)
    unseen: list[str] = []
    store.add_unseen_removal_handler(unseen.append)
    store.upsert(cm("a"))
    store.replace(map(store.keep, [cm("a", rv="2", app="now-labelled")]))
    assert store.keys() == [] and unseen == []
    assert [new for _, new in seen] == [{**cm("a")}, None]


def test_a_projection_is_set_once_on_an_empty_store() -> None:
    store, _ = recording_store(cm("a"))
    try:
        store.set_projection(lambda obj: obj)
    except RuntimeError:
        return
    raise AssertionError("a projection on a filled store must be refused")


def test_evict_drops_an_object_and_its_index_entries_without_telling_handlers() -> None:
    store, seen = recording_store()
    store.add_index("app", by_app)
    store.upsert(cm("a", app="x"))
    store.evict("default/a")
    store.evict("default/never")
    assert store.get("default/a") is None and store.keys_by_index("app", "x") == set()
    assert len(seen) == 1  # only the upsert: no reconcile is owed for an object the server still has
    store.upsert(cm("a", app="x"))  # a later change brings it back, as new
    assert seen[-1] == (None, store.get("default/a"))


def test_the_objects_gauge_reads_the_store_size_when_scraped() -> None:
    store = Store("gauge-kind", "virtual")

    def scraped() -> float | None:
        return REGISTRY.get_sample_value("vcsync_objects", {"kind": "gauge-kind", "side": "virtual"})

    store.upsert({"metadata": {"name": "a", "namespace": "ns"}})
    store.upsert({"metadata": {"name": "b", "namespace": "ns"}})
    assert scraped() == 2
    store.remove({"metadata": {"name": "a", "namespace": "ns"}})
    store.evict("ns/b")
    assert scraped() == 0
