"""SQL of the complaint figures: one grouped query over the complaints received in a period.

Every figure is computed from timestamps against ``:as_of`` (the state at a time is the latest
step at or before it), so a past date gives today the figures it gave then. The work is
set-based: a ticket's own columns answer unless it moved after ``:as_of`` (then its history
does), surveys are one grouped pass, percentiles and repeat complainants are sorts.
"""

from __future__ import annotations

from crmkit.store import whole_number

from .queries import epoch, json_field, open_states_sql, outcome_at_sql, reopened_at_sql, state_at_sql

GROUPS = {
    None: "'all'",
    "category": "COALESCE(x.category, '(none)')",
    "product": "COALESCE(x.product, '(none)')",
    "channel": "COALESCE(x.channel, '(none)')",
    "severity": "x.severity",
    "handler": "COALESCE(x.owner, '(unassigned)')",
}


def figures(db, group: str, customer_filter: str | None, params: dict) -> list[dict]:
    """Per group: counts, SLA met/decided, answer-time percentiles, reopens, repeats, satisfaction.

    One pass over the complaints received in (:since, :as_of]. A complaint's state, latest answer
    and reopening at ``:as_of`` come from its own columns when it has taken no step since, from its
    history otherwise (``queries.state_at_sql``); satisfaction is one grouped pass over the survey
    interactions; the paused-deadline look-ups run only for complaints unanswered at ``:as_of``.
    """
    listed, more = open_states_sql("_fg_open")
    # Reading rows in received_at order costs a random page access each: when the period holds
    # a good share of the table, one sequential pass (``+`` keeps the planner off the index) is
    # several times faster.
    scan = "+" if _period_share(db, params) >= 0.125 else ""
    where = f"{scan}x.received_at > :since AND {scan}x.received_at <= :as_of"
    if customer_filter:
        where += f" AND x.customer_id IN ({customer_filter})"
    pause_ended = (
        "(SELECT q.due_after FROM complaints_pauses q WHERE q.complaint_id = x.id AND q.ended_at <= :as_of "
        "ORDER BY q.ended_at DESC LIMIT 1)"
    )
    first_pause = "(SELECT q.due_before FROM complaints_pauses q WHERE q.complaint_id = x.id ORDER BY q.started_at LIMIT 1)"
    paused_since = (
        "(SELECT q.started_at FROM complaints_pauses q WHERE q.complaint_id = x.id AND q.started_at <= :as_of "
        "AND (q.ended_at IS NULL OR q.ended_at > :as_of) LIMIT 1)"
    )
    due_at_as_of = f"COALESCE({pause_ended}, {first_pause}, x.first_resolve_due_at, x.resolve_due_at)"
    state = state_at_sql("x")
    sql = f"""
    WITH survey_rows AS MATERIALIZED (
        SELECT i.id, i.customer_id, i.occurred_at, {json_field('i.data', 'complaint_id')} AS about,
               CAST({json_field('i.data', 'score')} AS REAL) AS score
        FROM interactions i  -- rows read in id order: near-sequential pages, not one seek per survey
        WHERE i.id IN (SELECT k.id FROM interactions k WHERE k.kind = 'survey' AND k.occurred_at <= :as_of)
    ),
    surveys AS (
        SELECT customer_id, complaint_id, score FROM (
            SELECT customer_id, complaint_id, score,
                   ROW_NUMBER() OVER (PARTITION BY customer_id, complaint_id
                                      ORDER BY occurred_at DESC, id DESC) AS rn
            FROM (SELECT customer_id, {whole_number('about')} AS complaint_id, score, occurred_at, id
                  FROM survey_rows) AS numbered
            WHERE complaint_id IS NOT NULL
        ) AS latest WHERE rn = 1 ORDER BY complaint_id
    ),
    base AS MATERIALIZED (
        SELECT {group} AS grp, x.customer_id AS customer_id,
            CASE WHEN {state} IN ({listed}) THEN 'open' WHEN {state} IS NOT NULL THEN {outcome_at_sql('x')} END AS standing,
            {reopened_at_sql('x')} AS reopened,
            CASE WHEN x.first_answered_at <= :as_of THEN {epoch('x.first_answered_at')} - {epoch('x.received_at')} END AS answer_s,
            CASE WHEN x.acknowledged_at <= :as_of THEN (CASE WHEN x.acknowledged_at <= x.ack_due_at THEN 1 ELSE 0 END)
                 WHEN :as_of > x.ack_due_at THEN 0 END AS ack_ok,
            CASE WHEN x.first_answered_at <= :as_of THEN (CASE WHEN x.first_answered_at <= x.first_resolve_due_at THEN 1 ELSE 0 END)
                 WHEN COALESCE({paused_since}, :as_of) > {due_at_as_of} THEN 0 END AS resolve_ok
        FROM complaints_complaints x WHERE {where}
    ),
    rated AS (
        SELECT {group} AS grp, COUNT(s.score) AS surveys, SUM(s.score) AS score_sum, SUM(s.score >= 4) AS satisfied
        FROM surveys s JOIN complaints_complaints x ON x.id = s.complaint_id
        WHERE x.customer_id = s.customer_id AND {where} GROUP BY 1
    ),
    totals AS (
        SELECT grp, COUNT(*) AS received,
            SUM(standing = 'open') AS open, SUM(standing = 'resolved') AS resolved, SUM(standing = 'rejected') AS rejected,
            SUM(ack_ok = 1) AS ack_met, COUNT(ack_ok) AS ack_decided,
            SUM(resolve_ok = 1) AS resolve_met, COUNT(resolve_ok) AS resolve_decided,
            COUNT(answer_s) AS answered, SUM(reopened) AS reopened
        FROM base GROUP BY grp
    ),
    people AS (
        SELECT grp, COUNT(*) AS complainants, SUM(n >= 2) AS repeat_complainants
        FROM (SELECT grp, customer_id, COUNT(*) AS n FROM base GROUP BY grp, customer_id) AS per_customer GROUP BY grp
    ),
    hist AS (
        SELECT grp, answer_s, COUNT(*) AS c FROM base WHERE answer_s IS NOT NULL GROUP BY grp, answer_s
    ),
    pct AS (  -- nearest rank: the smallest time whose running count reaches the share
        SELECT h.grp, MIN(CASE WHEN h.upto * 2 >= t.answered THEN h.answer_s END) AS median_s,
               MIN(CASE WHEN h.upto * 10 >= t.answered * 9 THEN h.answer_s END) AS p90_s
        FROM (SELECT grp, answer_s, SUM(c) OVER (PARTITION BY grp ORDER BY answer_s ROWS UNBOUNDED PRECEDING) AS upto
              FROM hist) h
        JOIN totals t ON t.grp = h.grp GROUP BY h.grp
    )
    SELECT t.*, pct.median_s, pct.p90_s, people.complainants, people.repeat_complainants,
        COALESCE(rated.surveys, 0) AS surveys, rated.score_sum, rated.satisfied
    FROM totals t JOIN people ON people.grp = t.grp LEFT JOIN pct ON pct.grp = t.grp
    LEFT JOIN rated ON rated.grp = t.grp
    ORDER BY t.received DESC, t.grp
    """
    return list(db.query(sql, dict(params, **more)))


def _period_share(db, params: dict) -> float:
    """About what share of the complaints table was received in (:since, :as_of] (index count)."""
    inside = db.execute(
        "SELECT count(*) FROM complaints_complaints WHERE received_at > :since AND received_at <= :as_of",
        {"since": params["since"], "as_of": params["as_of"]},
    ).fetchone()[0]
    total = db.execute("SELECT COALESCE(max(id), 0) FROM complaints_complaints").fetchone()[0]
    return inside / total if total else 0.0


def customers_at(db, as_of: str, customer_filter: str | None, params: dict) -> int:
    """Customers existing at ``as_of`` (segment members when ``customer_filter`` is given)."""
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
