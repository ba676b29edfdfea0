"""``crm.reports``: KPIs, their settings, and whole reports as of a date."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from crmkit import NotFound, RuleError, ValidationError
from crmkit.timeutil import to_iso

from . import kpis
from .periods import Period, check_reach, resolve_period
from .queries import Filter
from .results import KpiResult

if TYPE_CHECKING:
    from crmkit import CRM

    from .assembly import Report

DEFAULTS = {"churn_days": 180, "cost_key": "cost", "cohort_months": 12}
_LIMITS = {"churn_days": (1, 3650), "cohort_months": (1, 36)}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_NAME_LIKE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\- ]*$")
#: calendar months the report's trend looks back on (cohorts look back ``cohort_months``)
TREND_MONTHS = 12
# Whether a cohort's month 1 is complete is read two calendar months after the cohort starts.
_MONTHS_AHEAD = 2
_WITHIN_YEARS = ("a time that keeps the report's periods and what it looks back on (churn window, trend and "
                 "cohort months) within the years 1 to 9999")


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

    def _moment(self, as_of: Any):
        """``as_of`` as a UTC moment (default: :meth:`default_as_of`); a ValidationError when it
        lies outside the years Python can count in."""
        if as_of is None:
            return self.default_as_of()
        try:
            return self._crm.as_of(as_of)
        except OverflowError:  # a time at the edge of year 1 or 9999 moved to UTC
            raise ValidationError("as_of", as_of, _WITHIN_YEARS) from None

    # --- KPIs -----------------------------------------------------------------------------

    def definitions(self) -> list[dict]:
        """Every KPI: key, title and definition (the formula in words)."""
        return [{"key": d.key, "title": d.title, "definition": d.definition} for d in kpis.CATALOGUE.values()]

    def scope(
        self, as_of: Any = None, period: Any = "month", segment: Any = None, compare: bool = True,
        *, trend_months: int = TREND_MONTHS,
    ) -> kpis.Scope:
        """The resolved periods, segment filter and settings that KPIs are computed with.

        A report whose periods, or the ``trend_months`` and churn window it looks back on, would
        fall before year 1 or after year 9999 is refused with a ValidationError."""
        crm = self._crm
        moment = self._moment(as_of)
        settings = self.settings()
        current, previous = self._periods(period, moment, compare, settings, trend_months)
        label, sql, params = self._segment(segment, moment)
        flt = Filter(crm.kinds.names(money="in"), crm.kinds.names(money="out"), sql, params)
        return kpis.Scope(
            current, previous, label, flt, settings["churn_days"],
            settings["cost_key"], crm.exponent, settings["cohort_months"], [k.name for k in crm.kinds],
        )

    def _periods(self, period: Any, moment, compare: bool, settings: dict, trend_months: int) -> tuple[Period, Period | None]:
        """The period ending at ``moment`` and the one before it (when ``compare``), checked to
        stay, with everything the report looks back and ahead on, within the years 1 to 9999."""
        crm = self._crm
        zone = None if crm.calendar.is_utc else crm.zone  # a UTC CRM keeps its periods and labels as they were
        field = "as_of" if isinstance(period, str) else "period"
        shown = to_iso(moment) if field == "as_of" else period
        try:
            current = resolve_period(period, moment, zone, crm.calendar.first_weekday)
            previous = current.previous() if compare else None
        except ValidationError:
            raise
        except (OverflowError, ValueError):  # a period boundary beyond year 1 or 9999
            raise ValidationError(field, shown, _WITHIN_YEARS) from None
        months_back = max(trend_months, settings["cohort_months"])
        if not check_reach(current, previous, settings["churn_days"], months_back, _MONTHS_AHEAD):
            raise ValidationError(field, shown, _WITHIN_YEARS)
        return current, previous

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
        return kpis.trend(self._crm.db, self.scope(as_of, period, segment, compare=False, trend_months=months), months)

    # --- reports --------------------------------------------------------------------------

    def build(self, as_of: Any = None, period: Any = "month", segment: Any = None, compare: bool = True) -> "Report":
        """The whole report: the KPIs plus every active plugin's ``crmkit_report_sections``."""
        from .assembly import build_report

        moment = self._moment(as_of)
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
