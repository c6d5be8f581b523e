"""Fixtures of the chart tests: the pinned helm binary, found once per session (fails under CI when missing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.chart import find_helm


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    return find_helm()
