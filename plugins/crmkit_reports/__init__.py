"""crmkit plugin: reports — KPIs as of any date, assembled with every plugin's sections into
terminal tables, CSV, JSON and one self-contained HTML file (see docs/plugins/reports.md)."""

from .assembly import Report
from .periods import Period, calendar_period, explicit_period
from .results import KpiResult, Measure

__all__ = ["KpiResult", "Measure", "Period", "Report", "calendar_period", "explicit_period"]
