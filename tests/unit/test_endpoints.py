"""Endpoints and EndpointSlices (SPEC §6.3, §8.3): only selector-less Services get their addresses synced, and only
addresses that are this vcluster's pod IPs or inside allowed CIDRs reach the host, so a tenant cannot steer host
traffic elsewhere. Pod references are renamed to the host pods, and a dropped address warns once per change."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from syncer.cache import Store
from translators import endpoints, endpointslices
from translators.endpoint_policy import address_allowed, dropped_warning, filter_addresses
from translators.kind import KindSpec, Notice, Requeue
from translators.names import NameTranslator
from vocab.resources import ENDPOINTS, ENDPOINTSLICES, PODS, SERVICES, Resource

Obj = dict[str, Any]
T = "host-ns"
NAMES = NameTranslator("vc", T)
POD_IP = "10.244.1.7"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"


def context(spec: KindSpec = endpoints.KIND, *, cidrs: tuple[str, ...] = ()) -> SimpleNamespace:
    """Config, names and real Stores carrying the kind's indexes, as the engine would declare them."""
    stores: dict[tuple[str, Resource], Store] = {}

    def store(side: str, res: Resource) -> Store:
        return stores.setdefault((side, res), Store(res.plural, side))

    for res, indexes in spec.virtual_indexes.items():
        for name, func in indexes.items():
            store("virtual", res).add_index(name, func)
    for res, indexes in spec.host_indexes.items():
        for name, func in indexes.items():
            store("host", res).add_index(name, func)
    return SimpleNamespace(
        config=SimpleNamespace(endpoints_allowed_cidrs=cidrs, sync=frozenset()),
        names=NAMES,
        virtual=lambda res: store("virtual", res),
        host=lambda res: store("host", res),
    )


def service(ctx: SimpleNamespace, name: str = "db", namespace: str = "team-a", selector: Obj | None = None) -> Obj:
    svc = {"metadata": {"name": name, "namespace": namespace}, "spec": {"ports": [{"port": 5432}]}}
    if selector is not None:
        svc["spec"]["selector"] = selector
    ctx.virtual(SERVICES).upsert(svc)
    return svc


def host_pod(
    ctx: SimpleNamespace, name: str = "db-0", namespace: str = "team-a", ips: tuple[str, ...] = (POD_IP,)
) -> Obj:
    _, hname = NAMES.to_host(namespace, name)
    pod = {
        "metadata": {"name": hname, "namespace": T},
        "status": {"podIP": ips[0], "podIPs": [{"ip": ip} for ip in ips]},
    }
    ctx.host(PODS).upsert(pod)
    return pod


def pod_ref(name: str = "db-0", namespace: str = "team-a") -> Obj:
    return {"kind": "Pod", "name": name, "namespace": namespace, "uid": "vuid", "resourceVersion": "42"}


def ep(subsets: list[Obj], name: str = "db", namespace: str = "team-a", **metadata: Any) -> Obj:
    meta = {"name": name, "namespace": namespace, "uid": "ep-uid", **metadata}
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta, "subsets": subsets}


def eps(endpoint_list: list[Obj], *, labels: Obj | None = None, address_type: str = "IPv4") -> Obj:
    meta = {"name": "db-abc", "namespace": "team-a", "uid": "eps-uid"}
    meta["labels"] = {"kubernetes.io/service-name": "db"} if labels is None else labels
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": meta,
        "addressType": address_type,
        "endpoints": endpoint_list,
        "ports": [{"port": 5432, "protocol": "TCP"}],
    }


# ---- policy ------------------------------------------------------------------------------------------------------
def test_managed_pod_ip_is_allowed_without_any_cidr() -> None:
    assert address_allowed(POD_IP, pod_ips={POD_IP}, allowed_cidrs=())


def test_address_in_an_allowed_cidr_is_allowed_and_outside_it_dropped() -> None:
    assert address_allowed("10.1.2.3", pod_ips=set(), allowed_cidrs=("10.1.0.0/16",))
    assert not address_allowed("10.2.2.3", pod_ips=set(), allowed_cidrs=("10.1.0.0/16",))


