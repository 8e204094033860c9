"""What a report's chart draws: some of its table's columns, as data for static/js/reports.js.

The chart only ever shows numbers that are in the table beside it, so the page says everything
without JavaScript and the chart adds nothing the table lacks.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from labbook.reports.tables import Report


@dataclasses.dataclass(frozen=True)
class Series:
    column: str
    kind: str = "bar"  # or "line"
    #: 0: the left axis, 1: the right one (percentages next to hours, say).
    axis: int = 0
    stack: str | None = None


@dataclasses.dataclass(frozen=True)
class ChartSpec:
    series: tuple[Series, ...]
    #: The unit of each axis, e.g. ("h", "%").
    units: tuple[str, ...] = ("",)
    horizontal: bool = False


def chart_data(report: Report, spec: ChartSpec) -> dict[str, Any]:
    """The chart's categories (one per table row) and series (one per chosen column)."""
    columns = {column.key: column for column in report.table.columns}
    return {
        "categories": report.labels,
        "units": list(spec.units),
        "horizontal": spec.horizontal,
        "series": [{"name": columns[series.column].label, "type": series.kind,
                    "axis": series.axis, "stack": series.stack,
                    "data": [_number(value) for value in report.table.column(series.column)]}
                   for series in spec.series],
    }


def _number(value: object) -> float | int | None:
    # JSON has no decimals; a chart needs no more precision than a float gives.
    if isinstance(value, Decimal):
        return float(value)
    return value if isinstance(value, int) else None
