"""Every SQL statement of the leads plugin.

Tables: ``leads_leads`` (alias ``l``) joined to ``customers`` (``c``), ``leads_reps`` (``r``),
``leads_assignments`` (``a``), ``leads_rules`` and ``leads_model``. Allocation works on
connection-local scratch tables (``CREATE TEMP TABLE``, ``_lp_*``). Times are ISO-8601 UTC text,
so text comparison is time comparison. Date arithmetic and JSON access go through the
engine-neutral helpers of :mod:`crmkit.store`, so every statement runs on both engines.
"""

from __future__ import annotations

from crmkit.store import (
    days_between, json_get, json_items_from, json_member, json_records, json_values, unindexed,
)

OPEN = "('pool', 'assigned', 'following_up')"
OWNED = "('assigned', 'following_up')"


def hours_between_sql(earlier_sql: str, later_sql: str) -> str:
    """SQL for the hours from one time to another."""
    return f"({days_between(earlier_sql, later_sql)} * 24.0)"


# Days of the lead's class from the JSON option :recycle_days, "default" when its class is absent.
CLASS_DAYS_SQL = (
    f"COALESCE({json_member(':recycle_days', 'l.lead_class', 'REAL')}, "
    f"CAST({json_get(':recycle_days', '$.default')} AS REAL))"
)


def recycle_at_sql(calendar) -> str:
    """SQL for a lead's recycle time: its class's days (plus extensions) after the assignment or
    the latest follow-up, counted in local days of ``calendar`` (the wall-clock time is kept)."""
    return calendar.add_days_sql(
        "COALESCE(max(l.last_followed_up_at, l.assigned_at), l.assigned_at)",
        f"{CLASS_DAYS_SQL} + l.extensions * :extension_days",
    )


def local_day_sql(calendar, time_sql: str) -> str:
    """SQL for the local date (``YYYY-MM-DD``) of a storage time; ``time_sql`` a column."""
    return f"substr({calendar.local_sql(time_sql)}, 1, 10)"


LEAD_SELECT = (
    "SELECT l.*, c.name, c.source, c.industry, c.size, c.region, c.tags "
    "FROM leads_leads l JOIN customers c ON c.id = l.customer_id"
)
SKILL_KEY_SQL = "COALESCE(c.industry, '') || '|' || COALESCE(l.product, '') || '|' || COALESCE(l.language, '')"

# --- leads ------------------------------------------------------------------------------------

#: Up to this many added customers, their stages are read from the records themselves.
STAGES_READ_IN_PYTHON = 64


def prospects_between(db, first: int, last: int) -> list[int]:
    """The ids of the customers with ids in [first, last] at stage ``prospect``, in order."""
    rows = db.execute(f"SELECT id FROM customers WHERE id BETWEEN ? AND ? AND {unindexed('stage')} = 'prospect' ORDER BY id", [first, last])
    return [customer_id for (customer_id,) in rows]


INSERT_POOL_LEADS = f"""
INSERT OR IGNORE INTO leads_leads(customer_id, status, stage, received_at)
SELECT c.id, 'pool', :stage, COALESCE(:received_at, c.created_at) FROM customers c
WHERE c.id IN ({json_values(':ids', 'INTEGER')}) AND c.stage = 'prospect'
"""

_DETAIL_COLUMNS = {
    "id": "INTEGER", "priority": "INTEGER", "needs": "TEXT", "product": "TEXT", "language": "TEXT",
    "lead_class": "TEXT", "stage": "TEXT",
}
UPDATE_LEAD_DETAILS = f"""
UPDATE leads_leads AS l SET priority = j.priority, needs = j.needs, product = j.product,
    language = j.language, lead_class = j.lead_class, stage = COALESCE(j.stage, l.stage)
FROM ({json_records(':rows', _DETAIL_COLUMNS)}) AS j
WHERE l.customer_id = j.id
"""

GET_LEAD = LEAD_SELECT + " WHERE l.customer_id = ?"
LEADS_BY_IDS = LEAD_SELECT + f" WHERE l.customer_id IN ({json_values('?', 'INTEGER')}) ORDER BY l.customer_id"
COUNT_BY_STATUS = "SELECT status, count(*) FROM leads_leads GROUP BY status"


def refresh_recycle_at(calendar, where: str = "1 = 1") -> str:
    """Recompute the recycle time of the owned leads matching ``where`` (over ``l``)."""
    return f"UPDATE leads_leads AS l SET recycle_at = {recycle_at_sql(calendar)} WHERE l.status IN {OWNED} AND {where}"



POOL_PAGE = (
    LEAD_SELECT + " WHERE l.status = 'pool' {extra} "
    "ORDER BY l.priority DESC, l.score DESC, l.received_at, l.customer_id LIMIT :limit OFFSET :offset"
)