def test_loopback_link_local_and_unspecified_are_dropped_even_inside_allowed_cidrs() -> None:
    everything = ("0.0.0.0/0", "::/0")
    for ip in ("127.0.0.1", "::1", "169.254.169.254", "fe80::1", "0.0.0.0", "::", "::ffff:127.0.0.1"):
        assert not address_allowed(ip, pod_ips={ip}, allowed_cidrs=everything), ip


def test_ipv6_pod_ip_matches_whatever_its_spelling() -> None:
    assert address_allowed("fd00:0:0::7", pod_ips={"fd00::7"}, allowed_cidrs=())


def test_text_that_is_no_ip_is_dropped() -> None:
    assert not address_allowed("db.example.com", pod_ips=set(), allowed_cidrs=("0.0.0.0/0",))


def test_filter_addresses_keeps_allowed_addresses_and_names_dropped_ips_in_order() -> None:
    addresses = [{"ip": POD_IP}, {"ip": "10.1.2.3"}, {"ip": "127.0.0.1"}]
    kept, dropped = filter_addresses(addresses, pod_ips={POD_IP}, allowed_cidrs=())
    assert kept == [{"ip": POD_IP}]
    assert dropped == ["10.1.2.3", "127.0.0.1"]


def test_filter_addresses_takes_plain_strings_with_ip_of_str() -> None:
    assert filter_addresses(["10.0.0.1", POD_IP], pod_ips={POD_IP}, allowed_cidrs=(), ip_of=str) == (
        [POD_IP],
        ["10.0.0.1"],
    )


def test_dropped_warning_gives_the_count_and_only_the_first_five_ips() -> None:
    ips = [f"10.0.0.{i}" for i in range(1, 8)]
    message = dropped_warning(ips)
    assert message.startswith("dropped 7 endpoint addresses")
    assert "10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5 and 2 more" in message
    assert "10.0.0.6" not in message


def test_dropped_warning_for_one_address_is_singular() -> None:
    assert dropped_warning(["10.1.2.3"]).startswith("dropped 1 endpoint address that")


# ---- Endpoints: when ---------------------------------------------------------------------------------------------
def test_endpoints_of_a_selectorless_service_are_synced() -> None:
    ctx = context()
    service(ctx)
    assert endpoints.KIND.should_sync(ctx, ep([]))


def test_endpoints_of_a_service_with_a_selector_are_left_to_the_host_controller() -> None:
    ctx = context()
    service(ctx, selector={"app": "db"})
    assert not endpoints.KIND.should_sync(ctx, ep([]))


def test_endpoints_without_a_service_are_not_synced() -> None:
    assert not endpoints.KIND.should_sync(context(), ep([]))


def test_default_kubernetes_endpoints_are_never_synced_down() -> None:
    ctx = context()
    service(ctx, "kubernetes", "default")
    assert not endpoints.KIND.should_sync(ctx, ep([], "kubernetes", "default"))


def test_a_service_change_requeues_the_endpoints_of_the_same_name() -> None:
    trigger = next(t for t in endpoints.KIND.triggers if t.resource == SERVICES)
    assert list(trigger.keys(service(context()))) == ["team-a/db"]
    assert trigger.via_index is None


def test_a_host_pod_ip_change_requeues_every_endpoints_listing_that_ip() -> None:
    ctx = context()
    ctx.virtual(ENDPOINTS).upsert(ep([{"addresses": [{"ip": POD_IP}]}]))
    ctx.virtual(ENDPOINTS).upsert(ep([{"notReadyAddresses": [{"ip": POD_IP}]}], name="cache"))
    ctx.virtual(ENDPOINTS).upsert(ep([{"addresses": [{"ip": "10.9.9.9"}]}], name="other"))
    trigger = next(t for t in endpoints.KIND.triggers if t.resource == PODS)
    assert trigger.side == "host"
    values = trigger.keys(host_pod(ctx))
    keys = set().union(*(ctx.virtual(ENDPOINTS).keys_by_index(trigger.via_index, v) for v in values))
    assert keys == {"team-a/db", "team-a/cache"}


