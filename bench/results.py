"""What a benchmark run produces: rows of one metric at one size, holding every run's value and (where there is one)
every run's floor value, so the report can show median, min and max and the ratio to the floor side by side."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Row:
    scenario: str
    size: str  # human-readable, e.g. "50/s x 100 pods"
    metric: str  # name and unit, e.g. "p99 ms"
    x: float  # the size as a number, for plots (rate, pods)
    values: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def floor_median(self) -> float | None:
        return statistics.median(self.floor) if self.floor else None

    @property
    def ratio(self) -> float | None:
        floor = self.floor_median
        return self.median / floor if floor and floor > 0 else None  # a floor can be ~0 (a watch beats a response)


@dataclass
class Results:
    meta: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)

    def row(self, scenario: str, size: str, metric: str, x: float) -> Row:
        """The row for (scenario, size, metric), created on first use, so runs append to the same row."""
        for row in self.rows:
            if (row.scenario, row.size, row.metric) == (scenario, size, metric):
                return row
        row = Row(scenario, size, metric, x)
        self.rows.append(row)
        return row

    def add(self, scenario: str, size: str, metric: str, x: float, value: float, floor: float | None = None) -> None:
        row = self.row(scenario, size, metric, x)
        row.values.append(value)
        if floor is not None:
            row.floor.append(floor)

    def find(self, scenario: str, metric: str) -> list[Row]:
        return [r for r in self.rows if r.scenario == scenario and r.metric == metric and r.values]

    def to_json(self) -> dict[str, Any]:
        return {"meta": self.meta, "rows": [asdict(r) for r in self.rows]}
