"""The lead score: a smoothed naive-Bayes model over a lead's field values.

Trained on the leads closed (converted = won, lost = lost) by a date. For each feature value
``v`` of feature ``f`` with ``V`` distinct values seen in training::

    P(v | won)  = (won_v + alpha) / (N_won + alpha * (V + 1))
    P(v | lost) = (lost_v + alpha) / (N_lost + alpha * (V + 1))
    weight(v)   = ln(P(v | won) / P(v | lost))

A value never seen in training gets ``won_v = lost_v = 0`` (the prior for unseen values). A
lead's log-odds is ``ln((N_won + alpha) / (N_lost + alpha))`` plus the weights of its values;
its score is the logistic of that. The counting and scoring are SQL over all leads at once;
Python only turns the (few) per-value counts into weights.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmkit import CrmError, ValidationError
from crmkit import csvfile
from crmkit.timeutil import to_iso

from . import queries

if TYPE_CHECKING:
    from .service import LeadsService


def _fit(db, model: str, as_of: datetime, since: Any, alpha: float) -> dict:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0:
        raise ValidationError("alpha", alpha, "a smoothing constant above 0")
    db.execute(queries.DROP_TRAINING)
    db.execute(queries.CREATE_TRAINING)
    db.execute(queries.TRAINING_SET, {"as_of": to_iso(as_of), "since": to_iso(since) if since is not None else ""})
    try:
        n_won, n_lost = db.execute(queries.TRAINING_TOTALS).fetchone()
        counts = db.execute(queries.TRAINING_COUNTS).fetchall()
    finally:
        db.execute(queries.DROP_TRAINING)
    distinct: dict[str, int] = {}
    for feature, _value, _won, _lost in counts:
        distinct[feature] = distinct.get(feature, 0) + 1

    def weight(feature: str, won: int, lost: int) -> float:
        slots = alpha * (distinct[feature] + 1)
        return math.log((won + alpha) / (n_won + slots)) - math.log((lost + alpha) / (n_lost + slots))

    rows = [(f, v, w, l, weight(f, w, l)) for f, v, w, l in counts]
    rows += [(f, None, 0, 0, weight(f, 0, 0)) for f in sorted(distinct)]
    db.execute(queries.CLEAR_MODEL.format(model=model))
    db.executemany(queries.INSERT_MODEL.format(model=model), rows)
    prior = math.log((n_won + alpha) / (n_lost + alpha))
    return {"won": n_won, "lost": n_lost, "prior": prior, "features": distinct, "values": len(counts)}


def train_and_score(service: "LeadsService", as_of: datetime, *, since: Any = None, alpha: float = 1.0) -> dict:
    """Fit the live model and write ``score`` on every open lead; returns a summary."""
    crm = service.crm
    with crm.transaction():
        summary = _fit(crm.db, "leads_model", as_of, since, alpha)
        if summary["won"] + summary["lost"] == 0:
            raise CrmError(f"no lead was converted or lost by {to_iso(as_of)}; there is nothing to learn the score from")
        crm.db.execute(queries.CLEAR_SCORES)
        scored = crm.db.execute(queries.SCORE_OPEN_LEADS, {"prior": summary["prior"], "as_of": to_iso(as_of)}).rowcount
        model = {"as_of": to_iso(as_of), "alpha": alpha, "prior": summary["prior"], "won": summary["won"], "lost": summary["lost"]}
        crm.settings.set("leads.model", model)
        crm.audit.record("lead.score", "lead_model", None, after=dict(model, scored=scored), source="leads")
    return dict(model, scored=scored, values=summary["values"])


def explain(service: "LeadsService", lead_id: int) -> dict:
    """Score of one lead and each value's contribution (positive raised it)."""
    crm = service.crm
    lead = service.get(lead_id)
    model = crm.settings.get("leads.model")
    if model is None:
        raise CrmError("the lead score is not trained yet; run crm.leads.train() (crmkit due does it daily)")
    reasons, logit = [], model["prior"]
    for feature, value, known, unseen, won, lost in crm.db.execute(queries.EXPLAIN_LEAD, {"lead": lead_id}):
        weight = known if known is not None else unseen
        logit += weight
        reasons.append({
            "feature": feature, "value": value, "weight": round(weight, 4),
            "effect": "raised" if weight > 0 else "lowered" if weight < 0 else "neutral",
            "seen": known is not None, "won": won or 0, "lost": lost or 0,
        })
    reasons.sort(key=lambda r: (-abs(r["weight"]), r["feature"], r["value"]))
    return {
        "lead": lead_id, "score": lead.score, "computed": round(1 / (1 + math.exp(-logit)), 6),
        "prior": round(model["prior"], 4), "trained_as_of": model["as_of"], "reasons": reasons,
    }


