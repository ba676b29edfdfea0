"""``crm.leads``: the leads plugin's service namespace."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import attrs
from attrs import frozen

from crmkit import ConflictError, Customer, NotFound, ValidationError
from crmkit.models import check_storable_text, is_storable_text
from crmkit.timeutil import from_iso, to_iso

from . import allocation, backtest, config, figures, pool, queries, scoring
from .models import STATUSES, AllocationResult, Assignment, Lead, Rep
from .strategies import BUILT_IN, Picker, Selector, Strategy, StrategyRegistry

if TYPE_CHECKING:
    from crmkit import CRM

# Lead columns a caller may give besides the customer's own fields.
LEAD_FIELDS = ("priority", "needs", "product", "language", "lead_class", "stage")
# The whole numbers both engines store (and segment rules compare): a signed 64 bits.
SMALLEST_INTEGER, LARGEST_INTEGER = -(2**63), 2**63 - 1
#: The longest allocation rule name (as long as a saved segment's).
MAX_RULE_NAME = 100


@frozen
class AllocationRule:
    """A rule of the ``rules`` strategy: leads matching ``rule`` go to ``team`` and/or ``reps``."""

    name: str
    rule: str
    team: str | None
    reps: tuple[str, ...]
    position: int


def _customer(fields: dict, position: int, now: datetime) -> Customer:
    """The customer record of lead row ``position``, checked here so that an error names the row."""
    values = {"name": None, **fields, "updated_at": now}
    values["created_at"] = values.get("created_at") or now
    try:
        return Customer(**values)
    except ValidationError as error:
        raise ValidationError(f"row {position}: {error.field}", error.value, error.expected) from None


def _whole(field: str, value: Any, low: int, high: int = LARGEST_INTEGER) -> int:
    """``value`` as a whole number from ``low`` to ``high`` (a text of digits too), or a ValidationError."""
    expected = f"a whole number from {low} to {'2**63 - 1' if high == LARGEST_INTEGER else high}"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValidationError(field, value, expected)
    try:
        number = int(value)
    except ValueError:
        raise ValidationError(field, value, expected) from None
    if not low <= number <= high:
        raise ValidationError(field, value, expected)
    return number


def _priority(given: Any, position: int) -> int:
    """A lead's priority: a whole number, also as a text of digits (a CSV cell) or a float like 2.0."""
    value = given
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            pass
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not SMALLEST_INTEGER <= value <= LARGEST_INTEGER:
        raise ValidationError(f"row {position}: priority", given, "a whole number from -2**63 to 2**63 - 1")
    return value


def _page(limit: Any, offset: Any) -> dict:
    """The ``:limit`` and ``:offset`` parameters of a listing, checked."""
    return {"limit": _whole("limit", limit, 0), "offset": _whole("offset", offset, 0)}


