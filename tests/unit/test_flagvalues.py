"""Flag value syntax (SPEC §11): what each parser makes of good text. Most refusals are tested through `load_config` in
test_config.py, where the message must also name the source of the bad value."""

from __future__ import annotations

import pytest

from vocab.flagvalues import parse_bind_address, parse_duration, parse_node_selector, parse_toleration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15.0), ("1m", 60.0), ("1m30s", 90.0), ("500ms", 0.5), ("15", 15.0), ("2.5", 2.5), ("1h", 3600.0)],
)
def test_durations_become_float_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["15x", "-1s", "s", "", "1m 30s", "inf", "1e3"])
def test_malformed_durations_are_refused(text):
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_node_selector_is_parsed_as_key_value_pairs():
    assert parse_node_selector("pool=a, example.com/zone = z1") == {"pool": "a", "example.com/zone": "z1"}


@pytest.mark.parametrize(
    ("entry", "toleration"),
    [
        ("*", {"operator": "Exists"}),
        ("dedicated", {"key": "dedicated", "operator": "Exists"}),
        ("dedicated=gpu", {"key": "dedicated", "operator": "Equal", "value": "gpu"}),
        ("dedicated:NoExecute", {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}),
        (
            "example.com/team=a:PreferNoSchedule",
            {"key": "example.com/team", "operator": "Equal", "value": "a", "effect": "PreferNoSchedule"},
        ),
    ],
)
def test_enforced_tolerations_parse_to_kubernetes_tolerations(entry, toleration):
    assert parse_toleration(entry) == toleration


@pytest.mark.parametrize(
    ("text", "parsed"),
    [(":8080", ("", 8080)), ("127.0.0.1:9090", ("127.0.0.1", 9090)), ("[::1]:80", ("::1", 80)), ("0", None)],
)
def test_bind_addresses(text, parsed):
    assert parse_bind_address(text) == parsed
