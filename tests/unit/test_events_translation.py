"""Host events retold in virtual (SPEC §6.6, §10): tenants must see the scheduler's and kubelet's events on their own
objects under virtual names, with every host name rewritten (their own objects to virtual names, anything else
host-shaped to a placeholder) so no other tenant is ever named; updates are written only when something changed."""

from __future__ import annotations

from typing import Any

from translators.events import (
    INVOLVED_KINDS,
    VirtualTarget,
    cached_event,
    event_name,
    event_update,
    involved_key,
    last_seen,
    virtual_event,
)
from translators.names import sha10

Obj = dict[str, Any]
T = "host-ns"
HOST = "web-x-shop-x-vc"
TARGET = VirtualTarget("Pod", "shop", "web", "v-uid", "42", HOST)
OTHERS = {"db-creds-x-shop-x-vc": "db-creds", "data-x-shop-x-vc": "data"}


def host_event(name: str = f"{HOST}.17c2a1b3d4e5f601", message: str = "", **fields: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": T, "uid": "h-event-uid", "resourceVersion": "900"},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "namespace": T,
            "name": HOST,
            "uid": "h-uid",
            "resourceVersion": "800",
            "fieldPath": "spec.containers{app}",
        },
        "message": message,
        "reason": "Scheduled",
        "type": "Normal",
        "count": 1,
        "firstTimestamp": "2024-05-01T10:00:00Z",
        "lastTimestamp": "2024-05-01T10:00:00Z",
        "source": {"component": "default-scheduler"},
        **fields,
    }


def message_of(message: str) -> str:
    event = virtual_event(host_event(message=message), TARGET, OTHERS.get)
    assert event is not None
    return event["message"]


# ---- which events --------------------------------------------------------------------------------------------
def test_involved_kinds_are_the_six_synced_core_kinds() -> None:
    assert sorted(INVOLVED_KINDS) == ["ConfigMap", "Endpoints", "PersistentVolumeClaim", "Pod", "Secret", "Service"]


def test_events_on_other_kinds_or_groups_are_not_retold() -> None:
    deployment = host_event()
    deployment["involvedObject"] |= {"kind": "Deployment", "apiVersion": "apps/v1"}
    assert virtual_event(deployment, TARGET) is None


def test_event_on_another_object_than_the_target_is_not_retold() -> None:
    event = host_event()
    event["involvedObject"]["name"] = "api-x-shop-x-vc"
    assert virtual_event(event, TARGET) is None


# ---- name ----------------------------------------------------------------------------------------------------
def test_event_name_replaces_the_leading_host_object_name() -> None:
    assert event_name(f"{HOST}.17c2a1b3d4e5f601", TARGET) == "web.17c2a1b3d4e5f601"


def test_event_name_not_led_by_the_host_object_name_is_hashed() -> None:
    assert event_name("scheduler.17c2a1b3d4e5f601", TARGET) == f"web.{sha10('scheduler.17c2a1b3d4e5f601')}"


# ---- shape ---------------------------------------------------------------------------------------------------
def test_virtual_event_points_at_the_virtual_object_and_copies_the_event_fields() -> None:
    series = {"count": 3, "lastObservedTime": "2024-05-01T10:05:00.000000Z"}
    extra = {
        "eventTime": "2024-05-01T10:00:00.000000Z",
        "series": series,
        "action": "Binding",
        "reportingComponent": "default-scheduler",
        "reportingInstance": "default-scheduler-node-1",
    }
    event = virtual_event(host_event(message="Successfully assigned", **extra), TARGET)
    assert event == {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web.17c2a1b3d4e5f601", "namespace": "shop"},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "namespace": "shop",
            "name": "web",
            "uid": "v-uid",
            "resourceVersion": "42",
            "fieldPath": "spec.containers{app}",
        },
        "message": "Successfully assigned",
        "reason": "Scheduled",
        "type": "Normal",
        "count": 1,
        "firstTimestamp": "2024-05-01T10:00:00Z",
        "lastTimestamp": "2024-05-01T10:00:00Z",
        "source": {"component": "default-scheduler"},
        **extra,
    }


def test_related_object_is_dropped() -> None:
    related = {"apiVersion": "v1", "kind": "Node", "name": "worker-1"}
    event = virtual_event(host_event(related=related), TARGET)
    assert event is not None and "related" not in event


# ---- message -------------------------------------------------------------------------------------------------
def test_namespaced_own_host_name_becomes_the_virtual_namespace_and_name() -> None:
    assert message_of(f"Successfully assigned {T}/{HOST} to worker-1") == "Successfully assigned shop/web to worker-1"