# Assign one lead (a claim or a manual assignment); the WHERE keeps it exclusive.
TAKE_LEAD = f"""
UPDATE leads_leads AS l SET status = 'assigned', owner = :rep, assigned_at = :now,
    first_followed_up_at = NULL, last_followed_up_at = NULL, extensions = 0,
    recycle_at = :recycle_at
WHERE l.customer_id = :lead AND l.status = :expected_status AND l.owner IS :expected_owner
RETURNING *
"""
OPEN_ASSIGNMENT = """
INSERT INTO leads_assignments(lead_id, rep_id, how, reason, started_at) VALUES (:lead, :rep, :how, :reason, :now)
"""
END_ASSIGNMENTS = f"""
UPDATE leads_assignments SET ended_at = :now, end_how = :how, end_reason = :reason
WHERE ended_at IS NULL AND lead_id IN ({json_values(':ids', 'INTEGER')})
"""
RELEASE_LEAD = """
UPDATE leads_leads AS l SET status = 'pool', previous_owner = l.owner, owner = NULL,
    cooldown_until = :cooldown_until, recycle_at = NULL, extensions = 0
WHERE l.customer_id = :lead
"""
EXTEND_LEAD = "UPDATE leads_leads AS l SET extensions = l.extensions + 1 WHERE l.customer_id = :lead"
PROTECT_LEAD = """
UPDATE leads_leads SET protected = :flag, protected_by = :by, protected_reason = :reason WHERE customer_id = :lead
"""
CLOSE_LEAD = """
UPDATE leads_leads SET status = :status, lost_reason = :lost_reason, closed_at = :now, recycle_at = NULL
WHERE customer_id = :lead
"""
SET_STAGE = "UPDATE leads_leads SET stage = :stage WHERE customer_id = :lead"
CLAIMS_TODAY = """
SELECT count(*) FROM leads_assignments WHERE rep_id = :rep AND how = 'claim'
AND started_at >= :day_start AND started_at < :day_end
"""
OPEN_LOAD = f"SELECT count(*) FROM leads_leads WHERE owner = ? AND status IN {OWNED}"
# What a claim checks, in one statement (one round trip on a server): the lead with its customer's
# columns, the rep (columns as rep_*), their open leads, their claims on the home zone's day, and
# the stored options the claim uses. No row when the rep does not exist; the lead's columns are
# NULL when the lead does not.
CLAIM_CHECKS = f"""
SELECT l.*, c.name, c.source, c.industry, c.size, c.region, c.tags,
    r.id AS rep_id, r.name AS rep_name, r.team AS rep_team, r.industries AS rep_industries,
    r.products AS rep_products, r.languages AS rep_languages, r.experience AS rep_experience,
    r.capacity AS rep_capacity, r.claim_limit AS rep_claim_limit, r.active AS rep_active,
    (SELECT count(*) FROM leads_leads WHERE owner = :rep AND status IN {OWNED}) AS open_load,
    (SELECT count(*) FROM leads_assignments WHERE rep_id = :rep AND how = 'claim'
        AND started_at >= :day_start AND started_at < :day_end) AS claimed_today,
    (SELECT value FROM settings WHERE key = 'leads.recycle_days') AS stored_recycle_days,
    (SELECT value FROM settings WHERE key = 'leads.daily_claim_cap') AS stored_daily_claim_cap
FROM leads_reps r
LEFT JOIN leads_leads l ON l.customer_id = :lead
LEFT JOIN customers c ON c.id = l.customer_id
WHERE r.id = :rep
"""
REP_COLUMNS = ("id", "name", "team", "industries", "products", "languages", "experience", "capacity", "claim_limit", "active")
LEAD_HISTORY = "SELECT * FROM leads_assignments WHERE lead_id = ? ORDER BY started_at, id"

# --- reps -------------------------------------------------------------------------------------

UPSERT_REP = """
INSERT INTO leads_reps(id, name, team, industries, products, languages, experience, capacity,
    claim_limit, active, created_at, updated_at)
VALUES (:id, :name, :team, :industries, :products, :languages, :experience, :capacity,
    :claim_limit, :active, :now, :now)
ON CONFLICT(id) DO UPDATE SET name = excluded.name, team = excluded.team,
    industries = excluded.industries, products = excluded.products, languages = excluded.languages,
    experience = excluded.experience, capacity = excluded.capacity,
    claim_limit = excluded.claim_limit, active = excluded.active, updated_at = excluded.updated_at
"""
GET_REP = "SELECT * FROM leads_reps WHERE id = ?"
ALL_REPS = "SELECT * FROM leads_reps ORDER BY id"

# Track record as of :as_of from the assignment spells: open spells and leads closed while
# with the rep, and the median hours from assignment to first follow-up.
def track_record_sql() -> str:
    """Per rep as of :as_of: open spells, received, converted, lost, recycled, median hours to follow-up."""
    median = _median_join(
        f"SELECT a.rep_id AS grp, {hours_between_sql('a.started_at', 'a.first_follow_up_at')} AS hours "
        "FROM leads_assignments a WHERE a.first_follow_up_at IS NOT NULL AND a.first_follow_up_at <= :as_of"
    )
    return f"""
    WITH spells AS (
        SELECT rep_id, count(*) AS received,
            sum(ended_at IS NULL OR ended_at > :as_of) AS open_leads,
            sum(end_how = 'convert' AND ended_at <= :as_of) AS converted,
            sum(end_how = 'lose' AND ended_at <= :as_of) AS lost,
            sum(end_how = 'recycle' AND ended_at <= :as_of) AS recycled
        FROM leads_assignments WHERE started_at <= :as_of GROUP BY rep_id
    )
    SELECT r.id, COALESCE(s.open_leads, 0) AS open_leads, COALESCE(s.received, 0) AS received,
        COALESCE(s.converted, 0) AS converted, COALESCE(s.lost, 0) AS lost,
        COALESCE(s.recycled, 0) AS recycled, m.median
    FROM leads_reps r LEFT JOIN spells s ON s.rep_id = r.id LEFT JOIN ({median}) m ON m.grp = r.id
    ORDER BY r.id
    """