# ---- Endpoints: what ---------------------------------------------------------------------------------------------
def test_endpoints_keep_managed_pod_ips_and_allowed_cidrs_and_drop_the_rest() -> None:
    ctx = context(cidrs=("192.168.0.0/24",))
    host_pod(ctx)
    subset = {
        "addresses": [{"ip": POD_IP}, {"ip": "192.168.0.5"}, {"ip": "10.1.2.3"}],
        "notReadyAddresses": [{"ip": "127.0.0.1"}],
        "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
    }
    body, dropped = endpoints.translate(ctx, ep([subset]))
    assert body == {
        "subsets": [
            {
                "addresses": [{"ip": POD_IP}, {"ip": "192.168.0.5"}],
                "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
            }
        ]
    }
    assert dropped == ["10.1.2.3", "127.0.0.1"]
    assert endpoints.KIND.desired(ctx, ep([subset])) == body


def test_not_ready_addresses_of_managed_pods_go_down_too() -> None:
    ctx = context()
    host_pod(ctx)
    body, _ = endpoints.translate(ctx, ep([{"notReadyAddresses": [{"ip": POD_IP}], "ports": [{"port": 1}]}]))
    assert body["subsets"] == [{"notReadyAddresses": [{"ip": POD_IP}], "ports": [{"port": 1}]}]


def test_a_subset_left_without_addresses_is_left_out() -> None:
    ctx = context()
    body, dropped = endpoints.translate(ctx, ep([{"addresses": [{"ip": "10.1.2.3"}], "ports": [{"port": 1}]}]))
    assert body == {"subsets": []}
    assert dropped == ["10.1.2.3"]


def test_a_pod_target_ref_names_the_host_pod_in_the_target_namespace_without_uid_or_version() -> None:
    ctx = context()
    host_pod(ctx)
    address = {"ip": POD_IP, "nodeName": "node-1", "targetRef": pod_ref()}
    body, _ = endpoints.translate(ctx, ep([{"addresses": [address]}]))
    assert body["subsets"][0]["addresses"] == [
        {"ip": POD_IP, "nodeName": "node-1", "targetRef": {"kind": "Pod", "name": "db-0-x-team-a-x-vc", "namespace": T}}
    ]


def test_a_target_ref_without_namespace_resolves_in_the_endpoints_namespace() -> None:
    ctx = context()
    host_pod(ctx)
    ref = {"kind": "Pod", "name": "db-0"}
    body, _ = endpoints.translate(ctx, ep([{"addresses": [{"ip": POD_IP, "targetRef": ref}]}]))
    assert body["subsets"][0]["addresses"][0]["targetRef"] == {
        "kind": "Pod",
        "name": "db-0-x-team-a-x-vc",
        "namespace": T,
    }


def test_a_target_ref_to_a_pod_without_host_pod_is_dropped_but_an_allowed_address_stays() -> None:
    ctx = context(cidrs=("10.1.0.0/16",))
    body, dropped = endpoints.translate(ctx, ep([{"addresses": [{"ip": "10.1.2.3", "targetRef": pod_ref("gone")}]}]))
    assert body["subsets"][0]["addresses"] == [{"ip": "10.1.2.3"}]
    assert dropped == []


def test_a_target_ref_to_anything_but_a_pod_is_dropped() -> None:
    ctx = context(cidrs=("10.1.0.0/16",))
    ref = {"kind": "Node", "name": "node-1"}
    body, _ = endpoints.translate(ctx, ep([{"addresses": [{"ip": "10.1.2.3", "targetRef": ref}]}]))
    assert body["subsets"][0]["addresses"] == [{"ip": "10.1.2.3"}]


def test_the_leader_annotation_is_removed_and_other_annotations_go_down() -> None:
    annotations = {"control-plane.alpha.kubernetes.io/leader": '{"holderIdentity":"x"}', "team": "db"}
    meta = endpoints.KIND.metadata(context(), ep([], annotations=annotations), None)
    assert meta["name"] == "db-x-team-a-x-vc"
    assert meta["namespace"] == T
    assert meta["annotations"]["team"] == "db"
    assert "control-plane.alpha.kubernetes.io/leader" not in meta["annotations"]


