"""KPI results: plain rows of measures (value, previous value, change) and an optional table."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from attrs import field, frozen

from .periods import Period

UNITS = ("count", "rate", "money", "score")
RATE_PLACES = Decimal("0.0001")
SCORE_PLACES = Decimal("0.01")


def ratio(numerator: Any, denominator: Any, places: Decimal = RATE_PLACES) -> Decimal | None:
    """``numerator / denominator`` as an exact Decimal rounded half-even; None when undefined."""
    if numerator is None or not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(places, rounding=ROUND_HALF_EVEN)


def change(value: Any, previous: Any) -> Any:
    """``value - previous`` (for rates: percentage points as a fraction), None when either is."""
    if value is None or previous is None:
        return None
    return value - previous


@frozen
class Measure:
    """One figure of a KPI with the same figure for the previous period."""

    name: str
    label: str
    unit: str
    value: Any
    previous: Any = None

    @property
    def change(self) -> Any:
        return change(self.value, self.previous)

    def to_row(self) -> dict:
        """The measure as a plain dict: measure, label, unit, value, previous, change."""
        return {
            "measure": self.name, "label": self.label, "unit": self.unit, "value": self.value,
            "previous": self.previous, "change": self.change,
        }


@frozen
class KpiResult:
    """A KPI computed for a period (and the previous one), optionally within a segment.

    ``measures`` are the headline figures; ``rows``/``columns`` an optional breakdown table
    (customers by source, the cohort table, the Pareto curve, ...). ``definition`` is the
    formula in words.
    """

    key: str
    title: str
    definition: str
    period: Period
    previous: Period | None
    segment: str | None
    measures: tuple[Measure, ...] = field(converter=tuple)
    rows: list[dict] = field(factory=list)
    columns: tuple[str, ...] = field(default=(), converter=tuple)
    note: str | None = None

    def __getitem__(self, name: str) -> Any:
        """The current value of a measure: ``result["churn_rate"]``."""
        return self.measure(name).value

    def measure(self, name: str) -> Measure:
        """The measure called ``name``; raises KeyError naming the measures there are."""
        for item in self.measures:
            if item.name == name:
                return item
        raise KeyError(f"{self.key} has no measure {name!r}; it has {', '.join(m.name for m in self.measures)}")

    def to_rows(self) -> list[dict]:
        """The measures as plain dicts: measure, label, unit, value, previous, change."""
        return [m.to_row() for m in self.measures]

    def to_pandas(self, table: str = "measures"):
        """A pandas DataFrame of the measures (``table="measures"``) or the breakdown (``"rows"``)."""
        try:
            import pandas as pd
        except ImportError as error:  # pragma: no cover - pandas is an optional extra
            raise ImportError("to_pandas() needs pandas: pip install pandas") from error
        if table == "measures":
            return pd.DataFrame(self.to_rows(), columns=["measure", "label", "unit", "value", "previous", "change"])
        if table == "rows":
            return pd.DataFrame(self.rows, columns=list(self.columns) or None)
        raise ValueError(f"table must be 'measures' or 'rows', not {table!r}")
