"""The widget toolkit panels are built from: paged SQL tables (sorted, filtered, exported,
clicked), KPI cards, Vega-Lite charts, a rule editor, the date range the panels share.

Plugins import it inside their panel factories only (``from crmkit_jupyter import toolkit``), so
a plugin still works where Jupyter is not installed. See docs/jupyter.md, "Writing a panel".
"""

from .base import Composite, error_html, error_message, note_html, run_busy
from .chart import ChartView
from .date_range import DateRange, shared_range
from .kpi import KpiCard
from .paged_table import PagedTable
from .rule_editor import RuleEditor
from .sources import ListSource, Nullable, PageSource, SqlSource
from .table_view import TableView

__all__ = [
    "ChartView", "Composite", "DateRange", "KpiCard", "ListSource", "PageSource", "PagedTable", "RuleEditor",
    "Nullable", "SqlSource", "TableView", "error_html", "error_message", "note_html", "run_busy",
    "shared_range",
]
