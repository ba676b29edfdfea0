"""``crm.loyalty``: the loyalty plugin's service namespace."""

from __future__ import annotations

from typing import Any

from crmkit import ValidationError

from . import cadence, churn, crosssell, runs
from .config import RfmSegmentRule, RfmThresholds, check_weights
from .models import ChurnWarning, ClvResult, LoyaltyScore, Movement, Pareto, RfmResult, RfmScore, Run
from .points import Points
from .tiers import Tiers


class LoyaltyService:
    """RFM, Pareto, tiers, points, loyalty score, cross-sell, referrals, churn, cadence and CLV."""

    def __init__(self, crm):
        self._crm = crm
        self.tiers = Tiers(crm)
        self.points = Points(crm)

    # --- RFM and Pareto ---------------------------------------------------------------------------

    def rfm(self, as_of: Any = None, window_days: int = 365, store: bool = True, *, method: str | None = None,
            thresholds: RfmThresholds | dict | None = None) -> RfmResult:
        """RFM scores and named segments as of a time (stored as a run unless ``store=False``).

        ``method``: ``quantiles`` (cut points from the distribution; equal values score alike),
        ``ntile`` (SQL's NTILE, ties by id) or ``thresholds`` (fixed cut points: ``thresholds``
        or the stored ones); default: the stored method (``set_rfm_method``), else ``quantiles``.
        """
        from . import rfm
        return rfm.compute(self._crm, as_of, window_days, store, method, thresholds)

    def rfm_method(self) -> str:
        """The stored RFM scoring method (``quantiles`` unless changed with ``set_rfm_method``)."""
        from . import rfm
        return rfm.method_of(self._crm)

    def set_rfm_method(self, method: str, thresholds: RfmThresholds | dict | None = None) -> None:
        """Store the RFM scoring method used when ``rfm()`` is not given one.

        ``thresholds`` stores fixed cut points too; method ``thresholds`` needs cut points
        given here or stored before. Nothing is stored when a value is invalid.
        """
        from .config import check_rfm_method

        check_rfm_method(method)
        chosen = None
        if thresholds is not None:
            chosen = thresholds if isinstance(thresholds, RfmThresholds) else RfmThresholds(**thresholds)
        elif method == "thresholds":
            from . import rfm
            rfm.thresholds_of(self._crm)
        with self._crm.transaction():
            if chosen is not None:
                self._crm.settings.set("loyalty.rfm_thresholds", chosen.to_json())
            self._crm.settings.set("loyalty.rfm_method", method)

    def rfm_scores(self, run: Any = None, customer_id: int | None = None, limit: int = 1000, offset: int = 0) -> list[RfmScore]:
        """Scores of a stored run (a Run, its id, or the newest as of a time; default now)."""
        from . import rfm
        return rfm.scores(self._crm, rfm.resolve_run(self._crm, run), customer_id, limit, offset)

    def rfm_distribution(self, run: Any = None) -> list[dict]:
        """Customers and net spend per named segment of a stored run."""
        from . import rfm
        return rfm.distribution(self._crm, rfm.resolve_run(self._crm, run))

    def rfm_movement(self, before: Any, after: Any = None, from_segment: str | None = None, to_segment: str | None = None) -> Movement:
        """Customers moving between named segments from one stored run to another."""
        from . import rfm
        return rfm.movement(self._crm, rfm.resolve_run(self._crm, before), rfm.resolve_run(self._crm, after), from_segment, to_segment)

    def runs(self, kind: str = "rfm") -> list[Run]:
        """Stored runs of a kind (rfm, score, churn, clv), oldest first."""
        if kind not in ("rfm", "score", "churn", "clv"):
            raise ValidationError("kind", kind, "one of rfm, score, churn, clv")
        return runs.all_of(self._crm, kind)

    def set_rfm_thresholds(self, thresholds: RfmThresholds | dict | None) -> None:
        """Score by fixed cut points (method ``thresholds``); None: forget them and go back to
        the default method ``quantiles``."""
        if thresholds is None:
            with self._crm.transaction():
                self._crm.settings.set("loyalty.rfm_thresholds", None)
                self._crm.settings.set("loyalty.rfm_method", None)
            return
        self.set_rfm_method("thresholds", thresholds)

    def set_rfm_segments(self, rules: list[dict | RfmSegmentRule]) -> None:
        """Replace the named-segment mapping (ordered; first match wins)."""
        chosen = [r if isinstance(r, RfmSegmentRule) else RfmSegmentRule(**r) for r in rules]
        if not chosen:
            raise ValidationError("rfm segments", [], "at least one rule")
        self._crm.settings.set("loyalty.rfm_segments", [
            {"segment": r.segment, "r": list(r.r), "f": list(r.f), "m": list(r.m)} for r in chosen
        ])

    def pareto(self, as_of: Any = None, window_days: int | None = None, top: Any = "0.2") -> Pareto:
        """Revenue share of the top 20% (or ``top``), the Lorenz curve and the Gini coefficient."""
        from . import rfm
        return rfm.pareto(self._crm, as_of, window_days, top)

    # --- loyalty score ----------------------------------------------------------------------------

    def score(self, as_of: Any = None, store: bool = True) -> list[LoyaltyScore]:
        """Loyalty scores (0-100, with parts) of every customer with a purchase."""
        from . import score
        return score.compute(self._crm, as_of, store)[1]

    def score_of(self, customer_id: int, as_of: Any = None) -> LoyaltyScore | None:
        """One customer's score from the newest stored run as of a time (None: not scored)."""
        self._crm.customers.get(customer_id)
        run = runs.latest(self._crm, "score", self._crm.as_of(as_of))
        from . import score
        found = score.stored(self._crm, run, customer_id) if run else []
        return found[0] if found else None

    def set_score_weights(self, **weights: int) -> dict:
        """Change weights of the score's parts; others keep their defaults."""
        merged = check_weights(weights)
        self._crm.settings.set("loyalty.score_weights", merged)
        return merged

    # --- cross-sell, upsell, referrals -----------------------------------------------------------

    def association_rules(self, as_of: Any = None, min_support: float = 0.01, min_confidence: float = 0.1, min_count: int = 2):
        """Category association rules with support, confidence and lift."""
        return crosssell.association_rules(self._crm, as_of, min_support, min_confidence, min_count)

    def recommendations(self, customer_id: int | None = None, as_of: Any = None, per_customer: int = 3, **thresholds: Any):
        """Categories to offer each customer, with the rule behind each."""
        return crosssell.recommendations(self._crm, customer_id, as_of, per_customer, **thresholds)

    def recommendation_tasks(self, as_of: Any = None, per_customer: int = 1, **thresholds: Any) -> int:
        """Create ``cross_sell`` tasks for owners from the recommendations."""
        return crosssell.recommendation_tasks(self._crm, as_of, per_customer, **thresholds)

    def upsell_candidates(self, as_of: Any = None, closeness: Any = "0.2"):
        """Customers close to the next tier or spending like its typical member."""
        return self.tiers.upsell_candidates(as_of, closeness)

    def referral_value(self, customer_id: int | None = None, as_of: Any = None):
        """Net revenue of the customers each referrer brought, apart from their own."""
        return crosssell.referral_value(self._crm, customer_id, as_of)

    # --- churn, lifecycle, cadence ---------------------------------------------------------------

    def churn_classes(self):
        """The churn classes in evaluation order."""
        return churn.classes(self._crm)

    def set_churn_classes(self, classes: list) -> list:
        """Replace the churn classes (ChurnClass or dicts)."""
        return churn.set_classes(self._crm, classes)

    def churn(self, as_of: Any = None, min_level: str = "low", limit: int | None = 1000) -> list[ChurnWarning]:
        """Evaluate and store churn warnings as of a time; returns those at ``min_level`` or above
        (at most ``limit``, highest score first; ``limit=None`` for all)."""
        churn.check_listing(min_level, limit)  # before the run is stored
        return churn.warnings(self._crm, churn.evaluate(self._crm, as_of), min_level, limit)

    def churn_warnings(self, as_of: Any = None, min_level: str = "low", limit: int | None = 1000) -> list[ChurnWarning]:
        """Warnings of the newest stored churn run as of a time (nothing is evaluated);
        ``limit=None`` for all."""
        run = runs.latest(self._crm, "churn", self._crm.as_of(as_of))
        return churn.warnings(self._crm, run, min_level, limit) if run else []

    def warn(self, now: Any = None) -> dict:
        """Evaluate churn as of ``now`` and raise one task per new warning (what ``crmkit_due`` runs)."""
        with self._crm.transaction():
            run = churn.evaluate(self._crm, now)
            created = churn.raise_tasks(self._crm, run)
        return {"warnings": run.customers, "tasks_created": created}

    def lifecycle(self, as_of: Any = None) -> dict[str, int]:
        """Customers per lifecycle stage as of a time."""
        return churn.lifecycle_counts(self._crm, as_of)

    def lifecycle_of(self, customer_id: int, as_of: Any = None) -> str:
        """One customer's lifecycle stage as of a time."""
        return churn.lifecycle_of(self._crm, customer_id, as_of)

    def set_lifecycle_rules(self, **rules: int) -> None:
        """Change lifecycle thresholds (takes effect in rules on the next ``crmkit.open``)."""
        from .config import LifecycleRules

        merged = dict(self._crm.settings.get("loyalty.lifecycle", {}), **rules)
        LifecycleRules(**merged)
        self._crm.settings.set("loyalty.lifecycle", merged)

    def cadence_rules(self):
        """The contact cadence rules."""
        return cadence.rules(self._crm)

    def set_cadence_rules(self, rules: list) -> list:
        """Replace the cadence rules (CadenceRule or dicts; [] switches cadence off)."""
        return cadence.set_rules(self._crm, rules)

    def cadence(self, now: Any = None, dry_run: bool = False) -> dict:
        """Create the cadence tasks owed as of ``now`` (``dry_run``: list them only)."""
        return cadence.due(self._crm, now, dry_run)

    # --- lifetime value ---------------------------------------------------------------------------

    def clv(self, as_of: Any = None, *, months: int = 12, discount_rate: Any = "0.01", store: bool = True) -> ClvResult:
        """Fit BG/NBD + Gamma-Gamma on the log and value every purchasing customer."""
        from . import value
        return value.compute(self._crm, as_of, months=months, discount_rate=discount_rate, store=store)

    def clv_of(self, customer_id: int, as_of: Any = None):
        """One customer's values from the newest stored CLV run as of a time (None: not valued)."""
        self._crm.customers.get(customer_id)
        run = runs.latest(self._crm, "clv", self._crm.as_of(as_of))
        from . import value
        found = value.stored(self._crm, run, customer_id) if run else []
        return found[0] if found else None

    def due(self, now: Any = None) -> dict:
        """The plugin's scheduled work: expire points, churn warnings, cadence tasks.

        Returns counts of what this run did (batches expired, tasks created) and
        ``churn_warnings_in_force``: how many customers carry a churn warning as of ``now``,
        whether raised now or earlier (a second run at the same ``now`` creates no tasks).
        """
        moment = self._crm.as_of(now)
        expired = self.points.expire(moment)
        warned = self.warn(moment)
        planned = self.cadence(moment)
        return {
            "points_batches_expired": expired, "churn_warnings_in_force": warned["warnings"],
            "churn_tasks_created": warned["tasks_created"], "cadence_tasks_created": sum(planned["created"].values()),
        }