# ---- Endpoints: warnings -----------------------------------------------------------------------------------------
def test_creating_endpoints_with_dropped_addresses_warns_once() -> None:
    ctx = context()
    steps = endpoints.KIND.before_create(ctx, ep([{"addresses": [{"ip": "10.1.2.3"}, {"ip": "10.1.2.4"}]}]))
    assert steps == [Notice(dropped_warning(["10.1.2.3", "10.1.2.4"]), dropped_addresses=2)]


def test_creating_endpoints_with_nothing_dropped_is_silent() -> None:
    ctx = context()
    host_pod(ctx)
    assert endpoints.KIND.before_create(ctx, ep([{"addresses": [{"ip": POD_IP}]}])) == []


def test_a_change_that_writes_the_host_warns_about_dropped_addresses() -> None:
    ctx = context()
    host_pod(ctx)
    virtual = ep([{"addresses": [{"ip": POD_IP}, {"ip": "10.1.2.3"}]}])
    host = {"metadata": {"name": "db-x-team-a-x-vc", "namespace": T}, "subsets": []}
    assert endpoints.KIND.existing(ctx, virtual, host) == [Notice(dropped_warning(["10.1.2.3"]), dropped_addresses=1)]


def test_a_pass_with_the_host_already_in_sync_does_not_warn_again() -> None:
    ctx = context()
    host_pod(ctx)
    virtual = ep([{"addresses": [{"ip": POD_IP}, {"ip": "10.1.2.3"}]}])
    host = {"metadata": {"name": "db-x-team-a-x-vc", "namespace": T}, **endpoints.KIND.desired(ctx, virtual)}
    assert endpoints.KIND.existing(ctx, virtual, host) == []


# ---- EndpointSlices ----------------------------------------------------------------------------------------------
def test_a_tenant_slice_of_a_selectorless_service_is_synced() -> None:
    ctx = context(endpointslices.KIND)
    service(ctx)
    assert endpointslices.KIND.should_sync(ctx, eps([]))
    assert endpointslices.KIND.should_sync(ctx, eps([], labels={"kubernetes.io/service-name": "db", MANAGED_BY: "me"}))


def test_slices_made_by_the_virtual_slice_or_mirroring_controller_are_not_synced() -> None:
    ctx = context(endpointslices.KIND)
    service(ctx)
    for controller in ("endpointslice-controller.k8s.io", "endpointslicemirroring-controller.k8s.io"):
        labels = {"kubernetes.io/service-name": "db", MANAGED_BY: controller}
        assert not endpointslices.KIND.should_sync(ctx, eps([], labels=labels)), controller


def test_slices_of_a_service_with_a_selector_or_of_no_service_are_not_synced() -> None:
    ctx = context(endpointslices.KIND)
    service(ctx, selector={"app": "db"})
    assert not endpointslices.KIND.should_sync(ctx, eps([]))
    assert not endpointslices.KIND.should_sync(ctx, eps([], labels={}))


def test_slice_endpoints_are_filtered_and_pod_refs_renamed() -> None:
    ctx = context(endpointslices.KIND)
    host_pod(ctx)
    slice_ = eps(
        [
            {"addresses": [POD_IP], "conditions": {"ready": True}, "targetRef": pod_ref()},
            {"addresses": ["10.1.2.3"], "conditions": {"ready": True}},
        ]
    )
    body, dropped = endpointslices.translate(ctx, slice_)
    assert body == {
        "addressType": "IPv4",
        "ports": [{"port": 5432, "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": [POD_IP],
                "conditions": {"ready": True},
                "targetRef": {"kind": "Pod", "name": "db-0-x-team-a-x-vc", "namespace": T},
            }
        ],
    }
    assert dropped == ["10.1.2.3"]


def test_the_slice_service_name_label_points_at_the_host_service() -> None:
    meta = endpointslices.KIND.metadata(context(endpointslices.KIND), eps([]), None)
    assert meta["labels"]["kubernetes.io/service-name"] == "db-x-team-a-x-vc"
    assert meta["name"] == "db-abc-x-team-a-x-vc"


