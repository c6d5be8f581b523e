"""Event message scrubbing (SPEC §10, §6.6): Warning events carry host-side errors to the tenant, so the object's
own host name must read as its virtual name, and any other host object name must never reach the tenant, since it
could belong to another tenant."""

from __future__ import annotations

import pytest

from vocab.scrub import scrub

T = "vc-host"
HOST = "web-x-shop-x-vc"
VIRTUAL = "web"


def run(message: str, host: str = HOST, virtual: str = VIRTUAL) -> str:
    return scrub(message, host, virtual, T)


def test_own_host_name_becomes_the_virtual_name() -> None:
    assert run(f'pods "{HOST}" is forbidden: exceeded quota') == 'pods "web" is forbidden: exceeded quota'


def test_namespaced_own_host_name_becomes_the_virtual_name() -> None:
    assert run(f"cannot update {T}/{HOST}: conflict") == "cannot update web: conflict"


def test_every_occurrence_of_the_own_host_name_is_replaced() -> None:
    assert run(f"{HOST} and {T}/{HOST} and {HOST}") == "web and web and web"


def test_other_host_style_name_becomes_a_placeholder() -> None:
    message = 'secret "db-creds-x-other-tenant-x-vc" not found'
    assert run(message) == 'secret "<host object>" not found'


def test_own_and_foreign_host_names_in_one_message() -> None:
    message = f"pod {HOST} mounts claim data-x-billing-x-vc"
    assert run(message) == "pod web mounts claim <host object>"


def test_foreign_namespaced_host_name_hides_the_host_object_name() -> None:
    scrubbed = run(f"conflict with {T}/api-x-other-x-vc")
    assert "api-x-other-x-vc" not in scrubbed
    assert "<host object>" in scrubbed


@pytest.mark.parametrize(
    "message",
    [
        "",
        "admission webhook denied the request: image not allowed",
        "0/3 nodes are available: 3 Insufficient cpu.",
        'container "app" exceeded memory limit (512Mi)',
        "x-ray tracing failed",
    ],
)
def test_plain_text_is_untouched(message: str) -> None:
    assert run(message) == message


def test_no_host_style_name_survives_scrubbing() -> None:
    message = f"{HOST} refs a-x-b-x-vc, c.d-x-e-x-vc and {T}/f-x-g-x-vc"
    assert "-x-" not in run(message)


def test_virtual_name_containing_x_is_not_scrubbed_away() -> None:
    host = "max-x-ray-x-shop-x-vc"
    assert scrub(f'pods "{host}" is forbidden', host, "max-x-ray", T) == 'pods "max-x-ray" is forbidden'


def test_sentence_period_after_a_foreign_host_name_is_kept() -> None:
    assert run("lost claim data-x-billing-x-vc.") == "lost claim <host object>."


def test_truncated_hashed_host_name_is_scrubbed() -> None:
    long_host = "a-very-long-pod-name-that-goes-on-and-on-x-namespace-6a1f0c2b9e"
    assert run(f"pod {long_host} failed") == "pod <host object> failed"