# --- rules ------------------------------------------------------------------------------------

ALL_RULES = "SELECT * FROM leads_rules ORDER BY position, id"
INSERT_RULE = """
INSERT INTO leads_rules(position, name, rule, team, reps, created_at)
VALUES ((SELECT COALESCE(max(position), 0) + 1 FROM leads_rules), :name, :rule, :team, :reps, :now)
"""
DELETE_RULE = "DELETE FROM leads_rules WHERE name = ?"

# --- allocation scratch tables ----------------------------------------------------------------

def create_plan_tables(db, key_count: int) -> None:
    """(Re)create the scratch tables of one allocation with ``key_count`` selector keys."""
    keys = "".join(f", k{i} TEXT" for i in range(key_count))
    drop_plan_tables(db)
    db.execute(f"CREATE TEMP TABLE _lp_leads(lead_id INTEGER PRIMARY KEY, ord INTEGER, exclude_rep TEXT{keys}, grp INTEGER)")
    db.execute(
        "CREATE TEMP TABLE _lp_reps(rep_id TEXT PRIMARY KEY, team TEXT, capacity INTEGER, experience INTEGER, "
        "open_leads INTEGER, room INTEGER, weight REAL, rotation INTEGER)"
    )
    db.execute("CREATE TEMP TABLE _lp_plan(lead_id INTEGER PRIMARY KEY, rep_id TEXT, reason TEXT)")
    db.execute(f"CREATE TEMP TABLE _lp_groups(grp INTEGER PRIMARY KEY, exclude_rep TEXT{keys}, first_ord INTEGER, size INTEGER)")
    db.execute("CREATE TEMP TABLE _lp_numbers(k INTEGER PRIMARY KEY)")
    db.execute("CREATE TEMP TABLE _lp_slots(n INTEGER PRIMARY KEY, rep_id TEXT, load_after INTEGER, capacity INTEGER)")
    db.execute("CREATE TEMP TABLE _lp_group_leads(n INTEGER PRIMARY KEY, lead_id INTEGER)")
    db.execute("CREATE TEMP TABLE _lp_class_days(lead_class TEXT PRIMARY KEY, days REAL)")


def drop_plan_tables(db) -> None:
    """Drop the allocation's scratch tables."""
    for name in _PLAN_TABLES:
        db.execute(f"DROP TABLE IF EXISTS {name}")


_PLAN_TABLES = ("_lp_leads", "_lp_reps", "_lp_plan", "_lp_groups", "_lp_numbers", "_lp_slots", "_lp_group_leads", "_lp_class_days")


