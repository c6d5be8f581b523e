"""The profile split gives each function's own time to the area of its file, and a C function's time to its callers'
areas in proportion to what each call took: the note's "where vcsync's CPU goes" table rests on it."""

from __future__ import annotations

from types import SimpleNamespace

from bench.profile_split import split, table

API, SHARING = ("/x/syncer/kube/api.py", 1, "parse_json"), ("/x/syncer/sharing.py", 1, "share")
LOADS = ("~", 0, "loads")


def test_c_functions_count_for_their_callers_areas_in_proportion() -> None:
    stats = SimpleNamespace(
        stats={
            API: (1, 1, 0.5, 2.0, {}),
            SHARING: (1, 1, 0.25, 1.0, {}),
            LOADS: (4, 4, 2.0, 2.0, {API: (3, 3, 1.5, 1.5), SHARING: (1, 1, 0.5, 0.5)}),
            ("/x/site-packages/aiohttp/client.py", 1, "_request"): (1, 1, 1.0, 1.0, {}),
        }
    )
    assert split(stats) == {
        "API client: requests, decoding": 0.5 + 1.5,
        "sharing parts and strings in caches": 0.25 + 0.5,
        "HTTP client (aiohttp, ssl)": 1.0,
    }


def test_the_table_gives_ms_per_pod_largest_first() -> None:
    rows = table({"a": 0.1, "b": 0.3}, pods=100).splitlines()
    assert rows[2] == "| b | 3.00 | 75% |" and rows[3] == "| a | 1.00 | 25% |" and "| 4.00 | 100% |" in rows[4]
