"""The bad-input table itself: at least 30 cases, unique ids and names, every outcome used, reasons given."""

from __future__ import annotations

from tests.integration.bad_input import CASES, REFUSED, SYNCED, TRIMMED


def test_the_table_has_thirty_distinct_cases_of_every_outcome():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    assert len({(c.resource, c.name) for c in CASES}) == len(CASES)
    assert {c.outcome for c in CASES} == {SYNCED, TRIMMED, REFUSED}
    assert all(c.says for c in CASES if c.outcome != SYNCED)