# Leads in allocation order: priority, then score, then first come.
FILL_PLAN_LEADS_FROM_POOL = """
INSERT INTO _lp_leads(lead_id, ord, exclude_rep)
SELECT l.customer_id, row_number() OVER (ORDER BY l.priority DESC, COALESCE(l.score, 0) DESC, l.received_at, l.customer_id),
       l.previous_owner
FROM leads_leads l WHERE l.status = 'pool'
"""
FILL_PLAN_LEADS_FROM_IDS = f"""
INSERT INTO _lp_leads(lead_id, ord, exclude_rep)
SELECT l.customer_id, row_number() OVER (ORDER BY l.priority DESC, COALESCE(l.score, 0) DESC, l.received_at, l.customer_id),
       CASE WHEN :exclude_previous <> 0 THEN l.previous_owner END
FROM leads_leads l WHERE l.customer_id IN ({json_values(':ids', 'INTEGER')})
"""
# Seeded order for backtests: same priority and time are broken by a hash of id and seed.
FILL_PLAN_LEADS_SEEDED = f"""
INSERT INTO _lp_leads(lead_id, ord, exclude_rep)
SELECT l.customer_id, row_number() OVER (ORDER BY l.priority DESC, l.received_at,
       (l.customer_id * 2654435761 + :seed) % 4294967291, l.customer_id), NULL
FROM leads_leads l WHERE l.customer_id IN ({json_values(':ids', 'INTEGER')})
"""
NOT_IN_POOL = f"""
WITH wanted(id) AS ({json_values(':ids', 'INTEGER')})
SELECT wanted.id, l.status FROM wanted LEFT JOIN leads_leads l ON l.customer_id = wanted.id
WHERE l.status IS NOT 'pool' ORDER BY wanted.id
"""
INSERT_PLAN_REP = """
INSERT INTO _lp_reps(rep_id, team, capacity, experience, open_leads, room, weight, rotation)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""
# Allocations made today per rep (for the daily quota).
ALLOCATED_SINCE = """
SELECT rep_id, count(*) FROM leads_assignments WHERE how = 'allocate' AND started_at >= :day_start
AND started_at < :day_end GROUP BY rep_id
"""
FILL_NUMBERS = """
WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < :top)
INSERT INTO _lp_numbers(k) SELECT k FROM n
"""


def set_key_from_sql(index: int, expression: str) -> str:
    """Label every lead being planned with a selector key computed by ``expression`` over l, c."""
    return (
        f"UPDATE _lp_leads SET k{index} = (SELECT {expression} FROM leads_leads l JOIN customers c "
        f"ON c.id = l.customer_id WHERE l.customer_id = _lp_leads.lead_id)"
    )


def set_key_for_rule(index: int, id_query: str) -> str:
    """Give the key ``:_key`` to leads not yet labelled whose customer matches a compiled rule."""
    return f"UPDATE _lp_leads SET k{index} = :_key WHERE k{index} IS NULL AND lead_id IN ({id_query})"


def distinct_keys(index: int) -> str:
    """The distinct labels selector ``index`` gave the leads."""
    return f"SELECT DISTINCT k{index} FROM _lp_leads"


def fill_groups(key_count: int) -> tuple[str, str]:
    """Number the distinct (excluded rep, keys) combinations, then label each lead with its group."""
    keys = [f"k{i}" for i in range(key_count)]
    columns = ", ".join(["exclude_rep"] + keys)
    insert = (
        f"INSERT INTO _lp_groups(grp, {columns}, first_ord, size) "
        f"SELECT row_number() OVER (ORDER BY min(ord)), {columns}, min(ord), count(*) FROM _lp_leads GROUP BY {columns}"
    )
    match = " AND ".join(f"g.{c} IS _lp_leads.{c}" for c in ["exclude_rep"] + keys)
    label = f"UPDATE _lp_leads SET grp = (SELECT g.grp FROM _lp_groups g WHERE {match})"
    return insert, label


def group_key_index(key_count: int) -> str:
    """A key on the groups' (excluded rep, keys), so labelling a lead looks its group up
    instead of scanning every group (without it, labelling costs leads × groups)."""
    columns = ", ".join(["exclude_rep"] + [f"k{i}" for i in range(key_count)])
    return f"CREATE UNIQUE INDEX _lp_groups_keys ON _lp_groups({columns})"


# Created once the leads carry their group: each group's leads are then read in order from
# the index instead of scanning and sorting all leads once per group (leads × groups).
INDEX_LEADS_BY_GROUP = "CREATE INDEX _lp_leads_grp ON _lp_leads(grp, ord)"


def groups(key_count: int) -> str:
    """The groups of one allocation: number, size, excluded rep and selector labels."""
    keys = "".join(f", k{i}" for i in range(key_count))
    return f"SELECT grp, size, exclude_rep{keys} FROM _lp_groups ORDER BY grp"


def rank_slots(order_sql: str) -> str:
    """Number the free slots of the candidate reps (:reps JSON) of a group in the picker's order.

    A slot is "the k-th extra lead for a rep"; a rep has as many as it has room, and a group
    needs no more than its size (:size) from any rep. Only the first :size slots in that order
    can be taken, so only they are kept (ORDER BY ... LIMIT keeps a bounded sorter) and
    numbered; the order ends in ``s.k, s.rep_id``, so it is total and the kept slots are
    exactly the first :size of the full ranking.
    """
    return f"""
    INSERT INTO _lp_slots(n, rep_id, load_after, capacity)
    SELECT row_number() OVER (ORDER BY t.o, t.k, t.rep_id), t.rep_id, t.open_leads + t.k, t.capacity
    FROM (
        SELECT {order_sql} AS o, s.k, s.rep_id, s.open_leads, s.capacity
        FROM (
            SELECT r.rep_id, r.capacity, r.open_leads, r.weight, r.rotation, r.experience, r.room, x.k
            FROM _lp_reps r JOIN _lp_numbers x ON x.k <= r.room AND x.k <= :size
            WHERE r.rep_id IN ({json_values(':reps', 'TEXT')})
        ) AS s
        ORDER BY o, s.k, s.rep_id LIMIT :size
    ) AS t
    """


RANK_GROUP_LEADS = """
INSERT INTO _lp_group_leads(n, lead_id)
SELECT row_number() OVER (ORDER BY ord), lead_id FROM _lp_leads WHERE grp = :grp
"""
# The n-th lead of the group takes the n-th slot.
PLACE_GROUP = """
INSERT INTO _lp_plan(lead_id, rep_id, reason)
SELECT g.lead_id, s.rep_id, CAST(:label AS TEXT) || ' (load ' || s.load_after || '/' || s.capacity || ')'
FROM _lp_group_leads g JOIN _lp_slots s ON s.n = g.n
"""
CLEAR_GROUP = ("DELETE FROM _lp_slots", "DELETE FROM _lp_group_leads")


# The slots the group's leads just took (PLACE_GROUP's pairs), so the cost is the group's size,
# not a pass over every lead of the allocation per group.
TAKE_ROOM = """
UPDATE _lp_reps SET open_leads = open_leads + t.n, room = room - t.n
FROM (SELECT s.rep_id, count(*) AS n FROM _lp_group_leads g JOIN _lp_slots s ON s.n = g.n
      GROUP BY s.rep_id) AS t
