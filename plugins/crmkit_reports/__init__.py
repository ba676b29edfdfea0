"""crmkit plugin: reports — KPIs as of any date, assembled with every plugin's sections into
terminal tables, CSV, JSON and one self-contained HTML file (see docs/plugins/reports.md).

The names below are imported on first use: loading the plugin, as every ``crmkit`` command
does, must not pay for the report machinery.
"""

from typing import TYPE_CHECKING

from crmkit.lazy import lazy_exports

_LAZY = {
    "Report": "assembly", "Period": "periods", "calendar_period": "periods",
    "explicit_period": "periods", "KpiResult": "results", "Measure": "results",
}

if TYPE_CHECKING:  # pragma: no cover - what static checkers see
    from .assembly import Report
    from .periods import Period, calendar_period, explicit_period
    from .results import KpiResult, Measure


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)

__all__ = ["KpiResult", "Measure", "Period", "Report", "calendar_period", "explicit_period"]
