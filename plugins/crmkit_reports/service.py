"""``crm.reports``: KPIs, their settings, and whole reports as of a date."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from crmkit import NotFound, RuleError, ValidationError

from . import kpis
from .periods import resolve_period
from .queries import Filter
from .results import KpiResult

if TYPE_CHECKING:
    from crmkit import CRM

    from .assembly import Report

DEFAULTS = {"churn_days": 180, "cost_key": "cost", "cohort_months": 12}
_LIMITS = {"churn_days": (1, 3650), "cohort_months": (1, 36)}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_NAME_LIKE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\- ]*$")


class ReportsService:
    """KPIs over the interaction log, and reports assembling them with every plugin's sections.

    Every KPI method takes ``as_of`` (default: the CRM's clock), ``period`` (``"month"``,
    ``"quarter"``, ``"year"``, a ``(start, end)`` pair or a :class:`~crmkit_reports.periods.Period`),
    ``segment`` (a saved segment's name or a rule; membership as of ``as_of``) and ``compare``
    (also compute the previous period).
    """

    def __init__(self, crm: "CRM"):
        self._crm = crm

    # --- settings -------------------------------------------------------------------------

    def settings(self) -> dict:
        """The settings in force: churn_days, cost_key, cohort_months."""
        return {key: self._crm.settings.get(f"reports.{key}", default) for key, default in DEFAULTS.items()}

    def configure(self, **values: Any) -> dict:
        """Change settings (``churn_days``, ``cost_key``, ``cohort_months``); all checked before any is written."""
        unknown = sorted(set(values) - set(DEFAULTS))
        if unknown:
            raise ValidationError(unknown[0], values[unknown[0]], "a reports setting: " + ", ".join(DEFAULTS))
        for key, value in values.items():
            if key in _LIMITS:
                low, high = _LIMITS[key]
                if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                    raise ValidationError(key, value, f"a whole number from {low} to {high}")
            elif not isinstance(value, str) or not _KEY.match(value):
                raise ValidationError(key, value, "a data key of letters, digits and _")
        crm = self._crm
        with crm.transaction():
            before = self.settings()
            for key, value in values.items():
                crm.settings.set(f"reports.{key}", value)
            crm.audit.record("reports.configure", "setting", "reports", before=before, after=self.settings(), source="reports")
        return self.settings()

    def default_as_of(self):
        """The moment reports use when no ``as_of`` is given: the CRM's clock, or for a file made by
        ``crmkit demo`` (setting ``demo.today``) the demo's "today", so its report is not empty."""
        today = self._crm.settings.get("demo.today")
        return self._crm.as_of(today) if today else self._crm.now()

    # --- KPIs -----------------------------------------------------------------------------

    def definitions(self) -> list[dict]:
        """Every KPI: key, title and definition (the formula in words)."""
        return [{"key": d.key, "title": d.title, "definition": d.definition} for d in kpis.CATALOGUE.values()]

    def scope(self, as_of: Any = None, period: Any = "month", segment: Any = None, compare: bool = True) -> kpis.Scope:
        """The resolved periods, segment filter and settings that KPIs are computed with."""
        crm = self._crm
        moment = self.default_as_of() if as_of is None else crm.as_of(as_of)
        zone = None if crm.calendar.is_utc else crm.zone  # a UTC CRM keeps its periods and labels as they were
        current = resolve_period(period, moment, zone, crm.calendar.first_weekday)
        label, sql, params = self._segment(segment, moment)
        settings = self.settings()
        flt = Filter(crm.kinds.names(money="in"), crm.kinds.names(money="out"), sql, params)
        return kpis.Scope(
            current, current.previous() if compare else None, label, flt, settings["churn_days"],
            settings["cost_key"], crm.exponent, settings["cohort_months"], [k.name for k in crm.kinds],
        )

    def kpi(self, key: str, as_of: Any = None, period: Any = "month", segment: Any = None, compare: bool = True) -> KpiResult:
        """One KPI by key (see :meth:`definitions`)."""
        definition = kpis.CATALOGUE.get(key)
        if definition is None:
            raise NotFound(f"no KPI {key!r}; KPIs: {', '.join(kpis.CATALOGUE)}")
        return definition.compute(self._crm.db, self.scope(as_of, period, segment, compare))

    def kpis(self, as_of: Any = None, period: Any = "month", segment: Any = None, compare: bool = True) -> dict[str, KpiResult]:
        """Every KPI, sharing one scope (and its cached counts)."""
        scope = self.scope(as_of, period, segment, compare)
        return {key: d.compute(self._crm.db, scope) for key, d in kpis.CATALOGUE.items()}

    def acquisition(self, **options: Any) -> KpiResult:
        """New customers and acquisition rate, with new customers by source."""
        return self.kpi("acquisition", **options)

    def churn(self, **options: Any) -> KpiResult:
        """Churned customers and churn rate."""
        return self.kpi("churn", **options)

    def retention(self, **options: Any) -> KpiResult:
        """Retained and reactivated customers and the retention rate."""
        return self.kpi("retention", **options)

    def upgrades(self, **options: Any) -> KpiResult:
        """Customers upgraded to a higher loyalty tier (needs the loyalty plugin)."""
        return self.kpi("upgrades", **options)

    def value(self, **options: Any) -> KpiResult:
        """Net revenue, average customer value, margin and profit per customer."""
        return self.kpi("value", **options)

    def repeat_purchase(self, **options: Any) -> KpiResult:
        """Repeat purchase rate."""
        return self.kpi("repeat_purchase", **options)

    def cross_sell(self, **options: Any) -> KpiResult:
        """Cross-sell ratio: buyers of two or more categories."""
        return self.kpi("cross_sell", **options)

    def concentration(self, **options: Any) -> KpiResult:
        """Revenue share of the top 20% of customers, with the Pareto curve."""
        return self.kpi("concentration", **options)

    def cohorts(self, **options: Any) -> KpiResult:
        """Cohort retention table by month of first purchase."""
        return self.kpi("cohorts", **options)

    def satisfaction(self, **options: Any) -> KpiResult:
        """Average score and CSAT from scored survey and feedback interactions."""
        return self.kpi("satisfaction", **options)

    def trend(self, as_of: Any = None, period: Any = "month", segment: Any = None, months: int = 12) -> list[dict]:
        """Monthly new customers, active customers, buyers and net revenue up to the period end."""
        if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 120:
            raise ValidationError("months", months, "a whole number from 1 to 120")
        return kpis.trend(self._crm.db, self.scope(as_of, period, segment, compare=False), months)

    # --- reports --------------------------------------------------------------------------

    def build(self, as_of: Any = None, period: Any = "month", segment: Any = None, compare: bool = True) -> "Report":
        """The whole report: the KPIs plus every active plugin's ``crmkit_report_sections``."""
        from .assembly import build_report

        moment = self.default_as_of() if as_of is None else self._crm.as_of(as_of)
        return build_report(self._crm, self.scope(moment, period, segment, compare), moment)

    # --- internals ------------------------------------------------------------------------

    def _segment(self, segment: Any, as_of) -> tuple[str | None, str | None, dict]:
        if segment is None:
            return None, None, {}
        segments = self._crm.segments
        try:
            rule = segments.resolve(segment)
            compiled = segments.compile(rule, as_of)
        except RuleError as error:
            if isinstance(segment, str) and _NAME_LIKE.match(segment.strip()):
                saved = [s.name for s in segments.list()]
                known = f"saved segments: {', '.join(saved)}" if saved else "no segment is saved yet"
                raise NotFound(f"no segment named {segment!r} ({known}), and as a rule: {error.reason}") from None
            raise
        label = segment if isinstance(segment, str) and segment in segments else compiled.rule
        return label, compiled.id_query(), dict(compiled.params)