WHERE _lp_reps.rep_id = t.rep_id
"""
PLAN_ROWS = "SELECT p.lead_id, p.rep_id, p.reason FROM _lp_plan p JOIN _lp_leads l ON l.lead_id = p.lead_id ORDER BY l.ord"
UNPLACED = "SELECT l.lead_id, l.grp FROM _lp_leads l WHERE l.lead_id NOT IN (SELECT lead_id FROM _lp_plan) ORDER BY l.ord"
LAST_PLACED_REP = "SELECT p.rep_id FROM _lp_plan p JOIN _lp_leads l ON l.lead_id = p.lead_id ORDER BY l.ord DESC LIMIT 1"

FILL_CLASS_DAYS = "INSERT INTO _lp_class_days(lead_class, days) VALUES (?, ?)"
_PLAN_CLASS_DAYS = (
    "COALESCE((SELECT d.days FROM _lp_class_days d WHERE d.lead_class = l.lead_class), "
    "(SELECT d.days FROM _lp_class_days d WHERE d.lead_class = 'default'))"
)


def apply_plan(calendar) -> str:
    """Assign the planned leads; the recycle time is the class's period (local days) from now."""
    return f"""
UPDATE leads_leads AS l SET status = 'assigned', owner = p.rep_id, assigned_at = :now,
    first_followed_up_at = NULL, last_followed_up_at = NULL, extensions = 0,
    recycle_at = {calendar.add_days_sql(':now', _PLAN_CLASS_DAYS)}
FROM _lp_plan AS p WHERE l.customer_id = p.lead_id AND l.status = 'pool'
"""


APPLY_PLAN_ASSIGNMENTS = """
INSERT INTO leads_assignments(lead_id, rep_id, how, reason, started_at)
SELECT p.lead_id, p.rep_id, :how, p.reason, :now FROM _lp_plan p
"""
PLAN_SIZE = "SELECT count(*) FROM _lp_plan"
# One audit entry per planned lead (JSON keys in sorted order, like the core's entries).
PLAN_AUDIT = """
SELECT 'lead.' || :how AS action, 'lead' AS entity, p.lead_id AS entity_id,
    json_object('status', 'pool') AS before,
    json_object('owner', p.rep_id, 'reason', p.reason, 'status', 'assigned') AS after
FROM _lp_plan p ORDER BY p.lead_id
"""

# --- recycling --------------------------------------------------------------------------------

# Leads due for recycling go to a scratch table first: one pass decides, the others apply.
CREATE_RECYCLE_SCRATCH = "CREATE TEMP TABLE _lr_due(lead_id INTEGER PRIMARY KEY, owner TEXT, recycle_at TEXT)"
SELECT_DUE_FOR_RECYCLE = f"""
INSERT INTO _lr_due(lead_id, owner, recycle_at)
SELECT l.customer_id, l.owner, l.recycle_at FROM leads_leads l
WHERE l.status IN {OWNED} AND l.recycle_at <= :now AND l.protected = 0
"""
RECYCLE_LEADS = """
UPDATE leads_leads AS l SET status = 'pool', previous_owner = l.owner, owner = NULL,
    cooldown_until = :cooldown_until, recycle_at = NULL, extensions = 0, recycles = l.recycles + 1
WHERE l.customer_id IN (SELECT lead_id FROM _lr_due)
"""


def end_recycled_assignments(calendar) -> str:
    """End the recycled leads' assignments, naming the local date of the missed deadline."""
    return f"""
UPDATE leads_assignments SET ended_at = :now, end_how = 'recycle',
    end_reason = 'no follow-up by ' || (SELECT {local_day_sql(calendar, 'd.recycle_at')} FROM _lr_due d WHERE d.lead_id = leads_assignments.lead_id)
WHERE ended_at IS NULL AND lead_id IN (SELECT lead_id FROM _lr_due)
"""


RECYCLED_COUNT = "SELECT count(*) FROM _lr_due"
RECYCLED_IDS = "SELECT lead_id FROM _lr_due ORDER BY lead_id"
RECYCLE_AUDIT = """
SELECT 'lead.recycle' AS action, 'lead' AS entity, d.lead_id AS entity_id,
    json_object('owner', d.owner, 'status', 'assigned') AS before,
    json_object('owner', NULL, 'reason', 'no follow-up by ' || d.recycle_at, 'status', 'pool') AS after
FROM _lr_due d ORDER BY d.lead_id
"""
DROP_RECYCLE_SCRATCH = "DROP TABLE IF EXISTS _lr_due"

# Reminder tasks for leads whose recycle time is within the horizon; the key (lead, owner,
# deadline) keeps it to one open reminder per deadline however often due runs.


# Open reminders no longer owed: their lead is not owned (converted, lost, in the pool),
# protected, or owned by someone else or with another deadline than the reminder's key names.
# :leads is a JSON list of lead ids, or null for every lead.
STALE_REMINDERS = f"""
SELECT t.id AS id FROM tasks t
WHERE t.status = 'open' AND t.kind = 'lead_follow_up' AND t.source = 'leads'
  AND (CAST(:leads AS TEXT) IS NULL OR t.customer_id IN ({json_values(':leads', 'INTEGER')}))
  AND NOT EXISTS (
      SELECT 1 FROM leads_leads l
      WHERE l.customer_id = t.customer_id AND l.status IN {OWNED} AND l.protected = 0
        AND t.key = 'leads.recycle:' || l.customer_id || ':' || l.owner || ':' || l.recycle_at)
"""


def reminder_tasks(calendar) -> str:
    """The reminder tasks due by ``:horizon``; the reason names the deadline's local date."""
    return f"""
SELECT 'lead_follow_up' AS kind, l.customer_id AS customer_id, l.owner AS owner, l.recycle_at AS due_at,
    'follow up lead ' || l.customer_id || ' before ' || {local_day_sql(calendar, 'l.recycle_at')} || ' or it goes back to the pool' AS reason,
    'leads.recycle:' || l.customer_id || ':' || l.owner || ':' || l.recycle_at AS key
FROM leads_leads l
WHERE l.status IN {OWNED} AND l.protected = 0 AND l.recycle_at > :now AND l.recycle_at <= :horizon
"""



