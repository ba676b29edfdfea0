"""The loyalty plugin's policies as declared settings (``crmkit config get/set``).

Each is a JSON object written through the service method that checks it, so a bad value is
refused before anything is stored. Rules that are lists (tiers, cadence, churn classes, RFM
segments) keep their own methods and commands.
"""

from __future__ import annotations

from typing import Any, Callable

from crmkit import ValidationError, hookimpl


def _object(key: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValidationError(key, value, "a JSON object, e.g. '{\"days\": 180}'")
        return value

    return check


def _through(key: str, write: Callable[[Any, dict], Any]) -> Callable[[Any, Any], None]:
    def apply(crm, value: dict) -> None:
        try:
            write(crm, value)
        except TypeError as error:  # an unknown name in the object
            raise ValidationError(key, value, f"only known names ({error})") from None

    return apply


@hookimpl
def crmkit_settings(crm):
    from crmkit.settings import Setting

    import attrs

    from .config import DEFAULT_SCORE_WEIGHTS, DowngradePolicy, LifecycleRules, PointsPolicy

    items = [
        ("loyalty.points", "Points earning: rate per currency unit, lock_days, expiry_days, expiry_end, bonuses "
         "(changes apply to purchases recorded from now on).", PointsPolicy().to_json(),
         lambda crm, v: crm.loyalty.points.set_policy(**v)),
        ("loyalty.downgrade", "When a customer who no longer qualifies loses a tier: policy never, on_returns or "
         "review (after days in the tier).", {"policy": DowngradePolicy().policy, "days": DowngradePolicy().days},
         lambda crm, v: crm.loyalty.tiers.set_downgrade_policy(**v)),
        ("loyalty.score_weights", "Weights of the loyalty score's parts (whole numbers; parts not named keep "
         "their defaults).", dict(DEFAULT_SCORE_WEIGHTS), lambda crm, v: crm.loyalty.set_score_weights(**v)),
        ("loyalty.lifecycle", "Lifecycle stage thresholds in days and percent (new_days, churned_days, "
         "period_days, growth_percent, decline_percent).", attrs.asdict(LifecycleRules()),
         lambda crm, v: crm.loyalty.set_lifecycle_rules(**v)),
    ]
    return [Setting(key, text, default, _object(key), _through(key, write)) for key, text, default, write in items]

