"""The leads plugin's options as declared settings (``crmkit config get/set``)."""

from __future__ import annotations

from functools import partial

from crmkit import hookimpl

DESCRIPTIONS = {
    "recycle_days": 'Days without a follow-up before an assigned lead goes back to the pool, per lead class; '
                    '{"default": 7} covers every class not named.',
    "cooldown_days": "Days before the previous owner may take a recycled or released lead again.",
    "reminder_days": "A task reminds the owner this many days before the lead would be recycled (0: no task).",
    "max_extensions": "How many extensions a lead may get while with one owner.",
    "extension_days": "Days each extension adds.",
    "daily_claim_cap": "Claims per rep per day when the rep has no claim_limit of their own.",
    "daily_quota": "Automatic allocations per rep per day as a share of capacity, above 0 and at most 1 (null: no quota).",
    "follow_up_kinds": "Interaction kinds that count as a follow-up when the lead's owner records them.",
    "stages": "The sales funnel of an open lead, in order.",
    "lost_reasons": "Reasons a lead may be marked lost with.",
    "auto_pool": "A customer added with stage prospect through the core API becomes a pool lead (true/false).",
    "recycle_strategy": "Strategy that re-allocates recycled leads during due work (null: they wait in the pool).",
}


def _apply(name: str, crm, value) -> None:
    crm.leads.configure(**{name: value})  # also recomputes open leads' recycle times when needed


@hookimpl
def crmkit_settings(crm):
    from crmkit.settings import Setting

    from . import config

    return [
        Setting(f"leads.{name}", DESCRIPTIONS[name], default, partial(config.check, name), partial(_apply, name))
        for name, default in config.DEFAULTS.items()
    ]
