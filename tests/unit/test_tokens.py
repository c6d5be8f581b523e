"""The token refresh schedule (SPEC §6.1.4): a token is renewed no later than 80% into its lifetime, and a token
whose window is unknown (new, or lost annotation) is due at once."""

from __future__ import annotations

import datetime as dt

from syncer.tokens import refresh_due

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def test_a_token_is_due_at_eighty_percent_of_its_lifetime():
    window = {"issued": "2026-01-01T12:00:00Z", "expires": "2026-01-01T12:10:00Z"}
    assert refresh_due(window, NOW) == NOW + dt.timedelta(minutes=8)


def test_a_token_without_a_known_window_is_due_now():
    assert refresh_due(None, NOW) == NOW
    assert refresh_due({}, NOW) == NOW


def test_the_default_3607_second_token_is_renewed_before_its_hour_is_over():
    window = {"issued": "2026-01-01T12:00:00Z", "expires": "2026-01-01T13:00:07Z"}
    due = refresh_due(window, NOW)
    assert NOW + dt.timedelta(minutes=48) <= due < NOW + dt.timedelta(minutes=49)
