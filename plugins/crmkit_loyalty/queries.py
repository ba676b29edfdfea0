"""Every SQL statement of the loyalty plugin.

Statements read the core's ``interactions`` log (covered by its (customer_id, occurred_at, kind,
amount) index) and the plugin's own tables. Kind lists and constants are bound parameters; the
only text put into SQL is whole numbers of days through the core's store helpers.

An optional filter is written ``(column = :p OR :p IS NULL)``, comparison first: a parameter bound
to None has no type of its own, and PostgreSQL takes it from its first use.
"""

from __future__ import annotations

from crmkit.store import days_between, json_get, json_get_number_param, shift_days, unindexed

from .localdays import days_later_sql

# --- kinds --------------------------------------------------------------------------------------


def kind_params(crm, prefix: str = "_lk") -> tuple[str, str, dict]:
    """Placeholders for purchase kinds and refund kinds, and their parameters."""
    ins = crm.kinds.names(money="in")
    outs = crm.kinds.names(money="out")
    params = {f"{prefix}_in{i}": k for i, k in enumerate(ins)}
    params.update({f"{prefix}_out{i}": k for i, k in enumerate(outs)})
    in_list = ", ".join(f":{prefix}_in{i}" for i in range(len(ins))) or "NULL"
    out_list = ", ".join(f":{prefix}_out{i}" for i in range(len(outs))) or "NULL"
    return in_list, out_list, params


def signed(in_list: str, out_list: str, alias: str = "i") -> str:
    """Net money of one interaction row: +amount for purchases, -amount for refunds, else 0."""
    return (
        f"CASE WHEN {alias}.kind IN ({in_list}) THEN {alias}.amount "
        f"WHEN {alias}.kind IN ({out_list}) THEN -{alias}.amount ELSE 0 END"
    )


def money_kinds(in_list: str, out_list: str, alias: str = "i") -> str:
    """Rows of purchase or refund kinds, written so that SQLite's planner does not pick the
    (kind, occurred_at) index: a per-customer GROUP BY then scans the covering (customer_id,
    occurred_at, kind, amount) index in order, 2-3 times faster (the unary ``+`` is SQLite's way
    to say "no index for this term"; another store would drop it)."""
    return f"+{alias}.kind IN ({in_list}, {out_list})"


# --- stored runs --------------------------------------------------------------------------------

RUN_FOR = "SELECT id FROM loyalty_runs WHERE kind = ? AND as_of = ?"
RUN_INSERT = "INSERT INTO loyalty_runs(kind, as_of, created_at, params, customers) VALUES (?, ?, ?, ?, 0)"
RUN_SET_COUNT = "UPDATE loyalty_runs SET customers = ? WHERE id = ?"
RUN_GET = "SELECT id, kind, as_of, created_at, params, customers FROM loyalty_runs WHERE id = ?"
RUN_LATEST = (
    "SELECT id, kind, as_of, created_at, params, customers FROM loyalty_runs "
    "WHERE kind = ? AND as_of <= ? ORDER BY as_of DESC, id DESC LIMIT 1"
)
RUN_LIST = "SELECT id, kind, as_of, created_at, params, customers FROM loyalty_runs WHERE kind = ? ORDER BY as_of, id"
RUN_TABLES = {"rfm": "loyalty_rfm", "score": "loyalty_scores", "churn": "loyalty_churn", "clv": "loyalty_clv"}


def run_delete_rows(table: str) -> str:
    """DELETE of one run's rows from a per-kind table (``table`` is one of ``RUN_TABLES``, never user input)."""
    return f"DELETE FROM {table} WHERE run_id = ?"


def latest_run_sql(kind: str) -> str:
    """SQL for the id of the newest stored run of ``kind`` as of ``:as_of`` (for fields)."""
    return (
        f"(SELECT lr.id FROM loyalty_runs lr WHERE lr.kind = '{kind}' AND lr.as_of <= :as_of "
        "ORDER BY lr.as_of DESC, lr.id DESC LIMIT 1)"
    )


def run_value_sql(kind: str, table: str, column: str) -> str:
    """A per-customer value from the newest stored run of ``kind`` as of ``:as_of``."""
    return f"(SELECT t.{column} FROM {table} t WHERE t.customer_id = c.id AND t.run_id = {latest_run_sql(kind)})"


# --- RFM ----------------------------------------------------------------------------------------


def rfm_aggregate(in_list: str, out_list: str, calendar) -> str:
    """One row per customer with a purchase up to :as_of: recency (whole days on ``calendar``'s
    wall clock), frequency and net spend in the window (:start, :as_of]. Every column is an
    integer on both engines (PostgreSQL's sum of bigints is numeric, which a driver reads a value
    at a time in Python)."""
    is_in = f"i.kind IN ({in_list})"
    return f"""
        SELECT i.customer_id,
            CAST({calendar.days_sql(f'MAX(CASE WHEN {is_in} THEN i.occurred_at END)', ':as_of')} AS INTEGER),
            SUM(CASE WHEN {is_in} AND i.occurred_at > :start THEN 1 ELSE 0 END),
            CAST(COALESCE(SUM(CASE WHEN i.occurred_at > :start THEN {signed(in_list, out_list)} END), 0) AS INTEGER)
        FROM interactions i
        WHERE i.occurred_at <= :as_of AND {money_kinds(in_list, out_list)}
        GROUP BY i.customer_id
        HAVING MAX(CASE WHEN {is_in} THEN 1 END) = 1
    """