def _lead_ids(values: Iterable[Any]) -> list[int]:
    """Lead ids given to allocate, sorted without repeats; the first bad one is a ValidationError."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValidationError("lead_ids", values, '"pool" or a list of lead ids')
    return sorted({_whole("lead id", value, 1) for value in values})


class LeadsService:
    """Leads, reps, allocation, the pool, scoring and figures of one CRM."""

    def __init__(self, crm: "CRM"):
        self.crm = crm
        self.options = config.Options(crm)
        self.strategies = StrategyRegistry()
        for item in BUILT_IN:
            self.strategies.add(item)
        hook = getattr(crm.plugins.hook, "crmkit_leads_strategies", None)
        if hook is not None:
            for plugin, items in crm.plugins.each_or_raise("crmkit_leads_strategies", crm=crm):
                for item in items or []:
                    self.strategies.add(item, plugin)

    # --- options --------------------------------------------------------------------------

    def configure(self, **options: Any) -> dict:
        """Change options (see ``crmkit_leads.config.DEFAULTS``) in one transaction; returns all.

        Changing recycle periods or extension days recomputes every open lead's recycle time.
        """
        checked = {name: config.check(name, value) for name, value in options.items()}
        if "recycle_strategy" in checked and checked["recycle_strategy"]:
            self.strategies.parse(checked["recycle_strategy"])
        with self.crm.transaction():
            for name, value in checked.items():
                self.crm.settings.set(f"leads.{name}", value)
            if {"recycle_days", "extension_days"} & set(checked):
                self.crm.db.execute(queries.refresh_recycle_at(self.crm.calendar), pool._recycle_params(self))
        return self.options.all()

    # --- reps -----------------------------------------------------------------------------

    def add_rep(self, id: str, name: str, **fields: Any) -> Rep:  # noqa: A002 - the rep's id
        """Add a rep, or replace the fields of an existing one; returns the record."""
        unknown = set(fields) - set(Rep.EDITABLE)
        if unknown:
            key = sorted(unknown)[0]
            raise ValidationError(key, fields[key], "a rep field: " + ", ".join(Rep.EDITABLE))
        rep = Rep(id=id, name=name, **fields)
        with self.crm.transaction():
            # A rep is a user of the CRM (the core's staff list); a new rep becomes one.
            self.crm.users.ensure(rep.id, rep.name, role="rep", team=rep.team, active=rep.active)
            before = self._find_rep(rep.id)
            self.crm.db.execute(queries.UPSERT_REP, dict(rep.to_row(), now=to_iso(self.crm.now())))
            self.crm.audit.record(
                "rep.update" if before else "rep.add", "rep", rep.id,
                before=before.to_row() if before else None, after=rep.to_row(), source="leads",
            )
        return rep

    def update_rep(self, id: str, **changes: Any) -> Rep:  # noqa: A002
        """Change some fields of a rep (e.g. ``active=False``, ``capacity=30``)."""
        current = self.rep(id)
        values = {name: getattr(current, name) for name in Rep.EDITABLE}
        values.update(changes)
        name = values.pop("name")
        return self.add_rep(id, name, **values)

    def rep(self, id: str) -> Rep:  # noqa: A002
        """The rep with this id (NotFound if there is none)."""
        found = self._find_rep(id)
        if found is None:
            raise NotFound(f"no rep with id {id!r}; add one with crm.leads.add_rep() or `crmkit leads reps DB --add`")
        return found

    def reps(self) -> list[Rep]:
        """Every rep, by id."""
        return [Rep.from_row(row) for row in self.crm.db.query(queries.ALL_REPS)]

    def _find_rep(self, rep_id: str) -> Rep | None:
        if not isinstance(rep_id, str) or not is_storable_text(rep_id):
            return None  # no rep has such an id (PostgreSQL cannot even be asked about a NUL)
        rows = list(self.crm.db.query(queries.GET_REP, [rep_id]))
        return Rep.from_row(rows[0]) if rows else None

    def track_record(self, as_of: Any = None) -> list[dict]:
        """Per rep as of a time: open leads, received, converted, lost, recycled, conversion rate
        (converted / closed) and median hours to first follow-up."""
        moment = self.crm.as_of(as_of)
        out = []
        for row in self.crm.db.query(queries.track_record_sql(), {"as_of": to_iso(moment)}):
            closed = row["converted"] + row["lost"]
            median = None if row["median"] is None else round(row["median"], 2)
            out.append({
                "rep": row["id"], "open_leads": row["open_leads"], "received": row["received"],
                "converted": row["converted"], "lost": row["lost"], "recycled": row["recycled"],
                "conversion_rate": round(row["converted"] / closed, 4) if closed else None,
                "median_hours_to_follow_up": median,
            })
        return out

    # --- leads ----------------------------------------------------------------------------

    def add(self, name: str, **fields: Any) -> Lead:
        """Add a lead: a customer in stage ``prospect`` plus its lead columns, in the pool.

        Customer fields (email, company, industry, size, source, region, tags, ...) and lead
        fields (priority, needs, product, language, lead_class, stage) may be given.
        """
        return self.get(self.add_many([dict(fields, name=name)])[0])

    def add_many(self, rows: Iterable[dict], *, row_numbers: Iterable[int] | None = None) -> list[int]:
        """Add many leads in one transaction; a bad row fails the whole batch. Returns the ids.

        Errors name a row by its position (1 for the first) or, when ``row_numbers`` is given, by
        the number given for it there (e.g. the line of a CSV file the row was read from).
        """
        customers, details = [], []
        stages = self.options.stages
        known = set(LEAD_FIELDS) | set(Customer.EDITABLE) | {"created_at"}
        numbers = iter(row_numbers or ())
        now = self.crm.now()
        for counted, row in enumerate(rows, start=1):
            position = next(numbers, counted)  # the caller's number, else the position
            if not isinstance(row, dict):
                raise ValidationError(f"row {position}", row, "a dict of lead fields")
            unknown = sorted(str(k) for k in row if k not in known)
            if unknown:
                raise ValidationError(
                    f"row {position}: {unknown[0]}", row[unknown[0]],
                    "a lead field (" + ", ".join(LEAD_FIELDS) + ") or a customer field (" + ", ".join(Customer.EDITABLE) + ")",
                )
            lead = {k: row[k] for k in LEAD_FIELDS if row.get(k) not in (None, "")}
            customer = {k: v for k, v in row.items() if k not in LEAD_FIELDS}
            if customer.get("stage", "prospect") != "prospect":
                raise ValidationError(f"row {position}: stage", customer["stage"], "prospect (a lead is a prospect)")
            customer["stage"] = "prospect"
            details.append(self._lead_details(lead, position, stages))
            customers.append(_customer(customer, position, now))
        with self.crm.transaction():
            ids = self.crm.customers.add_many(customers)
            self.receive(ids)
            for detail, lead_id in zip(details, ids):
                detail["id"] = lead_id
            self.crm.db.execute(queries.UPDATE_LEAD_DETAILS, {"rows": json.dumps(details)})
        return ids

    def _lead_details(self, lead: dict, position: int, stages: list[str]) -> dict:
        priority = _priority(lead.get("priority", 0), position)
        stage = lead.get("stage")
        if stage is not None and stage not in stages:
            raise ValidationError(f"row {position}: stage", stage, "one of " + ", ".join(stages))
        details = {"priority": priority, "stage": stage, "lead_class": str(lead.get("lead_class") or "default")}
        for key in ("needs", "product", "language"):
            value = lead.get(key)
            details[key] = None if value is None else str(value).strip() or None
        return details

    def receive(self, customer_ids: Iterable[int], received_at: Any = None) -> int:
        """Put existing prospect customers in the pool as leads (others, and leads, are ignored).

        ``received_at`` defaults to each customer's creation time.
        """
        ids = [int(i) for i in customer_ids]
        if not ids:
            return 0
        db = self.crm.db
        with self.crm.transaction():
            added = db.execute(queries.INSERT_POOL_LEADS, {
                "ids": json.dumps(ids), "stage": self.options.stages[0],
                "received_at": None if received_at is None else to_iso(received_at),
            }).rowcount
            if added:
                self.crm.audit.record("lead.receive", "lead", None, after={"count": added, "first": min(ids), "last": max(ids)}, source="leads")
        return added

    def get(self, lead_id: int) -> Lead:
        """The lead with this (customer) id."""
        rows = list(self.crm.db.query(queries.GET_LEAD, [lead_id]))
        if not rows:
            raise NotFound(f"no lead with id {lead_id}")
        return Lead.from_row(rows[0])

    def pool(self, limit: int = 50, offset: int = 0) -> list[Lead]:
        """Leads waiting in the pool, highest priority and score first."""
        sql = queries.POOL_PAGE.format(extra="")
        return [Lead.from_row(row) for row in self.crm.db.query(sql, _page(limit, offset))]

    def leads(self, *, status: str | None = None, owner: str | None = None, limit: int = 50, offset: int = 0) -> list[Lead]:
        """Leads filtered by status and/or owner, newest first."""
        if status is not None and status not in STATUSES:
            raise ValidationError("status", status, "one of " + ", ".join(STATUSES))
        where, params = ["1 = 1"], _page(limit, offset)
        if status:
            where.append("l.status = :status")
            params["status"] = status
        if owner:
            check_storable_text(owner, "owner")
            where.append("l.owner = :owner")
            params["owner"] = owner
        sql = f"{queries.LEAD_SELECT} WHERE {' AND '.join(where)} ORDER BY l.received_at DESC, l.customer_id DESC LIMIT :limit OFFSET :offset"
        return [Lead.from_row(row) for row in self.crm.db.query(sql, params)]

    def recycling(self, before: Any, *, owner: str | None = None, limit: int = 50, offset: int = 0) -> list[Lead]:
        """Open leads that ``recycle`` would send back to the pool at ``before`` (a preview that
        changes nothing): owned, not protected, due by then; soonest first, of ``owner`` if given."""
        params = {"before": to_iso(self.crm.as_of(before)), **_page(limit, offset)}
        where = f"l.status IN {queries.OWNED} AND l.protected = 0 AND l.recycle_at <= :before"
        if owner:
            where += " AND l.owner = :owner"
            params["owner"] = owner
        sql = f"{queries.LEAD_SELECT} WHERE {where} ORDER BY l.recycle_at, l.customer_id LIMIT :limit OFFSET :offset"
        return [Lead.from_row(row) for row in self.crm.db.query(sql, params)]

    def counts(self) -> dict[str, int]:
        """Leads per status."""
        found = dict(self.crm.db.execute(queries.COUNT_BY_STATUS).fetchall())
        return {status: found.get(status, 0) for status in STATUSES}

    def history(self, lead_id: int) -> list[Assignment]:
        """Who had the lead, from when to when, how it came and why it moved, oldest first."""
        self.get(lead_id)
        return [
            Assignment(row["lead_id"], row["rep_id"], row["how"], row["reason"], from_iso(row["started_at"]),
                       from_iso(row["first_follow_up_at"]), from_iso(row["ended_at"]), row["end_how"], row["end_reason"])
            for row in self.crm.db.query(queries.LEAD_HISTORY, [lead_id])
        ]

    def advance(self, lead_id: int, stage: str) -> Lead:
        """Move an open lead to another sales stage of the configured funnel."""
        stages = self.options.stages
        if stage not in stages:
            raise ValidationError("stage", stage, "one of " + ", ".join(stages))
        with self.crm.transaction():
            lead = self.get(lead_id)
            if not lead.is_open:
                raise ConflictError(f"lead {lead_id} is {lead.status}; only open leads move through the funnel")
            self.crm.db.execute(queries.SET_STAGE, {"lead": lead_id, "stage": stage})
            self.crm.audit.record("lead.stage", "lead", lead_id, before={"stage": lead.stage}, after={"stage": stage}, source="leads")
        return self.get(lead_id)

    def convert(self, lead_id: int, now: Any = None) -> "Customer":
        """The lead became a customer: status converted, the customer moves to stage ``new`` with
        the lead's owner as its owner. Returns the customer."""
        moment = self.crm.as_of(now)
        with self.crm.transaction():
            lead = self._close(lead_id, "converted", None, moment, "convert")
            changes = {"stage": "new"}
            if lead.owner:
                changes["owner"] = lead.owner
            return self.crm.customers.update(lead_id, **changes)

    def lose(self, lead_id: int, reason: str, now: Any = None) -> Lead:
        """Mark an open lead lost with one of the configured reasons."""
        reasons = self.options.lost_reasons
        if reason not in reasons:
            raise ValidationError("reason", reason, "one of " + ", ".join(reasons))
        moment = self.crm.as_of(now)
        with self.crm.transaction():
            self._close(lead_id, "lost", reason, moment, "lose")
        return self.get(lead_id)

    def _close(self, lead_id: int, status: str, reason: str | None, moment: datetime, how: str) -> Lead:
        lead = self.get(lead_id)
        if not lead.is_open:
            raise ConflictError(f"lead {lead_id} is already {lead.status}")
        stamp = to_iso(moment)
        self.crm.db.execute(queries.CLOSE_LEAD, {"lead": lead_id, "status": status, "lost_reason": reason, "now": stamp})
        self.crm.db.execute(queries.END_ASSIGNMENTS, {"now": stamp, "how": how, "reason": reason or status, "ids": json.dumps([lead_id])})
        pool.cancel_stale_reminders(self, [lead_id])
        self.crm.audit.record(
            f"lead.{how}", "lead", lead_id, before={"status": lead.status, "owner": lead.owner},
            after={"status": status, "owner": lead.owner, "reason": reason}, source="leads",
        )
        return lead

    # --- pool -----------------------------------------------------------------------------

    def claim(self, lead_id: int, rep: str, now: Any = None) -> Lead:
        """A rep claims a pool lead (capacity, daily claim cap and cooldown apply)."""
        return pool.claim(self, lead_id, rep, self.crm.as_of(now))

    def release(self, lead_id: int, rep: str, reason: str | None = None, now: Any = None) -> Lead:
        """The owner puts a lead back in the pool."""
        return pool.release(self, lead_id, rep, reason, self.crm.as_of(now))

    def reassign(self, lead_id: int, rep: str, reason: str, now: Any = None) -> Lead:
        """Move an open lead to another rep by hand, with a reason."""
        return pool.reassign(self, lead_id, rep, reason, self.crm.as_of(now))

    def extend(self, lead_id: int, rep: str, reason: str | None = None, now: Any = None) -> Lead:
        """The owner gets ``extension_days`` more before the lead is recycled (at most ``max_extensions``)."""
        return pool.extend(self, lead_id, rep, reason, self.crm.as_of(now))

    def protect(self, lead_id: int, by: str, reason: str) -> Lead:
        """Protect a lead from recycling; ``by`` and ``reason`` are recorded."""
        return pool.protect(self, lead_id, by, reason, True)

    def unprotect(self, lead_id: int, by: str, reason: str | None = None) -> Lead:
        """Let a protected lead be recycled again."""
        return pool.protect(self, lead_id, by, reason or "", False)

    def recycle(self, now: Any = None) -> dict:
        """Recycle lapsed leads and create reminder tasks as of ``now`` (what ``crmkit_due`` runs)."""
        with self.crm.transaction():
            return pool.recycle(self, self.crm.as_of(now))

    # --- allocation -----------------------------------------------------------------------

    def add_rule(self, name: str, rule: Any, *, team: str | None = None, reps: Iterable[str] = ()) -> AllocationRule:
        """Append an allocation rule for the ``rules`` strategy: matching leads go to a team or reps.

        ``reps`` is a list of rep ids (``["ann"]`` for one). The rule is compiled before anything
        is saved, so a rule the segment compiler refuses is a RuleError here, not at allocation.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("name", name, "a non-empty rule name")
        check_storable_text(name, "name")
        if len(name) > MAX_RULE_NAME:
            raise ValidationError("name", name, f"a rule name of at most {MAX_RULE_NAME} characters")
        if isinstance(reps, (str, bytes)) or not isinstance(reps, Iterable):
            raise ValidationError("reps", reps, 'a list of rep ids, e.g. ["ann"] for one rep')
        reps = tuple(reps)
        text = self.crm.segments.resolve(rule)
        self.crm.segments.compile(text)
        if not team and not reps:
            raise ValidationError("rule", name, "a team or a list of reps to send the matching leads to")
        for rep_id in reps:
            self.rep(rep_id)
        if team and not any(r.team == team for r in self.reps()):
            raise NotFound(f"no rep is in team {team!r}")
        with self.crm.transaction():
            if any(r.name == name for r in self.rules()):
                raise ConflictError(f"allocation rule {name!r} exists; remove it first")
            self.crm.db.execute(queries.INSERT_RULE, {
                "name": name, "rule": rule if isinstance(rule, str) and rule in self.crm.segments else text,
                "team": team, "reps": json.dumps(list(reps)), "now": to_iso(self.crm.now()),
            })
            self.crm.audit.record("lead_rule.add", "lead_rule", name, after={"rule": text, "team": team, "reps": list(reps)}, source="leads")
        return next(r for r in self.rules() if r.name == name)

    def remove_rule(self, name: str) -> None:
        """Delete an allocation rule."""
        with self.crm.transaction():
            if not any(r.name == name for r in self.rules()):  # compared here: no engine is asked about a NUL
                raise NotFound(f"no allocation rule named {name!r}")
            self.crm.db.execute(queries.DELETE_RULE, [name])
            self.crm.audit.record("lead_rule.remove", "lead_rule", name, source="leads")

    def rules(self) -> list[AllocationRule]:
        """The allocation rules in the order they are tried."""
        return [
            AllocationRule(row["name"], row["rule"], row["team"], tuple(json.loads(row["reps"])), row["position"])
            for row in self.crm.db.query(queries.ALL_RULES)
        ]

    def strategy_list(self) -> list[dict]:
        """Every known strategy: name, kind (selector/picker), plugin and description."""
        return [
            {"name": s.name, "kind": "selector" if isinstance(s, Selector) else "picker", "plugin": s.plugin, "description": s.description}
            for s in self.strategies
        ]

    def allocate(self, lead_ids: "Iterable[int] | str" = "pool", strategy: "str | Strategy | Selector | Picker" = "least_loaded",
                 *, dry_run: bool = False, as_of: Any = None, _how: str = "allocate") -> AllocationResult:
        """Assign pool leads to reps with a strategy, in one transaction; returns what went where and why.

        ``lead_ids`` is ``"pool"`` (every pool lead) or ids of pool leads. ``dry_run=True``
        returns the plan and writes nothing. Inactive reps and reps without room (capacity,
        daily quota) are never chosen; a lead never goes back to its previous owner.
        """
        chain = self.strategies.parse(strategy)
        moment = self.crm.as_of(as_of)
        db = self.crm.db
        ids = None if isinstance(lead_ids, str) and lead_ids == "pool" else _lead_ids(lead_ids)
        with self.crm.transaction():
            if ids is not None:
                wrong = db.execute(queries.NOT_IN_POOL, {"ids": json.dumps(ids)}).fetchall()
                if wrong:
                    shown = ", ".join(f"{lead} ({status or 'no such lead'})" for lead, status in wrong[:5])
                    raise ConflictError(f"only pool leads can be allocated; not in the pool: {shown}")
            rotation_after = self.crm.settings.get("leads.round_robin_last")
            try:
                reps = allocation.eligible_reps(self, moment)
                result = allocation.plan(self, chain, moment, lead_ids=ids, reps=reps, rotation_after=rotation_after)
                if not dry_run and result.moves:
                    allocation.apply_plan(self, moment, how=_how)
                    if chain.picker.name == "round_robin":
                        self.crm.settings.set("leads.round_robin_last", result.moves[-1].rep)
            finally:
                queries.drop_plan_tables(db)
        return attrs.evolve(result, dry_run=dry_run)

    # --- scoring, backtests, figures --------------------------------------------------------

    def train(self, as_of: Any = None, *, since: Any = None, alpha: float = 1.0) -> dict:
        """Train the lead-score model on leads closed by ``as_of`` and score every open lead."""
        return scoring.train_and_score(self, self.crm.as_of(as_of), since=since, alpha=alpha)

    def explain(self, lead_id: int) -> dict:
        """A lead's score with the values that raised or lowered it."""
        return scoring.explain(self, lead_id)

    def scores(self, *, limit: int | None = None) -> list[dict]:
        """Every open lead's score with its top reasons, best first (exportable rows)."""
        return scoring.score_rows(self, limit=None if limit is None else _whole("limit", limit, 0))

    def export_scores(self, path: str | Path) -> int:
        """Write every open lead's score and explanation to a CSV file; returns the row count."""
        return scoring.export(self, Path(path))

    def calibration(self, train_until: Any, holdout_until: Any, *, bands: int = 5, alpha: float = 1.0) -> list[dict]:
        """Predicted vs actual conversion by score band, for leads received in the holdout period."""
        return scoring.calibration(self, self.crm.as_of(train_until), self.crm.as_of(holdout_until), bands=bands, alpha=alpha)

    def backtest(self, strategy: Any, since: Any, until: Any, *, seed: int = 0) -> dict:
        """Replay the leads received in ``[since, until)`` through a strategy; see docs."""
        return backtest.run(self, self.strategies.parse(strategy), self.crm.as_of(since), self.crm.as_of(until), seed=seed)

    def stats(self, as_of: Any = None, by: str | None = None) -> list[dict]:
        """Lead figures as of a time, overall or by ``rep``, ``team``, ``source`` or ``class``."""
        return figures.stats(self, self.crm.as_of(as_of), by)

    def fairness(self, as_of: Any = None) -> dict:
        """Open load per rep against capacity and the capacity-weighted Gini coefficient."""
        return figures.fairness(self, self.crm.as_of(as_of))