# --- follow-ups seen in a batch of interactions ----------------------------------------------

FOLLOW_UPS_IN_BATCH = f"""
INSERT INTO _lf_batch(lead_id, status_before, first_at, last_at)
SELECT l.customer_id AS lead_id, l.status AS status_before, min(i.occurred_at) AS first_at, max(i.occurred_at) AS last_at
FROM interactions i JOIN leads_leads l ON l.customer_id = i.customer_id
WHERE i.id BETWEEN :first AND :last AND {unindexed('i.kind')} IN ({json_values(':kinds', 'TEXT')})
  AND l.status IN ('assigned', 'following_up') AND i.rep = l.owner AND i.occurred_at >= l.assigned_at
GROUP BY l.customer_id
"""
APPLY_FOLLOW_UPS = """
UPDATE leads_leads AS l SET status = 'following_up',
    first_followed_up_at = COALESCE(min(l.first_followed_up_at, f.first_at), f.first_at),
    last_followed_up_at = COALESCE(max(l.last_followed_up_at, f.last_at), f.last_at)
FROM _lf_batch AS f WHERE l.customer_id = f.lead_id
"""
APPLY_FOLLOW_UPS_TO_ASSIGNMENTS = """
UPDATE leads_assignments AS a SET first_follow_up_at = COALESCE(min(a.first_follow_up_at, f.first_at), f.first_at)
FROM _lf_batch AS f WHERE a.lead_id = f.lead_id AND a.ended_at IS NULL
"""


def refresh_followed_recycle_at(calendar) -> str:
    """Recompute the recycle time of the leads followed up in the batch."""
    return f"""
UPDATE leads_leads AS l SET recycle_at = {recycle_at_sql(calendar)} WHERE l.customer_id IN (SELECT lead_id FROM _lf_batch)
"""


FOLLOW_UPS_FOUND = "SELECT count(*) FROM _lf_batch"
FIRST_FOLLOW_UP_AUDIT = """
SELECT 'lead.follow_up' AS action, 'lead' AS entity, f.lead_id AS entity_id,
    json_object('status', 'assigned') AS before,
    json_object('first_follow_up_at', f.first_at, 'status', 'following_up') AS after
FROM _lf_batch f WHERE f.status_before = 'assigned' ORDER BY f.lead_id
"""
DROP_FOLLOW_UP_SCRATCH = "DROP TABLE IF EXISTS _lf_batch"
CREATE_FOLLOW_UP_SCRATCH = "CREATE TEMP TABLE _lf_batch(lead_id INTEGER PRIMARY KEY, status_before TEXT, first_at TEXT, last_at TEXT)"

# --- erasure and merging ----------------------------------------------------------------------

FORGET_LEAD = """
UPDATE leads_leads SET needs = NULL, protected_reason = CASE WHEN protected_reason IS NULL THEN NULL ELSE 'erased' END
WHERE customer_id = ?
"""
MERGE_HAS_LEAD = "SELECT customer_id FROM leads_leads WHERE customer_id IN (?, ?)"
MERGE_MOVE_LEAD = "UPDATE leads_leads SET customer_id = :kept WHERE customer_id = :merged"
MERGE_DROP_LEAD = "DELETE FROM leads_leads WHERE customer_id = :merged"
MERGE_MOVE_ASSIGNMENTS = """
UPDATE leads_assignments SET ended_at = COALESCE(ended_at, :now), end_how = COALESCE(end_how, 'merge'),
    end_reason = COALESCE(end_reason, 'merged into customer ' || CAST(:kept AS TEXT))
WHERE lead_id = :merged AND :kept_has_lead <> 0
"""
MERGE_REPOINT_ASSIGNMENTS = "UPDATE leads_assignments SET lead_id = :kept WHERE lead_id = :merged"

# --- lead score (naive Bayes) -----------------------------------------------------------------

def features_sql(lead_filter: str) -> str:
    """(lead_id, feature, value) rows of the leads ``lead_filter`` (SQL over l) selects."""
    base = "FROM leads_leads l JOIN customers c ON c.id = l.customer_id WHERE " + lead_filter
    parts = [
        f"SELECT l.customer_id AS lead_id, '{name}' AS feature, {expr} AS value {base} AND {expr} IS NOT NULL"
        for name, expr in (
            ("source", "c.source"), ("industry", "c.industry"), ("size", "c.size"), ("region", "c.region"),
            ("class", "l.lead_class"), ("product", "l.product"), ("language", "l.language"),
        )
    ]
    tags = base.replace("WHERE", f", {json_items_from('c.tags', 'j')} WHERE", 1)
    parts.append(f"SELECT l.customer_id, 'tag', j.value {tags}")
    return " UNION ALL ".join(parts)