RFM_INSERT = (
    "INSERT INTO loyalty_rfm(run_id, customer_id, recency_days, frequency, monetary, r, f, m, code, score, segment) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
RFM_ROWS = """
    SELECT customer_id, recency_days, frequency, monetary, r, f, m, code, score, segment
    FROM loyalty_rfm WHERE run_id = :run AND (customer_id = :customer OR :customer IS NULL)
    ORDER BY customer_id LIMIT :limit OFFSET :offset
"""
RFM_DISTRIBUTION = """
    SELECT segment, COUNT(*), SUM(monetary), AVG(recency_days), AVG(frequency)
    FROM loyalty_rfm WHERE run_id = ? GROUP BY segment ORDER BY COUNT(*) DESC, segment
"""
RFM_MOVEMENT = """
    SELECT COALESCE(a.segment, 'not scored'), COALESCE(b.segment, 'not scored'), COUNT(*)
    FROM (SELECT customer_id FROM loyalty_rfm WHERE run_id = :a
          UNION SELECT customer_id FROM loyalty_rfm WHERE run_id = :b) ids
    LEFT JOIN loyalty_rfm a ON a.run_id = :a AND a.customer_id = ids.customer_id
    LEFT JOIN loyalty_rfm b ON b.run_id = :b AND b.customer_id = ids.customer_id
    GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2
"""
RFM_MOVERS = """
    SELECT ids.customer_id, a.segment, b.segment
    FROM (SELECT customer_id FROM loyalty_rfm WHERE run_id = :a
          UNION SELECT customer_id FROM loyalty_rfm WHERE run_id = :b) ids
    LEFT JOIN loyalty_rfm a ON a.run_id = :a AND a.customer_id = ids.customer_id
    LEFT JOIN loyalty_rfm b ON b.run_id = :b AND b.customer_id = ids.customer_id
    WHERE a.segment IS NOT b.segment
      AND (a.segment = :from_segment OR :from_segment IS NULL)
      AND (b.segment = :to_segment OR :to_segment IS NULL)
    ORDER BY ids.customer_id
"""


def net_spend_per_customer(in_list: str, out_list: str) -> str:
    """Net spend of every customer with a purchase in (:start, :as_of]."""
    return f"""
        SELECT i.customer_id, SUM({signed(in_list, out_list)})
        FROM interactions i
        WHERE i.occurred_at > :start AND i.occurred_at <= :as_of AND {money_kinds(in_list, out_list)}
        GROUP BY i.customer_id
        HAVING MAX(CASE WHEN i.kind IN ({in_list}) THEN 1 END) = 1
    """


# --- tiers --------------------------------------------------------------------------------------

TIERS_LIST = "SELECT name, rank, rule, benefits, multiplier_milli FROM loyalty_tiers ORDER BY rank"
TIERS_DELETE = "DELETE FROM loyalty_tiers"
TIERS_INSERT = "INSERT INTO loyalty_tiers(name, rank, rule, benefits, multiplier_milli) VALUES (?, ?, ?, ?, ?)"
TIER_LAST_EVALUATION = "SELECT MAX(as_of) FROM loyalty_tier_history"
TIER_QUALIFIED_CREATE = (
    "CREATE TEMP TABLE IF NOT EXISTS loyalty_qualified (customer_id INTEGER PRIMARY KEY, rank INTEGER NOT NULL)"
)
TIER_QUALIFIED_CLEAR = "DELETE FROM loyalty_qualified"


def tier_qualify(id_query: str) -> str:
    """Give the members of a tier's rule that tier's rank, unless a higher one was given."""
    return f"INSERT OR IGNORE INTO loyalty_qualified(customer_id, rank) SELECT id, :_lt_rank FROM ({id_query}) AS qualified"


CURRENT_TIER = """
    SELECT customer_id, to_tier, as_of FROM (
        SELECT h.customer_id, h.to_tier, h.as_of,
               ROW_NUMBER() OVER (PARTITION BY h.customer_id ORDER BY h.as_of DESC, h.id DESC) AS rn
        FROM loyalty_tier_history h WHERE h.as_of <= :as_of
    ) AS latest WHERE rn = 1
"""


def tier_changes(in_list: str, out_list: str, calendar) -> str:
    """Insert one history row per customer whose tier changes under the downgrade policy
    (``review``: after :review_days whole days on ``calendar``'s wall clock in the tier)."""
    return f"""
        INSERT INTO loyalty_tier_history(customer_id, as_of, from_tier, to_tier, direction, reason)
        WITH current AS ({CURRENT_TIER}),
        state AS (
            SELECT ids.customer_id,
                   cur.to_tier AS cur_tier, cur.as_of AS since,
                   COALESCE(ct.rank, 0) AS cur_rank,
                   COALESCE(q.rank, 0) AS new_rank
            FROM (SELECT customer_id FROM loyalty_qualified
                  UNION SELECT customer_id FROM current WHERE to_tier IS NOT NULL) ids
            LEFT JOIN current cur ON cur.customer_id = ids.customer_id
            LEFT JOIN loyalty_tiers ct ON ct.name = cur.to_tier
            LEFT JOIN loyalty_qualified q ON q.customer_id = ids.customer_id
        ),
        decided AS (
            SELECT s.*, nt.name AS new_tier,
                CASE
                    WHEN s.cur_tier IS NOT NULL AND s.cur_rank = 0 THEN 'removed'
                    WHEN s.new_rank > s.cur_rank THEN 'upgrade'
                    WHEN s.new_rank = s.cur_rank THEN NULL
                    WHEN :policy = 'never' THEN NULL
                    WHEN :policy = 'on_returns' AND EXISTS (
                        SELECT 1 FROM interactions r
                        WHERE r.customer_id = s.customer_id AND r.kind IN ({out_list})
                          AND r.occurred_at > s.since AND r.occurred_at <= :as_of) THEN 'downgrade'
                    WHEN :policy = 'review' AND {calendar.days_sql('s.since', ':as_of')} >= :review_days THEN 'downgrade'
                    ELSE NULL
                END AS change
            FROM state s LEFT JOIN loyalty_tiers nt ON nt.rank = s.new_rank
        )
        SELECT customer_id, :as_of, cur_tier, new_tier,
               CASE WHEN change = 'removed' THEN 'downgrade' ELSE change END,
               CASE change
                   WHEN 'upgrade' THEN 'qualifies for ' || new_tier || ': ' ||
                        (SELECT rule FROM loyalty_tiers WHERE name = new_tier)
                   WHEN 'removed' THEN 'tier ' || cur_tier || ' is no longer defined'
                   ELSE 'no longer qualifies for ' || cur_tier || ' (downgrade policy ' || :policy || ')'
               END
        FROM decided
        WHERE change IS NOT NULL
        ORDER BY customer_id
    """


TIER_HISTORY_SINCE = """
    SELECT id, customer_id, as_of, from_tier, to_tier, direction, reason
    FROM loyalty_tier_history WHERE id > ? ORDER BY id
"""
TIER_HISTORY_OF = """
    SELECT id, customer_id, as_of, from_tier, to_tier, direction, reason
    FROM loyalty_tier_history WHERE customer_id = ? ORDER BY as_of, id
"""
TIER_MAX_HISTORY_ID = "SELECT COALESCE(MAX(id), 0) FROM loyalty_tier_history"
TIER_MOVEMENT = """
    SELECT direction, COALESCE(from_tier, '-'), COALESCE(to_tier, '-'), COUNT(*)
    FROM loyalty_tier_history WHERE as_of > :since AND as_of <= :until
    GROUP BY 1, 2, 3 ORDER BY 1, 4 DESC
"""
TIER_COUNTS = f"""
    SELECT cur.to_tier, COUNT(*) FROM ({CURRENT_TIER}) cur
    WHERE cur.to_tier IS NOT NULL GROUP BY cur.to_tier
"""
TIER_OF = """
    SELECT to_tier FROM loyalty_tier_history WHERE customer_id = :cid AND as_of <= :as_of
    ORDER BY as_of DESC, id DESC LIMIT 1
"""
TIER_OF_SQL = """
    (SELECT h.to_tier FROM loyalty_tier_history h WHERE h.customer_id = c.id AND h.as_of <= :as_of
     ORDER BY h.as_of DESC, h.id DESC LIMIT 1)
"""

# --- points -------------------------------------------------------------------------------------

# The tier a purchase's customer held at its time. While no customer has ever held a tier (a
# history being loaded before the first evaluation) the uncorrelated EXISTS, read once per
# statement, spares every purchase the lookup: over 1M purchases the earn statement took about
# as long as one without the join, against 0.5-0.9 s more with the lookup.
_TIER_AT_PURCHASE = """
    CASE WHEN EXISTS (SELECT 1 FROM loyalty_tier_history) THEN
    (SELECT h.to_tier FROM loyalty_tier_history h WHERE h.customer_id = i.customer_id
     AND h.as_of <= i.occurred_at ORDER BY h.as_of DESC, h.id DESC LIMIT 1) END
"""


def points_earn(in_list: str, dates) -> str:
    """Earn one batch per purchase of the id range, at rate × the tier multiplier (floor);
    ``dates`` (a :class:`~crmkit_loyalty.localdays.BatchDates`) gives the unlock and expiry times.

    An earn row stores only what its purchase does not say (see ``LEDGER_COLUMNS``): no key (the
    unique index on the purchase's id keeps a purchase from earning twice), a reason only when a
    tier multiplied the points, an unlock time only when it differs from the purchase's time."""
    points = "(i.amount * :rate_milli * COALESCE(t.multiplier_milli, 1000)) / :divisor"
    return f"""
        INSERT OR IGNORE INTO loyalty_points(customer_id, kind, points, occurred_at, available_at,
            expires_at, interaction_id, reason, created_at)
        SELECT i.customer_id, 'earn', {points}, i.occurred_at, NULLIF({dates.available_at}, i.occurred_at),
               {dates.expires_at}, i.id, 'purchase ' || i.id || ' (tier ' || t.name || ')', :now
        FROM (SELECT i.* {dates.source(f"i.id BETWEEN :first AND :last AND {unindexed('i.kind')} IN ({in_list})")}) AS i
        LEFT JOIN loyalty_tiers t ON t.name = {_TIER_AT_PURCHASE}
        WHERE {points} > 0
    """


def points_bonus(dates, segment_ids: str | None) -> str:
    """Earn a rule's fixed bonus for every interaction of its kind in the id range."""
    only = f" AND i.customer_id IN ({segment_ids})" if segment_ids else ""
    return f"""
        INSERT OR IGNORE INTO loyalty_points(customer_id, kind, points, occurred_at, available_at,
            expires_at, interaction_id, key, reason, created_at)
        SELECT i.customer_id, 'bonus', :_lb_points, i.occurred_at, NULLIF({dates.available_at}, i.occurred_at),
               {dates.expires_at}, i.id, 'bonus:' || :_lb_name || ':' || i.id, 'bonus ' || :_lb_name, :now
        {dates.source(f"i.id BETWEEN :first AND :last AND {unindexed('i.kind')} = :_lb_kind{only}")}
    """


def refunds_in_range(out_list: str) -> str:
    """Refund-kind interactions with ids in [:first, :last] not yet clawed back, oldest id first.

    Each row: id, customer_id, amount (minor units), occurred_at, and the refunded ``purchase_id`` from data.
    """
    return f"""
        SELECT i.id, i.customer_id, i.amount, i.occurred_at,
               CAST({json_get('i.data', '$.purchase_id')} AS INTEGER)
        FROM interactions i
        WHERE i.id BETWEEN :first AND :last AND {unindexed('i.kind')} IN ({out_list})
          AND NOT EXISTS (SELECT 1 FROM loyalty_points p WHERE p.key = 'clawback:' || i.id)
        ORDER BY i.id
    """


# A purchase's earn row is found through the unique (interaction_id) index of earn rows; its bonus
# and clawback rows through the (interaction_id) index of keyed rows (every row but an earn row has a key).
PURCHASE_FOR_REFUND = """
    SELECT i.amount,
           (SELECT COALESCE(SUM(p.points), 0) FROM loyalty_points p
            WHERE p.interaction_id = i.id AND p.kind = 'earn')
         + (SELECT COALESCE(SUM(p.points), 0) FROM loyalty_points p
            WHERE p.interaction_id = i.id AND p.key IS NOT NULL AND p.kind = 'bonus'),
           (SELECT COALESCE(SUM(-p.points), 0) FROM loyalty_points p
            WHERE p.interaction_id = i.id AND p.key IS NOT NULL AND p.kind = 'clawback')
    FROM interactions i WHERE i.id = ? AND i.customer_id = ?
"""

_ALLOCATED = "(SELECT COALESCE(SUM(a.points), 0) FROM loyalty_point_allocations a WHERE a.batch_id = b.id)"
# What debits other than its expiry took from a batch. A debit dated before the batch expired
# may take what its expiry entry claimed: an expiry posts what is left at the expiry time, and a
# debit recorded late (dated back) leaves less (see ``Points._shrink_expiries``).
_SPENT = """
    (SELECT COALESCE(SUM(a.points), 0) FROM loyalty_point_allocations a
     JOIN loyalty_points d ON d.id = a.entry_id WHERE a.batch_id = b.id AND d.kind <> 'expire')
"""

SPENDABLE_BATCHES = f"""
    SELECT b.id, b.points - {_SPENT} AS remaining
    FROM loyalty_points b
    WHERE b.customer_id = :customer AND b.points > 0 AND b.occurred_at <= :at
      AND COALESCE(b.available_at, b.occurred_at) <= :at AND (b.expires_at IS NULL OR b.expires_at > :at)
      AND b.points - {_SPENT} > 0
    ORDER BY b.expires_at IS NULL, b.expires_at, b.occurred_at, b.id
"""
CLAWBACK_BATCHES = f"""
    SELECT b.id, b.points - {_SPENT} AS remaining
    FROM loyalty_points b
    WHERE b.customer_id = :customer AND b.points > 0 AND b.occurred_at <= :at
      AND (b.expires_at IS NULL OR b.expires_at > :at)
      AND b.points - {_SPENT} > 0
    ORDER BY (b.interaction_id IS NOT :purchase), b.expires_at IS NULL, b.expires_at, b.occurred_at, b.id
"""
# A batch's expiry entry, if posted, and what the batch really had left at its expiry:
# (entry id, points the entry took, points the batch's other debits left).
BATCH_EXPIRY = f"""
    SELECT e.id, -e.points, b.points - {_SPENT}
    FROM loyalty_points e JOIN loyalty_points b ON b.id = e.batch_id
    WHERE e.kind = 'expire' AND e.batch_id = :batch
"""
EXPIRY_SET = "UPDATE loyalty_points SET points = :points WHERE id = :entry"
EXPIRY_ALLOCATION_SET = "UPDATE loyalty_point_allocations SET points = :points WHERE entry_id = :entry"
EXPIRY_ALLOCATION_DELETE = "DELETE FROM loyalty_point_allocations WHERE entry_id = :entry"
EXPIRY_DELETE = "DELETE FROM loyalty_points WHERE id = :entry"
POINTS_ENTRY_INSERT = """
    INSERT INTO loyalty_points(customer_id, kind, points, occurred_at, available_at, expires_at,
        interaction_id, batch_id, key, reason, note, created_at)
    VALUES (:customer_id, :kind, :points, :occurred_at, :available_at, :expires_at,
        :interaction_id, :batch_id, :key, :reason, :note, :created_at)
"""
ALLOCATION_INSERT = "INSERT INTO loyalty_point_allocations(entry_id, batch_id, points) VALUES (?, ?, ?)"
#: A ledger row as the API shows it. What an earn row leaves out is read back from what it keeps:
#: its key is ``earn:<purchase id>``, its reason ``purchase <id>`` (stored only with a tier's
#: name), and a row without an unlock time was spendable when it occurred.
LEDGER_COLUMNS = """
    p.id, p.customer_id, p.kind, p.points, p.occurred_at,
    COALESCE(p.available_at, p.occurred_at) AS available_at, p.expires_at, p.interaction_id, p.batch_id,
    COALESCE(p.key, 'earn:' || p.interaction_id) AS key,
    COALESCE(p.reason, CASE WHEN p.kind = 'earn' THEN 'purchase ' || p.interaction_id END) AS reason,
    p.note, p.created_at
"""
POINTS_BY_KEY = f"SELECT {LEDGER_COLUMNS} FROM loyalty_points p WHERE p.key = ?"
POINTS_BY_EARNING = f"SELECT {LEDGER_COLUMNS} FROM loyalty_points p WHERE p.interaction_id = ? AND p.kind = 'earn'"
POINTS_BY_ID = f"SELECT {LEDGER_COLUMNS} FROM loyalty_points p WHERE p.id = ?"
POINTS_ENTRIES = f"""
    SELECT {LEDGER_COLUMNS} FROM loyalty_points p WHERE p.customer_id = ? ORDER BY p.occurred_at, p.id LIMIT ? OFFSET ?
"""
POINTS_BATCHES = f"""
    SELECT b.id, b.kind, b.points, b.occurred_at, COALESCE(b.available_at, b.occurred_at), b.expires_at,
           b.points - {_ALLOCATED} AS remaining
    FROM loyalty_points b WHERE b.customer_id = ? AND b.points > 0
    ORDER BY b.expires_at IS NULL, b.expires_at, b.occurred_at, b.id
"""

_ALLOCATED_BY = """
    (SELECT COALESCE(SUM(a.points), 0) FROM loyalty_point_allocations a
     JOIN loyalty_points d ON d.id = a.entry_id
     WHERE a.batch_id = b.id AND d.occurred_at <= :as_of)
"""


def balance_sql(customer: str = "c.id") -> str:
    """Spendable points of a customer as of :as_of: unlocked, unexpired batches minus what
    debits up to :as_of took from them."""
    return f"""
        (SELECT COALESCE(SUM(b.points - {_ALLOCATED_BY}), 0) FROM loyalty_points b
         WHERE b.customer_id = {customer} AND b.points > 0 AND b.occurred_at <= :as_of
           AND COALESCE(b.available_at, b.occurred_at) <= :as_of AND (b.expires_at IS NULL OR b.expires_at > :as_of))
    """


def locked_sql(customer: str = "c.id") -> str:
    """Points earned up to :as_of that are still locked (not yet spendable)."""
    return f"""
        (SELECT COALESCE(SUM(b.points - {_ALLOCATED_BY}), 0) FROM loyalty_points b
         WHERE b.customer_id = {customer} AND b.points > 0 AND b.occurred_at <= :as_of
           AND b.available_at > :as_of)
    """


POINTS_LIABILITY = f"""
    SELECT
        COALESCE(SUM(CASE WHEN COALESCE(b.available_at, b.occurred_at) <= :as_of THEN b.points - {_ALLOCATED_BY} END), 0),
        COALESCE(SUM(CASE WHEN b.available_at > :as_of THEN b.points - {_ALLOCATED_BY} END), 0),
        COUNT(DISTINCT CASE WHEN b.points - {_ALLOCATED_BY} > 0 THEN b.customer_id END)
    FROM loyalty_points b
    WHERE b.points > 0 AND b.occurred_at <= :as_of AND (b.expires_at IS NULL OR b.expires_at > :as_of)
"""
POINTS_FLOWS = """
    SELECT kind, COALESCE(SUM(points), 0), COUNT(*) FROM loyalty_points
    WHERE occurred_at > :since AND occurred_at <= :as_of GROUP BY kind ORDER BY kind
"""


def points_earned_sql(crm, days: int) -> str:
    """Points earned (earn + bonus - clawback) in the ``days`` local days up to :as_of."""
    return f"""
        (SELECT COALESCE(SUM(p.points), 0) FROM loyalty_points p
         WHERE p.customer_id = c.id AND p.kind IN ('earn', 'bonus', 'clawback')
           AND p.occurred_at > {days_later_sql(crm, ':as_of', -days)} AND p.occurred_at <= :as_of)
    """


POINTS_EXPIRE = f"""
    INSERT OR IGNORE INTO loyalty_points(customer_id, kind, points, occurred_at,
        batch_id, key, reason, created_at)
    SELECT b.customer_id, 'expire', -(b.points - {_ALLOCATED}), b.expires_at,
           b.id, 'expire:' || b.id, 'batch ' || b.id || ' expired', :now
    FROM loyalty_points b
    WHERE b.points > 0 AND b.expires_at IS NOT NULL AND b.expires_at <= :now
      AND b.points - {_ALLOCATED} > 0
"""
POINTS_EXPIRE_ALLOCATE = """
    INSERT INTO loyalty_point_allocations(entry_id, batch_id, points)
    SELECT e.id, e.batch_id, -e.points FROM loyalty_points e
    WHERE e.kind = 'expire' AND NOT EXISTS (SELECT 1 FROM loyalty_point_allocations a WHERE a.entry_id = e.id)
"""

# --- loyalty score ------------------------------------------------------------------------------


def score_inputs(in_list: str, calendar) -> str:
    """Per customer with a purchase: the raw inputs of the loyalty score's parts (days are
    whole days on ``calendar``'s wall clock, as ``last_purchase_days`` counts them)."""
    is_in = f"i.kind IN ({in_list})"

    def days(earlier_sql: str, later_sql: str) -> str:
        return f"CAST({calendar.days_sql(earlier_sql, later_sql)} AS INTEGER)"

    return f"""
        SELECT i.customer_id,
            {days(f'MIN(CASE WHEN {is_in} THEN i.occurred_at END)', ':as_of')} AS tenure_days,
            SUM(CASE WHEN {is_in} THEN 1 ELSE 0 END) AS purchases,
            {days(f'MIN(CASE WHEN {is_in} THEN i.occurred_at END)', f'MAX(CASE WHEN {is_in} THEN i.occurred_at END)')} AS active_days,
            {days(f'MAX(CASE WHEN {is_in} THEN i.occurred_at END)', ':as_of')} AS idle_days,
            COALESCE(SUM(CASE WHEN {is_in} AND i.occurred_at > :year_ago THEN i.amount END), 0) AS spend_365d,
            AVG(CASE WHEN i.kind = 'survey' THEN {json_get_number_param('i.data', "'$.score'")} END) AS satisfaction,
            SUM(CASE WHEN i.kind = 'referral' THEN 1 ELSE 0 END) AS referrals,
            MIN(CASE WHEN i.kind = 'complaint' THEN i.occurred_at END) AS first_complaint,
            MAX(CASE WHEN {is_in} THEN i.occurred_at END) AS last_purchase,
            (SELECT {json_get('c.attributes', '$.wallet_estimate')} FROM customers c WHERE c.id = i.customer_id) AS wallet
        FROM interactions i
        WHERE i.occurred_at <= :as_of
        GROUP BY i.customer_id
        HAVING SUM(CASE WHEN {is_in} THEN 1 ELSE 0 END) > 0
        ORDER BY i.customer_id
    """


SCORE_INSERT = (
    "INSERT INTO loyalty_scores(run_id, customer_id, score, tenure, repeat, rhythm, wallet, satisfaction, "
    "referrals, retention) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SCORE_ROWS = """
    SELECT customer_id, score, tenure, repeat, rhythm, wallet, satisfaction, referrals, retention
    FROM loyalty_scores WHERE run_id = :run AND (customer_id = :customer OR :customer IS NULL)
    ORDER BY customer_id LIMIT :limit OFFSET :offset
"""

# --- churn --------------------------------------------------------------------------------------

CHURN_CLAIMS_CREATE = "CREATE TEMP TABLE IF NOT EXISTS loyalty_churn_claims (customer_id INTEGER PRIMARY KEY, class INTEGER NOT NULL)"
CHURN_CLAIMS_CLEAR = "DELETE FROM loyalty_churn_claims"


def churn_claim(id_query: str | None) -> str:
    """Claim a class's members for it, unless an earlier class claimed them."""
    source = f"({id_query}) AS claimed" if id_query else "customers"
    return f"INSERT OR IGNORE INTO loyalty_churn_claims(customer_id, class) SELECT id, :_lc_class FROM {source}"


def churn_evaluate(in_list: str, out_list: str, calendar) -> str:
    """Signals, score and evidence of every purchasing customer of one class, into loyalty_churn.

    Days since the last purchase and the typical gap are days on ``calendar``'s wall clock; the
    spend periods start at :_lc_recent and :_lc_previous.
    """
    is_in = f"i.kind IN ({in_list})"
    recent_start = ":_lc_recent"
    previous_start = ":_lc_previous"
    money = signed(in_list, out_list)
    return f"""
        INSERT INTO loyalty_churn(run_id, customer_id, class, level, score, evidence)
        WITH members AS (SELECT customer_id FROM loyalty_churn_claims WHERE class = :_lc_class),
        p AS (
            SELECT i.customer_id,
                MIN(CASE WHEN {is_in} THEN i.occurred_at END) AS first_at,
                MAX(CASE WHEN {is_in} THEN i.occurred_at END) AS last_at,
                SUM(CASE WHEN {is_in} THEN 1 ELSE 0 END) AS n,
                COALESCE(SUM(CASE WHEN i.occurred_at > {recent_start} THEN {money} END), 0) AS recent,
                COALESCE(SUM(CASE WHEN i.occurred_at > {previous_start} AND i.occurred_at <= {recent_start}
                                  THEN {money} END), 0) AS previous
            FROM interactions i
            WHERE i.occurred_at <= :as_of AND (i.kind IN ({in_list}) OR i.kind IN ({out_list}))
              AND i.customer_id IN (SELECT customer_id FROM members)
            GROUP BY i.customer_id HAVING SUM(CASE WHEN {is_in} THEN 1 ELSE 0 END) > 0
        ),
        lost AS (
            SELECT customer_id, json_group_array(category) AS categories FROM (
                SELECT i.customer_id, i.category FROM interactions i
                WHERE {is_in} AND i.category IS NOT NULL AND i.occurred_at > {previous_start}
                  AND i.occurred_at <= :as_of AND i.customer_id IN (SELECT customer_id FROM members)
                GROUP BY i.customer_id, i.category
                HAVING SUM(i.occurred_at <= {recent_start}) >= :_lc_uses AND SUM(i.occurred_at > {recent_start}) = 0
                ORDER BY i.customer_id, i.category
            ) AS used GROUP BY customer_id
        ),
        s AS (
            SELECT p.*, l.categories,
                {calendar.days_sql('p.last_at', ':as_of')} AS idle,
                CASE WHEN p.n >= 2 THEN {calendar.days_sql('p.first_at', 'p.last_at')} / (p.n - 1) END AS gap
            FROM p LEFT JOIN lost l ON l.customer_id = p.customer_id
        ),
        f AS (
            SELECT s.*,
                CASE WHEN s.idle > :_lc_max_days THEN 1 ELSE 0 END AS inactive,
                CASE WHEN s.n >= :_lc_min_n AND s.idle > :_lc_gap_factor * s.gap THEN 1 ELSE 0 END AS rhythm,
                CASE WHEN s.previous > 0 AND s.recent * 100 < s.previous * (100 - :_lc_drop) THEN 1 ELSE 0 END AS spend_drop,
                CASE WHEN s.categories IS NOT NULL THEN 1 ELSE 0 END AS lost_category
            FROM s
        ),
        g AS (
            SELECT f.*, 40 * inactive + 25 * rhythm + 20 * spend_drop + 15 * lost_category AS score FROM f
        )
        SELECT :_lc_run, customer_id, :_lc_name,
            CASE WHEN score >= 50 THEN 'high' WHEN score >= 25 THEN 'medium' ELSE 'low' END,
            score,
            json_object(
                'signals', rtrim(
                    CASE WHEN inactive = 1 THEN 'inactive,' ELSE '' END || CASE WHEN rhythm = 1 THEN 'rhythm,' ELSE '' END ||
                    CASE WHEN spend_drop = 1 THEN 'spend_drop,' ELSE '' END || CASE WHEN lost_category = 1 THEN 'lost_category,' ELSE '' END,
                    ','),
                'last_purchase_at', last_at, 'days_since_purchase', CAST(idle AS INTEGER),
                'typical_gap_days', round(gap, 1), 'purchases', n,
                'spend_recent', recent, 'spend_previous', previous,
                'lost_categories', json(COALESCE(categories, '[]')))
        FROM g WHERE score > 0
    """


CHURN_ROWS = """
    SELECT k.customer_id, k.class, k.level, k.score, k.evidence, c.owner
    FROM loyalty_churn k JOIN customers c ON c.id = k.customer_id
    WHERE k.run_id = :run AND (k.score >= :min_score OR :min_score IS NULL)
    ORDER BY k.score DESC, k.customer_id LIMIT :limit OFFSET :offset
"""
CHURN_LEVELS = "SELECT level, COUNT(*) FROM loyalty_churn WHERE run_id = ? GROUP BY level"
EXISTING_TASK_KEYS = "SELECT key FROM tasks WHERE key LIKE ? ESCAPE '\\'"

# --- lifecycle ----------------------------------------------------------------------------------


def lifecycle_sql(crm, in_list: str, out_list: str, rules) -> str:
    """The lifecycle stage of customer ``c`` as of :as_of (one aggregate over its history);
    days are whole days on the home zone's wall clock, periods whole local days back."""
    is_in = f"i.kind IN ({in_list})"
    money = signed(in_list, out_list)
    calendar = crm.calendar
    recent_start = days_later_sql(crm, ":as_of", -rules.period_days)
    previous_start = days_later_sql(crm, ":as_of", -2 * rules.period_days)
    recent = f"COALESCE(SUM(CASE WHEN i.occurred_at > {recent_start} THEN {money} END), 0)"
    previous = f"COALESCE(SUM(CASE WHEN i.occurred_at > {previous_start} AND i.occurred_at <= {recent_start} THEN {money} END), 0)"
    return f"""
        (SELECT CASE
            WHEN MAX(CASE WHEN {is_in} THEN 1 END) IS NULL THEN 'prospect'
            WHEN {calendar.days_sql(f'MAX(CASE WHEN {is_in} THEN i.occurred_at END)', ':as_of')} > {int(rules.churned_days)} THEN 'churned'
            WHEN {calendar.days_sql(f'MIN(CASE WHEN {is_in} THEN i.occurred_at END)', ':as_of')} <= {int(rules.new_days)} THEN 'new'
            WHEN {recent} * 100 < {previous} * {100 - int(rules.decline_percent)} THEN 'declining'
            WHEN {recent} * 100 > {previous} * {100 + int(rules.growth_percent)} THEN 'growing'
            ELSE 'mature' END
         FROM interactions i
         WHERE i.customer_id = c.id AND i.occurred_at <= :as_of AND (i.kind IN ({in_list}) OR i.kind IN ({out_list})))
    """


# --- cadence ------------------------------------------------------------------------------------


def cadence_candidates(unless_list: str, segment_ids: str | None) -> str:
    """Customers whose latest ``kind`` interaction became due in (:lo, :hi] with nothing of
    the ``unless`` kinds since; ``key`` identifies the case."""
    only = f" AND t.customer_id IN ({segment_ids})" if segment_ids else ""
    return f"""
        WITH t AS (
            SELECT i.customer_id, MAX(i.occurred_at) AS at FROM interactions i
            WHERE i.kind = :_lk_kind AND i.occurred_at > :_lk_lo AND i.occurred_at <= :now
            GROUP BY i.customer_id HAVING MAX(i.occurred_at) <= :_lk_hi
        )
        SELECT t.customer_id, c.owner, t.at, :_lk_prefix || t.customer_id || ':' || t.at AS key
        FROM t JOIN customers c ON c.id = t.customer_id
        WHERE NOT EXISTS (
            SELECT 1 FROM interactions u WHERE u.customer_id = t.customer_id
              AND u.kind IN ({unless_list}) AND u.occurred_at > t.at AND u.occurred_at <= :now)
          AND (:_lk_prefix || t.customer_id || ':' || t.at) NOT IN (
            SELECT key FROM tasks WHERE key LIKE :_lk_like ESCAPE '\\'){only}
        ORDER BY t.customer_id
    """


# --- cross-sell ---------------------------------------------------------------------------------


def _baskets(in_list: str) -> str:
    return f"""baskets AS (
        SELECT DISTINCT i.customer_id, i.category FROM interactions i
        WHERE i.kind IN ({in_list}) AND i.category IS NOT NULL AND i.occurred_at <= :as_of)"""


def association_rules(in_list: str) -> str:
    """Rules A -> B between categories bought by the same customers, with support,
    confidence and lift, filtered by :min_support, :min_confidence and :min_count."""
    return f"""
        WITH {_baskets(in_list)},
        n AS (SELECT COUNT(DISTINCT customer_id) AS n FROM baskets),
        single AS (SELECT category, COUNT(*) AS cnt FROM baskets GROUP BY category),
        pairs AS (
            SELECT a.category AS ante, b.category AS cons, COUNT(*) AS both_count
            FROM baskets a JOIN baskets b ON a.customer_id = b.customer_id AND a.category <> b.category
            GROUP BY a.category, b.category
        )
        SELECT p.ante, p.cons, p.both_count, sa.cnt, sb.cnt, n.n,
               1.0 * p.both_count / n.n AS support,
               1.0 * p.both_count / sa.cnt AS confidence,
               (1.0 * p.both_count / sa.cnt) / (1.0 * sb.cnt / n.n) AS lift
        FROM pairs p JOIN single sa ON sa.category = p.ante JOIN single sb ON sb.category = p.cons, n
        WHERE p.both_count >= :min_count AND 1.0 * p.both_count / n.n >= :min_support
          AND 1.0 * p.both_count / sa.cnt >= :min_confidence
        ORDER BY lift DESC, confidence DESC, p.ante, p.cons
    """


def recommendations(in_list: str) -> str:
    """For each customer, categories not bought yet with the strongest rule behind each."""
    return f"""
        WITH rules AS ({association_rules(in_list)}),
        {_baskets(in_list)},
        ranked AS (
            SELECT o.customer_id, r.cons AS category, r.ante AS because, r.confidence, r.lift, r.support,
                   ROW_NUMBER() OVER (PARTITION BY o.customer_id, r.cons
                                      ORDER BY r.confidence DESC, r.lift DESC, r.ante) AS rn
            FROM baskets o JOIN rules r ON r.ante = o.category
            WHERE (o.customer_id = :customer OR :customer IS NULL)
              AND NOT EXISTS (SELECT 1 FROM baskets o2 WHERE o2.customer_id = o.customer_id AND o2.category = r.cons)
        ),
        best AS (
            SELECT *, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY confidence DESC, lift DESC, category) AS pick
            FROM ranked WHERE rn = 1
        )
        SELECT b.customer_id, b.category, b.because, b.confidence, b.lift, b.support, c.owner
        FROM best b JOIN customers c ON c.id = b.customer_id
        WHERE b.pick <= :per_customer
        ORDER BY b.customer_id, b.pick
    """


def field_values(field_sql: str, id_query: str) -> str:
    """A field's value for each member of a rule."""
    return (
        f"SELECT c.id, ({field_sql}) FROM customers c LEFT JOIN customer_summary s ON s.customer_id = c.id "
        f"WHERE c.id IN ({id_query}) ORDER BY c.id"
    )


# --- referrals and value ------------------------------------------------------------------------


def referral_value(in_list: str, out_list: str) -> str:
    """Per referrer: customers referred (first referral counts), their net revenue and the
    referrer's own net revenue, as of :as_of."""
    return f"""
        WITH refs AS (
            SELECT referrer, referred FROM (
                SELECT i.customer_id AS referrer,
                       CAST({json_get('i.data', '$.referred_customer_id')} AS INTEGER) AS referred,
                       ROW_NUMBER() OVER (PARTITION BY {json_get('i.data', '$.referred_customer_id')}
                                          ORDER BY i.occurred_at, i.id) AS rn
                FROM interactions i
                WHERE i.kind = 'referral' AND i.occurred_at <= :as_of
                  AND {json_get('i.data', '$.referred_customer_id')} IS NOT NULL
            ) AS firsts WHERE rn = 1 AND referred <> referrer AND referred IN (SELECT id FROM customers)
        ),
        net AS (
            SELECT i.customer_id, SUM({signed(in_list, out_list)}) AS revenue FROM interactions i
            WHERE i.occurred_at <= :as_of AND (i.kind IN ({in_list}) OR i.kind IN ({out_list}))
              AND (i.customer_id IN (SELECT referrer FROM refs) OR i.customer_id IN (SELECT referred FROM refs))
            GROUP BY i.customer_id
        )
        SELECT r.referrer, COUNT(*), COALESCE(SUM(n.revenue), 0),
               COALESCE((SELECT revenue FROM net WHERE net.customer_id = r.referrer), 0),
               json_group_array(r.referred)
        FROM refs r LEFT JOIN net n ON n.customer_id = r.referred
        WHERE (r.referrer = :customer OR :customer IS NULL)
        GROUP BY r.referrer ORDER BY 3 DESC, r.referrer
    """


def clv_summary(in_list: str, out_list: str, calendar) -> str:
    """Per customer with a purchase up to :as_of, in customer order: purchase days after the
    first, days from the first to the last purchase day and from the first purchase day to the
    :as_of day, the value of the repeat days (all purchases less those of the first day) and net
    revenue (purchases less refunds).

    One pass over the covering (customer_id, occurred_at, kind, amount) index grouped per
    customer, without a window or a second grouping per day; the first day's purchases are read
    back through the same index, a short range per repeat customer. Margins are a separate
    statement (``CLV_MARGINS``) that returns only the customers carrying one.

    Days are the home zone's (``calendar``): a purchase day is a local date.
    """
    buy = f"i.kind IN ({in_list})"
    first_day = f"substr({calendar.local_sql('s.first')}, 1, 10)"
    if calendar.is_utc:
        on_first_day = f"j.occurred_at < {shift_days(first_day, 1)}"
    else:  # a local day lasts at most 25 hours: the range keeps to the index, the date decides
        on_first_day = (f"j.occurred_at < {shift_days('s.first', 2)} "
                        f"AND substr({calendar.local_sql('j.occurred_at')}, 1, 10) = {first_day}")
    return f"""
        WITH s AS (
            SELECT i.customer_id,
                   COUNT(DISTINCT CASE WHEN {buy} THEN substr({calendar.local_sql('i.occurred_at')}, 1, 10) END) AS days,
                   MIN(CASE WHEN {buy} THEN i.occurred_at END) AS first,
                   MAX(CASE WHEN {buy} THEN i.occurred_at END) AS last,
                   COALESCE(SUM(CASE WHEN {buy} THEN i.amount END), 0) AS total,
                   COALESCE(SUM(CASE WHEN i.kind IN ({out_list}) THEN i.amount END), 0) AS refunded
            FROM interactions i WHERE {money_kinds(in_list, out_list)} AND i.occurred_at <= :as_of
            GROUP BY i.customer_id
        )
        SELECT s.customer_id, s.days - 1,
               {days_between(first_day, f"substr({calendar.local_sql('s.last')}, 1, 10)")},
               {days_between(first_day, f"substr({calendar.local_sql(':as_of')}, 1, 10)")},
               CASE WHEN s.days > 1 THEN s.total - (
                   SELECT COALESCE(SUM(j.amount), 0) FROM interactions j
                   WHERE j.customer_id = s.customer_id AND j.occurred_at >= s.first
                     AND {on_first_day} AND j.occurred_at <= :as_of
                     AND +j.kind IN ({in_list})
               ) ELSE 0 END,
               s.total - s.refunded
        FROM s WHERE s.first IS NOT NULL
    """


#: Customers carrying a margin attribute, and its raw value (validated in Python).
CLV_MARGINS = f"""
    SELECT c.id, {json_get('c.attributes', '$.margin')} FROM customers c
    WHERE {json_get('c.attributes', '$.margin')} IS NOT NULL ORDER BY c.id
"""


CLV_INSERT = (
    "INSERT INTO loyalty_clv(run_id, customer_id, frequency, recency, age, monetary, historical, "
    "historical_margin, expected_purchases_90d, p_alive, expected_spend, clv) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
CLV_ROWS = """
    SELECT customer_id, frequency, recency, age, monetary, historical, historical_margin,
           expected_purchases_90d, p_alive, expected_spend, clv
    FROM loyalty_clv WHERE run_id = :run AND (customer_id = :customer OR :customer IS NULL)
    ORDER BY clv DESC, customer_id LIMIT :limit OFFSET :offset
"""
CLV_TOTALS = "SELECT COUNT(*), COALESCE(SUM(clv), 0), COALESCE(SUM(historical), 0), AVG(p_alive) FROM loyalty_clv WHERE run_id = ?"
CLV_VALUES = "SELECT clv FROM loyalty_clv WHERE run_id = ? ORDER BY clv"

# --- demo ---------------------------------------------------------------------------------------

POINT_HOLDERS = "SELECT customer_id FROM loyalty_points WHERE points > 0 GROUP BY customer_id ORDER BY customer_id LIMIT ?"

# --- erasure and merges -------------------------------------------------------------------------

FORGET = ["UPDATE loyalty_points SET note = NULL WHERE customer_id = ?"]
MERGE_MOVE = [
    "UPDATE loyalty_points SET customer_id = :kept WHERE customer_id = :merged",
    "UPDATE loyalty_tier_history SET customer_id = :kept WHERE customer_id = :merged",
]
MERGE_RUN_TABLES = ("loyalty_rfm", "loyalty_scores", "loyalty_churn", "loyalty_clv")


def merge_run_rows(table: str) -> list[str]:
    """Stored runs are snapshots: the duplicate's row moves only where the kept customer has none."""
    return [
        f"DELETE FROM {table} WHERE customer_id = :merged AND run_id IN (SELECT run_id FROM {table} WHERE customer_id = :kept)",
        f"UPDATE {table} SET customer_id = :kept WHERE customer_id = :merged",
    ]