def test_an_fqdn_slice_is_not_created_and_the_tenant_is_warned() -> None:
    steps = endpointslices.KIND.before_create(context(endpointslices.KIND), eps([], address_type="FQDN"))
    assert steps[0] == Notice(endpointslices.FQDN_WARNING)
    assert isinstance(steps[1], Requeue)


def test_creating_a_slice_with_dropped_addresses_warns_once() -> None:
    steps = endpointslices.KIND.before_create(context(endpointslices.KIND), eps([{"addresses": ["10.1.2.3"]}]))
    assert steps == [Notice(dropped_warning(["10.1.2.3"]), dropped_addresses=1)]


def test_a_service_change_requeues_its_slices_through_the_service_index() -> None:
    ctx = context(endpointslices.KIND)
    ctx.virtual(ENDPOINTSLICES).upsert(eps([]))
    trigger = next(t for t in endpointslices.KIND.triggers if t.resource == SERVICES)
    values = trigger.keys(service(ctx))
    assert set().union(*(ctx.virtual(ENDPOINTSLICES).keys_by_index(trigger.via_index, v) for v in values)) == {
        "team-a/db-abc"
    }


def test_a_host_pod_ip_change_requeues_the_slices_listing_that_ip() -> None:
    ctx = context(endpointslices.KIND)
    ctx.virtual(ENDPOINTSLICES).upsert(eps([{"addresses": [POD_IP]}]))
    trigger = next(t for t in endpointslices.KIND.triggers if t.resource == PODS)
    values = trigger.keys(host_pod(ctx))
    assert set().union(*(ctx.virtual(ENDPOINTSLICES).keys_by_index(trigger.via_index, v) for v in values)) == {
        "team-a/db-abc"
    }


# ---- Endpoints deleted because vcsync re-created their Service for the host ClusterIP ------------------------
def _restore_ctx(service: dict[str, Any] | None) -> SimpleNamespace:
    services = Store("services", "virtual")
    if service is not None:
        services.upsert(service)
    return SimpleNamespace(virtual=lambda res: services if res is SERVICES else Store("x", "virtual"))


def _service_created(at: str, selector: dict[str, str] | None = None) -> dict[str, Any]:
    spec = {"selector": selector} if selector else {}
    return {
        "metadata": {"name": "db", "namespace": "shop", "creationTimestamp": at, "resourceVersion": "1"},
        "spec": spec,
    }


GONE = {
    "metadata": {
        "name": "db",
        "namespace": "shop",
        "uid": "e1",
        "resourceVersion": "7",
        "creationTimestamp": "2026-12-02T10:00:00Z",
        "labels": {"team": "a"},
    },
    "subsets": [{"addresses": [{"ip": "10.0.0.5"}], "ports": [{"port": 5432}]}],
}
NOW = 1796205610.0  # 2026-12-02T10:00:10Z


def test_endpoints_deleted_by_their_services_re_creation_come_back_as_they_were():
    body = endpoints.restore_vanished(_restore_ctx(_service_created("2026-12-02T10:00:01Z")), GONE, now=NOW)
    assert body == {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "db", "namespace": "shop", "labels": {"team": "a"}},
        "subsets": GONE["subsets"],
    }


def test_endpoints_deleted_otherwise_stay_deleted():
    older_service = _restore_ctx(_service_created("2026-12-02T09:59:00Z"))  # the tenant deleted them later
    assert endpoints.restore_vanished(older_service, GONE, now=NOW) is None
    assert endpoints.restore_vanished(_restore_ctx(None), GONE, now=NOW) is None  # with their Service
    selected = _restore_ctx(_service_created("2026-12-02T10:00:01Z", {"app": "db"}))  # the controller's to fill
    assert endpoints.restore_vanished(selected, GONE, now=NOW) is None
    recent = _restore_ctx(_service_created("2026-12-02T10:00:01Z"))
    assert endpoints.restore_vanished(recent, GONE, now=NOW + endpoints.RESTORE_WINDOW) is None  # long after
