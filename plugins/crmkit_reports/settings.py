"""The reports plugin's settings as declared settings (``crmkit config get/set``)."""

from __future__ import annotations

from crmkit import hookimpl

DESCRIPTIONS = {
    "churn_days": "Days without a purchase after which a customer counts as churned (1 to 3650).",
    "cost_key": "The interaction data key holding an acquisition cost, for cost KPIs.",
    "cohort_months": "How many monthly cohorts retention tables show (1 to 36).",
}


def _apply(key: str):
    def apply(crm, value) -> None:
        crm.reports.configure(**{key: value})  # checks the value before it writes

    return apply


@hookimpl
def crmkit_settings(crm):
    from crmkit.settings import Setting

    from .service import DEFAULTS

    return [Setting(f"reports.{key}", DESCRIPTIONS[key], default, apply=_apply(key)) for key, default in DEFAULTS.items()]