def _summary(explanation: dict, top: int = 3) -> str:
    parts = []
    for r in explanation["reasons"][:top]:
        sign = "+" if r["weight"] >= 0 else "-"
        parts.append(f"{r['feature']}={r['value']} ({sign}{abs(r['weight']):.2f}{'' if r['seen'] else ', unseen'})")
    return "; ".join(parts)


def score_rows(service: "LeadsService", limit: int | None = None) -> list[dict]:
    """Open leads with their score and top three reasons, best first."""
    rows = service.crm.db.execute(queries.SCORED_LEADS).fetchall()
    if limit is not None:
        rows = rows[: int(limit)]
    out = []
    for lead_id, score, owner, status in rows:
        explanation = explain(service, lead_id)
        out.append({"lead": lead_id, "score": round(score, 6), "owner": owner, "status": status, "reasons": _summary(explanation)})
    return out


def export(service: "LeadsService", path: Path) -> int:
    """Write :func:`score_rows` to a CSV file; returns the number of rows."""
    if not path.parent.is_dir():
        raise CrmError(f"cannot write {path}: folder {path.parent} does not exist")
    rows = score_rows(service)
    with path.open("w", newline="", encoding="utf-8") as handle:
        columns = ["lead", "score", "owner", "status", "reasons"]
        writer = csvfile.writer(handle)
        writer.writerow(columns)
        writer.writerows([row[c] for c in columns] for row in rows)
    return len(rows)


def calibration(service: "LeadsService", train_until: datetime, holdout_until: datetime, *, bands: int, alpha: float) -> list[dict]:
    """Train on leads closed by ``train_until``; compare with leads received after it and closed
    by ``holdout_until``. Writes nothing but scratch tables."""
    if holdout_until <= train_until:
        raise ValidationError("holdout_until", to_iso(holdout_until), f"a time after train_until ({to_iso(train_until)})")
    if isinstance(bands, bool) or not isinstance(bands, int) or not 2 <= bands <= 20:
        raise ValidationError("bands", bands, "a whole number from 2 to 20")
    db = service.crm.db
    db.execute(queries.CREATE_TEMP_MODEL)
    try:
        summary = _fit(db, "_ls_model", train_until, None, alpha)
        if summary["won"] + summary["lost"] == 0:
            raise CrmError(f"no lead was converted or lost by {to_iso(train_until)}; nothing to train on")
        params = {"prior": summary["prior"], "train_until": to_iso(train_until), "holdout_until": to_iso(holdout_until)}
        found = {row[0]: row for row in db.execute(queries.calibration_sql(bands), params)}
    finally:
        db.execute(queries.DROP_TEMP_MODEL)
    out = []
    for band in range(bands):
        low, high = band / bands, (band + 1) / bands
        row = found.get(band)
        out.append({
            "band": f"{low:.2f}-{high:.2f}", "leads": row[1] if row else 0,
            "predicted": round(row[2], 4) if row else None, "actual": round(row[3], 4) if row else None,
        })
    return out
