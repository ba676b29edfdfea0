"""SQL of the complaint figures: one grouped query over the complaints received in a period.

Every figure is computed from timestamps against ``:as_of`` (the state at a time is the latest
history step at or before it), so a past date gives today the figures it gave then.
"""

from __future__ import annotations

from .queries import epoch, json_field, open_states_sql

GROUPS = {
    None: "'all'",
    "category": "COALESCE(x.category, '(none)')",
    "product": "COALESCE(x.product, '(none)')",
    "channel": "COALESCE(x.channel, '(none)')",
    "severity": "x.severity",
    "handler": "COALESCE(x.owner, '(unassigned)')",
}


def figures(db, group: str, customer_filter: str | None, params: dict) -> list[dict]:
    """Per group: counts, SLA met/decided, answer-time percentiles, reopens, repeats, satisfaction."""
    listed, more = open_states_sql("_fg_open")
    where = "x.received_at > :since AND x.received_at <= :as_of"
    if customer_filter:
        where += f" AND x.customer_id IN ({customer_filter})"
    pause_ended = (
        "(SELECT q.due_after FROM complaints_pauses q WHERE q.complaint_id = p.id AND q.ended_at <= :as_of "
        "ORDER BY q.ended_at DESC LIMIT 1)"
    )
    first_pause = "(SELECT q.due_before FROM complaints_pauses q WHERE q.complaint_id = p.id ORDER BY q.started_at LIMIT 1)"
    paused_since = (
        "(SELECT q.started_at FROM complaints_pauses q WHERE q.complaint_id = p.id AND q.started_at <= :as_of "
        "AND (q.ended_at IS NULL OR q.ended_at > :as_of) LIMIT 1)"
    )
    due_at_as_of = f"COALESCE({pause_ended}, {first_pause}, p.first_resolve_due_at, p.resolve_due_at)"
    sql = f"""
    WITH pop AS (
        SELECT x.id, x.customer_id, {group} AS grp, x.received_at, x.acknowledged_at, x.ack_due_at,
               x.first_answered_at, x.first_resolve_due_at, x.resolve_due_at
        FROM complaints_complaints x WHERE {where}
    ),
    st AS (
        SELECT p.*,
            (SELECT h.status_to FROM complaints_history h WHERE h.complaint_id = p.id AND h.status_to IS NOT NULL
               AND h.at <= :as_of ORDER BY h.at DESC, h.id DESC LIMIT 1) AS state,
            (SELECT h.status_to FROM complaints_history h WHERE h.complaint_id = p.id
               AND h.status_to IN ('resolved', 'rejected') AND h.at <= :as_of ORDER BY h.at DESC, h.id DESC LIMIT 1) AS outcome,
            EXISTS (SELECT 1 FROM complaints_history h WHERE h.complaint_id = p.id AND h.status_to = 'reopened'
               AND h.at <= :as_of) AS reopened,
            (SELECT {json_field('i.data', 'score')} FROM interactions i WHERE i.customer_id = p.customer_id
               AND i.kind = 'survey' AND i.occurred_at <= :as_of AND {json_field('i.data', 'complaint_id')} = p.id
               ORDER BY i.occurred_at DESC, i.id DESC LIMIT 1) AS score,
            CASE WHEN p.first_answered_at <= :as_of THEN {epoch('p.first_answered_at')} - {epoch('p.received_at')} END AS answer_s,
            CASE WHEN p.acknowledged_at <= :as_of THEN p.acknowledged_at <= p.ack_due_at
                 WHEN :as_of > p.ack_due_at THEN 0 END AS ack_ok,
            CASE WHEN p.first_answered_at <= :as_of THEN p.first_answered_at <= p.first_resolve_due_at
                 WHEN COALESCE({paused_since}, :as_of) > {due_at_as_of} THEN 0 END AS resolve_ok
        FROM pop p
    ),
    ranked AS (
        SELECT grp, answer_s, ROW_NUMBER() OVER (PARTITION BY grp ORDER BY answer_s) AS rn,
               COUNT(*) OVER (PARTITION BY grp) AS n
        FROM st WHERE answer_s IS NOT NULL
    ),
    pct AS (
        SELECT grp, MIN(CASE WHEN rn * 2 >= n THEN answer_s END) AS median_s,
               MIN(CASE WHEN rn * 10 >= n * 9 THEN answer_s END) AS p90_s
        FROM ranked GROUP BY grp
    ),
    repeaters AS (
        SELECT grp, COUNT(*) AS repeat_complainants
        FROM (SELECT grp, customer_id FROM st GROUP BY grp, customer_id HAVING COUNT(*) >= 2) GROUP BY grp
    )
    SELECT st.grp AS grp, COUNT(*) AS received,
        SUM(st.state IN ({listed})) AS open,
        SUM(st.state NOT IN ({listed}) AND st.outcome = 'resolved') AS resolved,
        SUM(st.state NOT IN ({listed}) AND st.outcome = 'rejected') AS rejected,
        SUM(st.ack_ok = 1) AS ack_met, COUNT(st.ack_ok) AS ack_decided,
        SUM(st.resolve_ok = 1) AS resolve_met, COUNT(st.resolve_ok) AS resolve_decided,
        COUNT(st.answer_s) AS answered, SUM(st.reopened) AS reopened,
        COUNT(DISTINCT st.customer_id) AS complainants,
        COUNT(st.score) AS surveys, SUM(st.score) AS score_sum, SUM(st.score >= 4) AS satisfied,
        MIN(pct.median_s) AS median_s, MIN(pct.p90_s) AS p90_s,
        COALESCE(MIN(repeaters.repeat_complainants), 0) AS repeat_complainants
    FROM st LEFT JOIN pct ON pct.grp = st.grp LEFT JOIN repeaters ON repeaters.grp = st.grp
    GROUP BY st.grp ORDER BY received DESC, st.grp
    """
    return list(db.query(sql, dict(params, **more)))


def customers_at(db, as_of: str, customer_filter: str | None, params: dict) -> int:
    sql = "SELECT count(*) FROM customers c0 WHERE c0.created_at <= :as_of"
    if customer_filter:
        sql += f" AND c0.id IN ({customer_filter})"
    return db.execute(sql, dict(params, as_of=as_of)).fetchone()[0]


def orders(db, kinds_in: list[str], by_product: bool, customer_filter: str | None, params: dict) -> dict:
    """Orders (money-in interactions) in (since, as_of], in total or per product."""
    names = {f"_ord{i}": k for i, k in enumerate(kinds_in)}
    listed = ", ".join(":" + k for k in names) or "NULL"
    group = "COALESCE(i.product, '(none)')" if by_product else "'all'"
    sql = (
        f"SELECT {group}, count(*) FROM interactions i WHERE i.kind IN ({listed}) "
        "AND i.occurred_at > :since AND i.occurred_at <= :as_of"
    )
    if customer_filter:
        sql += f" AND i.customer_id IN ({customer_filter})"
    sql += " GROUP BY 1"
    return {g: n for g, n in db.execute(sql, dict(params, **names))}