# Leads closed by :as_of and since :since ('' for no lower bound), won 1 or 0.
CREATE_TRAINING = "CREATE TEMP TABLE _ls_train(lead_id INTEGER PRIMARY KEY, won INTEGER NOT NULL)"
TRAINING_SET = """
INSERT INTO _ls_train(lead_id, won)
SELECT customer_id, CASE WHEN status = 'converted' THEN 1 ELSE 0 END FROM leads_leads
WHERE status IN ('converted', 'lost') AND closed_at <= :as_of AND closed_at >= :since
"""
TRAINING_TOTALS = "SELECT coalesce(sum(won), 0), coalesce(sum(1 - won), 0) FROM _ls_train"
TRAINING_COUNTS = (
    "SELECT fv.feature, fv.value, sum(t.won), sum(1 - t.won) FROM ("
    + features_sql("l.customer_id IN (SELECT lead_id FROM _ls_train)")
    + ") fv JOIN _ls_train t ON t.lead_id = fv.lead_id GROUP BY fv.feature, fv.value ORDER BY 1, 2"
)
DROP_TRAINING = "DROP TABLE IF EXISTS _ls_train"
CLEAR_MODEL = "DELETE FROM {model}"
CREATE_TEMP_MODEL = (
    "CREATE TEMP TABLE IF NOT EXISTS _ls_model(feature TEXT NOT NULL, value TEXT, won INTEGER NOT NULL, "
    "lost INTEGER NOT NULL, weight REAL NOT NULL)"
)
DROP_TEMP_MODEL = "DROP TABLE IF EXISTS _ls_model"
INSERT_MODEL = "INSERT INTO {model}(feature, value, won, lost, weight) VALUES (?, ?, ?, ?, ?)"


def logits_sql(model: str, lead_filter: str) -> str:
    """(lead_id, logit) of the selected leads: prior plus each known feature's weight, values
    never seen taking the feature's unseen weight."""
    return f"""
    SELECT l.customer_id AS lead_id, :prior + COALESCE(w.total, 0) AS logit
    FROM leads_leads l LEFT JOIN (
        SELECT fv.lead_id, sum(COALESCE(m.weight, u.weight)) AS total
        FROM ({features_sql(lead_filter)}) fv
        JOIN {model} u ON u.feature = fv.feature AND u.value IS NULL
        LEFT JOIN {model} m ON m.feature = fv.feature AND m.value = fv.value
        GROUP BY fv.lead_id
    ) w ON w.lead_id = l.customer_id
    WHERE {lead_filter}
    """


SCORE_OPEN_LEADS = f"""
UPDATE leads_leads AS l SET score = 1.0 / (1.0 + exp(-x.logit)), scored_at = :as_of
FROM ({logits_sql('leads_model', f"l.status IN {OPEN}")}) AS x
WHERE l.customer_id = x.lead_id
"""
CLEAR_SCORES = "UPDATE leads_leads SET score = NULL, scored_at = NULL WHERE score IS NOT NULL"
EXPLAIN_LEAD = f"""
SELECT fv.feature, fv.value, m.weight AS known, u.weight AS unseen, m.won, m.lost
FROM ({features_sql("l.customer_id = :lead")}) fv
JOIN leads_model u ON u.feature = fv.feature AND u.value IS NULL
LEFT JOIN leads_model m ON m.feature = fv.feature AND m.value = fv.value
"""
SCORED_LEADS = f"SELECT l.customer_id, l.score, l.owner, l.status FROM leads_leads l WHERE l.status IN {OPEN} AND l.score IS NOT NULL ORDER BY l.score DESC, l.customer_id"
HOLDOUT = f"""
SELECT x.lead_id, 1.0 / (1.0 + exp(-x.logit)) AS score, CASE WHEN l.status = 'converted' THEN 1 ELSE 0 END AS won
FROM ({logits_sql('_ls_model', "l.received_at > :train_until AND l.received_at <= :holdout_until AND l.status IN ('converted', 'lost') AND l.closed_at <= :holdout_until")}) x
JOIN leads_leads l ON l.customer_id = x.lead_id
"""


def calibration_sql(bands: int) -> str:
    """Holdout leads per score band: count, mean predicted score, actual conversion."""
    return f"""
    SELECT min(CAST(floor(h.score * {int(bands)}) AS INTEGER), {int(bands) - 1}) AS band, count(*) AS leads,
           avg(h.score) AS predicted, avg(h.won) AS actual
    FROM ({HOLDOUT}) h GROUP BY band ORDER BY band
    """

# --- figures ----------------------------------------------------------------------------------

def _median_join(values_sql: str) -> str:
    """(grp, median) of a (grp, hours) query, the median averaging the two middle values."""
    return f"""
    SELECT grp, avg(hours) AS median FROM (
        SELECT grp, hours, row_number() OVER (PARTITION BY grp ORDER BY hours) AS rn,
               count(*) OVER (PARTITION BY grp) AS cnt FROM ({values_sql}) AS v
    ) AS ranked WHERE rn IN ((cnt + 1) / 2, (cnt + 2) / 2) GROUP BY grp
    """


LEAD_GROUPS = {"all": "'all'", "source": "COALESCE(c.source, '(none)')", "class": "l.lead_class"}
SPELL_GROUPS = {"rep": "a.rep_id", "team": "COALESCE(r.team, '(none)')"}


