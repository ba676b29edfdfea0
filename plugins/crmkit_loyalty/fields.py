"""The loyalty plugin's segment fields (a public contract: other plugins and users rely on them).

Fields from stored runs (rfm_*, loyalty_score, churn_*, clv, p_alive, expected_purchases_90d)
read the newest run computed as of the rule's time, so a rule evaluated as of a past date sees
the figures of that date; they are null before the first run. ``tier`` and ``points_balance``
come from the tier history and the ledger as of the rule's time; ``lifecycle`` is computed live.
"""

from __future__ import annotations

from crmkit import Field, FieldFamily

from . import queries as q
from .churn import lifecycle_rules
from .config import CHURN_LEVELS, RFM_SEGMENT_NAMES, UNCLASSIFIED

STAGES = ("prospect", "new", "growing", "mature", "declining", "churned")


def loyalty_fields(crm) -> list[Field | FieldFamily]:
    """The plugin's segment fields: RFM, tier, points, loyalty score, churn, lifecycle, CLV and
    ``points_earned_<N>d`` (see the module docstring for which read stored runs and which are live).
    """
    in_list, out_list, kinds = q.kind_params(crm, "_lf")

    def rfm(column: str) -> str:
        return q.run_value_sql("rfm", "loyalty_rfm", column)

    def clv(column: str) -> str:
        return q.run_value_sql("clv", "loyalty_clv", column)

    churn_run = q.latest_run_sql("churn")
    return [
        Field("rfm_r", "number", "RFM recency score 1-5 (5: most recent) from the newest RFM run.", rfm("r")),
        Field("rfm_f", "number", "RFM frequency score 1-5 from the newest RFM run.", rfm("f")),
        Field("rfm_m", "number", "RFM monetary score 1-5 from the newest RFM run.", rfm("m")),
        Field("rfm_code", "text", "RFM code, e.g. '545', from the newest RFM run.", rfm("code")),
        Field("rfm_score", "number", "RFM total r+f+m (3-15) from the newest RFM run.", rfm("score")),
        Field(
            "rfm_segment", "text", "Named RFM segment (champions, loyal, ..., lost) from the newest RFM run.",
            rfm("segment"), choices=RFM_SEGMENT_NAMES + (UNCLASSIFIED,),
        ),
        Field("tier", "text", "Loyalty tier as of the rule's time (null: no tier).", q.TIER_OF_SQL),
        Field("points_balance", "number", "Spendable loyalty points as of the rule's time.", q.balance_sql()),
        Field("loyalty_score", "number", "Loyalty score 0-100 from the newest score run.", q.run_value_sql("score", "loyalty_scores", "score")),
        Field(
            "churn_risk", "text", "Churn risk level (none, low, medium, high) from the newest churn run.",
            f"CASE WHEN {churn_run} IS NULL THEN NULL ELSE COALESCE({q.run_value_sql('churn', 'loyalty_churn', 'level')}, 'none') END",
            choices=CHURN_LEVELS,
        ),
        Field(
            "churn_score", "number", "Churn risk score 0-100 from the newest churn run.",
            f"CASE WHEN {churn_run} IS NULL THEN NULL ELSE COALESCE({q.run_value_sql('churn', 'loyalty_churn', 'score')}, 0) END",
        ),
        Field(
            "lifecycle", "text", "Lifecycle stage from the purchase history (prospect ... churned).",
            q.lifecycle_sql(crm, in_list, out_list, lifecycle_rules(crm)), params=kinds, choices=STAGES,
        ),
        Field("clv", "money", "Predicted lifetime value from the newest CLV run.", clv("clv")),
        Field("p_alive", "number", "Probability the customer is still active (newest CLV run).", clv("p_alive")),
        Field("expected_purchases_90d", "number", "Expected purchases in the next 90 days (newest CLV run).", clv("expected_purchases_90d")),
        FieldFamily(
            r"points_earned_(\d{1,5})d", "points_earned_365d", "Points earned (net of clawbacks) in the last N days.",
            lambda m: Field(m.group(0), "number", f"Points earned in the {m.group(1)} days up to as_of.", q.points_earned_sql(crm, int(m.group(1)))),
        ),
    ]