def test_bare_own_host_name_becomes_the_virtual_name() -> None:
    assert message_of(f'pod "{HOST}" failed') == 'pod "web" failed'


def test_other_managed_host_objects_get_their_virtual_names() -> None:
    message = f'MountVolume.SetUp failed: secret "db-creds-x-shop-x-vc" not found, claim {T}/data-x-shop-x-vc'
    assert message_of(message) == 'MountVolume.SetUp failed: secret "db-creds" not found, claim data'


def test_unknown_host_style_names_become_a_placeholder() -> None:
    assert message_of("node port taken by svc-x-billing-x-vc2") == "node port taken by <host object>"


def test_rewritten_message_names_no_host_object() -> None:
    message = f"{T}/{HOST} and {HOST} use db-creds-x-shop-x-vc and secret-x-other-x-vc9"
    rewritten = message_of(message)
    assert "-x-" not in rewritten and T not in rewritten
    assert rewritten == "shop/web and web use db-creds and <host object>"


def test_virtual_names_containing_x_are_not_scrubbed() -> None:
    target = VirtualTarget("Pod", "shop", "a-x-b", "v-uid", "1", "a-x-b-x-shop-x-vc")
    event = host_event(name="a-x-b-x-shop-x-vc.1", message="pod a-x-b-x-shop-x-vc mounts log-x-shop-x-vc")
    event["involvedObject"]["name"] = "a-x-b-x-shop-x-vc"
    result = virtual_event(event, target, {"log-x-shop-x-vc": "my-x-log"}.get)
    assert result is not None and result["message"] == "pod a-x-b mounts my-x-log"


# ---- updates -------------------------------------------------------------------------------------------------
def test_update_patch_carries_a_new_count_and_last_timestamp() -> None:
    first = virtual_event(host_event(message="Back-off restarting"), TARGET)
    again = virtual_event(
        host_event(message="Back-off restarting", count=4, lastTimestamp="2024-05-01T10:09:00Z"), TARGET
    )
    assert first is not None and again is not None
    assert event_update(first, again) == {"count": 4, "lastTimestamp": "2024-05-01T10:09:00Z"}


def test_no_update_when_only_server_fields_or_the_object_version_differ() -> None:
    first = virtual_event(host_event(message="Pulled"), TARGET)
    later = virtual_event(host_event(message="Pulled"), VirtualTarget("Pod", "shop", "web", "v-uid", "43", HOST))
    assert first is not None and later is not None
    served = first | {"metadata": {**first["metadata"], "uid": "v-event-uid", "resourceVersion": "5"}}
    assert event_update(served, later) is None


def test_update_patch_removes_a_series_the_host_dropped() -> None:
    series = {"count": 2, "lastObservedTime": "2024-05-01T10:05:00.000000Z"}
    with_series = virtual_event(host_event(series=series), TARGET)
    without = virtual_event(host_event(), TARGET)
    assert with_series is not None and without is not None
    assert event_update(with_series, without) == {"series": None}


def test_the_cached_event_keeps_everything_a_copy_and_its_update_read() -> None:
    event = host_event(message=f"pulling for {T}/{HOST}")
    cached = cached_event(event)
    assert cached is not None and "uid" not in cached["metadata"] and "uid" not in cached["involvedObject"]
    assert virtual_event(cached, TARGET) == virtual_event(event, TARGET)
    copy = virtual_event(event, TARGET)
    assert event_update(cached_event(copy), copy) is None  # a cached copy is up to date with itself


def test_events_about_kinds_never_copied_are_not_cached() -> None:
    replica_set = host_event(involvedObject={"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1"})
    assert cached_event(replica_set) is None
    assert cached_event(host_event(involvedObject={"apiVersion": "v1", "kind": "Node", "name": "n"})) is None


def test_involved_key_names_kind_namespace_and_name() -> None:
    assert involved_key(host_event()) == f"Pod/{T}/{HOST}"


def test_last_seen_is_the_latest_timestamp_and_none_without_one() -> None:
    event = host_event(eventTime="2024-05-01T10:00:05.123456Z", series={"lastObservedTime": "2024-05-01T11:00:00Z"})
    assert last_seen(event).isoformat() == "2024-05-01T11:00:00+00:00"
    assert last_seen(host_event(lastTimestamp=None, firstTimestamp=None)) is None
    assert last_seen(host_event(lastTimestamp="2024-05-01T10:00:00")).tzinfo is not None  # naive taken as UTC