def lead_stats(group_sql: str) -> str:
    """Figures per group of leads (overall, source, class) as of :as_of."""
    follow = _median_join(
        f"SELECT {group_sql} AS grp, {hours_between_sql('a.started_at', 'a.first_follow_up_at')} AS hours "
        "FROM leads_assignments a JOIN leads_leads l ON l.customer_id = a.lead_id JOIN customers c ON c.id = l.customer_id "
        "WHERE a.first_follow_up_at IS NOT NULL AND a.first_follow_up_at <= :as_of"
    )
    return f"""
    WITH spells AS (
        SELECT a.lead_id, count(*) AS spells, sum(a.end_how = 'recycle' AND a.ended_at <= :as_of) AS recycled
        FROM leads_assignments a WHERE a.started_at <= :as_of GROUP BY a.lead_id
    )
    SELECT {group_sql} AS grp, count(*) AS received, count(s.lead_id) AS assigned,
        sum(l.status = 'converted' AND l.closed_at <= :as_of) AS converted,
        sum(l.status = 'lost' AND l.closed_at <= :as_of) AS lost,
        COALESCE(sum(s.recycled), 0) AS recycled, max(m.median) AS median_hours
    FROM leads_leads l JOIN customers c ON c.id = l.customer_id
    LEFT JOIN spells s ON s.lead_id = l.customer_id
    LEFT JOIN ({follow}) m ON m.grp = {group_sql}
    WHERE l.received_at <= :as_of GROUP BY 1 ORDER BY 1
    """


def spell_stats(group_sql: str) -> str:
    """Figures per rep or team from the assignment spells as of :as_of."""
    follow = _median_join(
        f"SELECT {group_sql} AS grp, {hours_between_sql('a.started_at', 'a.first_follow_up_at')} AS hours "
        "FROM leads_assignments a LEFT JOIN leads_reps r ON r.id = a.rep_id "
        "WHERE a.first_follow_up_at IS NOT NULL AND a.first_follow_up_at <= :as_of"
    )
    return f"""
    SELECT {group_sql} AS grp, count(*) AS received, count(*) AS assigned,
        sum(a.end_how = 'convert' AND a.ended_at <= :as_of) AS converted,
        sum(a.end_how = 'lose' AND a.ended_at <= :as_of) AS lost,
        sum(a.end_how = 'recycle' AND a.ended_at <= :as_of) AS recycled, max(m.median) AS median_hours
    FROM leads_assignments a LEFT JOIN leads_reps r ON r.id = a.rep_id
    LEFT JOIN ({follow}) m ON m.grp = {group_sql}
    WHERE a.started_at <= :as_of GROUP BY 1 ORDER BY 1
    """


OPEN_LOAD_AS_OF = """
SELECT r.id, r.team, r.capacity, r.active, COALESCE(o.n, 0) AS open_leads
FROM leads_reps r LEFT JOIN (
    SELECT rep_id, count(*) AS n FROM leads_assignments
    WHERE started_at <= :as_of AND (ended_at IS NULL OR ended_at > :as_of) GROUP BY rep_id
) o ON o.rep_id = r.id ORDER BY r.id
"""
STATUS_AS_OF = """
SELECT CASE WHEN l.closed_at IS NOT NULL AND l.closed_at <= :as_of THEN l.status
            WHEN EXISTS (SELECT 1 FROM leads_assignments a WHERE a.lead_id = l.customer_id
                         AND a.started_at <= :as_of AND (a.ended_at IS NULL OR a.ended_at > :as_of))
            THEN 'assigned' ELSE 'pool' END AS status_then, count(*)
FROM leads_leads l WHERE l.received_at <= :as_of GROUP BY status_then
"""

# --- backtests --------------------------------------------------------------------------------



def backtest_days(calendar) -> str:
    """The leads received in [since, until), grouped by the local day they arrived on."""
    return f"""
SELECT day, json_group_array(customer_id) FROM (
    SELECT customer_id, {local_day_sql(calendar, 'received_at')} AS day FROM leads_leads
    WHERE received_at >= :since AND received_at < :until ORDER BY customer_id
) AS received GROUP BY day ORDER BY day
"""


CREATE_SIMULATION = """
CREATE TEMP TABLE _lb_sim(lead_id INTEGER PRIMARY KEY, rep_id TEXT NOT NULL, day TEXT NOT NULL, closed_at TEXT)
"""
DROP_SIMULATION = "DROP TABLE IF EXISTS _lb_sim"
SIMULATED_OPEN = """
SELECT rep_id, count(*) FROM _lb_sim WHERE closed_at IS NULL OR closed_at > :day_start GROUP BY rep_id
"""
RECORD_SIMULATED = """
INSERT INTO _lb_sim(lead_id, rep_id, day, closed_at)
SELECT p.lead_id, p.rep_id, :day, l.closed_at FROM _lp_plan p JOIN leads_leads l ON l.customer_id = p.lead_id
"""
BACKTEST_PER_REP = """
SELECT s.rep_id, count(*) AS received,
    sum(l.status = 'converted') AS converted, sum(l.status = 'lost') AS lost, sum(l.recycles) AS recycles
FROM _lb_sim s JOIN leads_leads l ON l.customer_id = s.lead_id GROUP BY s.rep_id ORDER BY s.rep_id
"""
# The rep who first had each lead of the period in reality, for comparison.
HISTORICAL_FIRST_OWNERS = """
SELECT a.rep_id, count(*) FROM leads_assignments a
JOIN leads_leads l ON l.customer_id = a.lead_id
WHERE l.received_at >= :since AND l.received_at < :until
  AND a.id = (SELECT min(b.id) FROM leads_assignments b WHERE b.lead_id = a.lead_id)
GROUP BY a.rep_id
"""
ANY_CLOSED = "SELECT 1 FROM leads_leads WHERE status IN ('converted', 'lost') LIMIT 1"
