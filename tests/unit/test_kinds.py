"""`--sync` resolution (SPEC §11.2), rule by rule: the default set, enabling and disabling, the kinds that pull in or
push out others, and the exact refusals for later-wave, unknown and conflicting kinds."""

from __future__ import annotations

import pytest

from syncer.kinds import DEFAULT_KINDS, LATER_KINDS, OPTIONAL_KINDS, VALID_KINDS, KindError, resolve_kinds


def test_default_set_is_the_one_vcluster_syncs():
    spec_list = {
        "services",
        "configmaps",
        "secrets",
        "endpoints",
        "pods",
        "events",
        "persistentvolumeclaims",
        "fake-nodes",
        "fake-persistentvolumes",
    }
    assert spec_list == DEFAULT_KINDS


def test_default_optional_and_later_kinds_do_not_overlap():
    assert not (DEFAULT_KINDS & OPTIONAL_KINDS or DEFAULT_KINDS & LATER_KINDS or OPTIONAL_KINDS & LATER_KINDS)
    assert VALID_KINDS == DEFAULT_KINDS | OPTIONAL_KINDS


def test_no_entries_give_the_default_set():
    assert resolve_kinds([]) == DEFAULT_KINDS


def test_plain_and_plus_entries_enable_optional_kinds_on_top_of_the_defaults():
    assert resolve_kinds(["networkpolicies", "+priorityclasses"]) == DEFAULT_KINDS | {
        "networkpolicies",
        "priorityclasses",
    }


def test_minus_entry_disables_a_default_kind():
    assert resolve_kinds(["-events"]) == DEFAULT_KINDS - {"events"}


@pytest.mark.parametrize("entries", [["-secrets", "secrets"], ["secrets", "-secrets"], ["+secrets", "-secrets"]])
def test_disables_win_whatever_the_order(entries):
    assert "secrets" not in resolve_kinds(entries)


def test_nodes_replaces_fake_nodes():
    kinds = resolve_kinds(["nodes"])
    assert "nodes" in kinds
    assert "fake-nodes" not in kinds


def test_nodes_replaces_fake_nodes_even_when_fake_nodes_is_named():
    assert "fake-nodes" not in resolve_kinds(["fake-nodes", "nodes"])


def test_disabled_nodes_keeps_fake_nodes():
    assert "fake-nodes" in resolve_kinds(["nodes", "-nodes"])


def test_ingresses_bring_ingressclasses():
    assert {"ingresses", "ingressclasses"} <= resolve_kinds(["ingresses"])


def test_ingresses_without_ingressclasses_when_they_are_disabled():
    kinds = resolve_kinds(["ingresses", "-ingressclasses"])
    assert "ingresses" in kinds
    assert "ingressclasses" not in kinds


def test_disabled_ingresses_do_not_bring_ingressclasses():
    assert "ingressclasses" not in resolve_kinds(["ingresses", "-ingresses"])


@pytest.mark.parametrize("kind", sorted(LATER_KINDS))
def test_later_wave_kind_is_not_implemented_yet(kind):
    with pytest.raises(KindError, match=rf"^kind {kind} is not implemented yet$"):
        resolve_kinds([kind])


def test_disabling_a_later_wave_kind_is_refused_too():
    with pytest.raises(KindError, match=r"^kind namespaces is not implemented yet$"):
        resolve_kinds(["-namespaces"])


def test_unknown_kind_is_named_with_every_valid_kind():
    with pytest.raises(KindError) as error:
        resolve_kinds(["pods", "deployments"])
    assert str(error.value) == "unknown kind deployments; valid kinds: " + ", ".join(sorted(VALID_KINDS))


def test_unknown_disabled_kind_is_refused():
    with pytest.raises(KindError, match=r"^unknown kind pod;"):
        resolve_kinds(["-pod"])


def test_storageclasses_and_hoststorageclasses_conflict():
    with pytest.raises(KindError, match="storageclasses and hoststorageclasses cannot both be enabled"):
        resolve_kinds(["storageclasses", "hoststorageclasses"])


@pytest.mark.parametrize("kind", ["storageclasses", "hoststorageclasses"])
def test_either_storage_class_kind_alone_is_fine(kind):
    assert kind in resolve_kinds([kind])


def test_storage_class_conflict_is_lifted_by_disabling_one():
    assert "storageclasses" in resolve_kinds(["storageclasses", "hoststorageclasses", "-hoststorageclasses"])
