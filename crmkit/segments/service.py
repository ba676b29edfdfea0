"""Segments: named rules, their live members, snapshots and the changes between snapshots."""

from __future__ import annotations

import functools
import json
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterator

import attrs
from attrs import frozen

from .. import history
from ..engine.errors import StatementError
from ..errors import ConflictError, NotFound, RuleError
from ..models import Customer, Segment, is_storable_text
from ..timeutil import from_iso, to_iso
from .ast import Truthy
from .builder import Condition, FieldRef
from .compiler import FROM_CUSTOMERS, CompiledRule, compile_rule
from .parser import parse

if TYPE_CHECKING:
    from ..crm import CRM

_ORDERABLE = ("id", "name", "created_at", "region", "company", "owner")
_NULLABLE = frozenset({"region", "company", "owner"})  # the orderable columns a customer may leave empty


@contextmanager
def engine_errors_as_rule_errors(rule: str) -> Iterator[None]:
    """Turn the database's refusal to run a rule's SQL (too complex, a bad field expression)
    into a RuleError naming the rule: the parser's limits should make this rare."""
    try:
        yield
    except StatementError as error:
        raise RuleError(f"the database could not run this rule ({error})", rule) from error
    except OverflowError as error:  # a value past what the driver binds (64-bit integers)
        raise RuleError(f"a number or date in this rule is out of range ({error})", rule) from error


@frozen
class Snapshot:
    """A segment's membership stored at a moment."""

    id: int
    segment: str
    rule: str
    as_of: datetime
    taken_at: datetime
    members: int


@frozen
class SnapshotDiff:
    """Who joined and who left between two snapshots (customer ids, ascending)."""

    before: Snapshot
    after: Snapshot
    joined: list[int]
    left: list[int]
    stayed: int


# What history.horizons reads, as two columns to add to another statement's row.
_HORIZONS = "(SELECT value FROM settings WHERE key = 'core.log_horizon'), (SELECT max(valid_from) FROM customer_history)"


def _reads_the_past(stamp: str, log_horizon: str | None, changed: str | None) -> tuple[bool, bool]:
    """Whether a rule as of ``stamp`` reads the log's history (before its horizon, the log was
    pruned to summaries) and the customers' versions (before the newest change)."""
    return log_horizon is not None and stamp < log_horizon, changed is not None and stamp < changed


@functools.lru_cache(maxsize=512)
def _parse(text: str):
    """The syntax tree of rule text (immutable, so one tree serves every caller)."""
    return parse(text)


def rule_text(rule: Any) -> str:
    """Rule text from text, a builder condition or a bare field reference."""
    if isinstance(rule, Condition):
        return str(rule)
    if isinstance(rule, FieldRef):
        return str(Truthy(rule.name))
    if isinstance(rule, str):
        return rule
    raise RuleError(f"a rule is text or a builder condition (F.x > 1), not {type(rule).__name__}")


class RuleView:
    """The customers matching a rule as of a time; the same API as a saved segment."""

    def __init__(self, crm: "CRM", rule: str, as_of: Any = None, name: str | None = None, within: str | None = None):
        self._crm = crm
        self.rule = rule
        self.name = name
        self.within = within
        self._as_of = as_of
        crm.segments.compile(rule, reads_the_past=False, within=within)  # fail now, not on first use

    def compiled(self, as_of: Any = None) -> CompiledRule:
        """The rule compiled to SQL as of a time (default: the view's ``as_of``, else the clock)."""
        return self._crm.segments.compile(self.rule, as_of if as_of is not None else self._as_of, within=self.within)

    def count(self, as_of: Any = None) -> int:
        """Number of members."""
        segments = self._crm.segments
        moment = self._crm.as_of(as_of if as_of is not None else self._as_of)
        # One round trip: the count as the present's values answer it, and the horizons that
        # say whether they do; a time before a horizon (rare) counts again from the past's.
        compiled = segments.compile_as(self.rule, moment, use_history=False, use_versions=False, within=self.within)
        with engine_errors_as_rule_errors(self.rule):
            count, log_horizon, changed = self._crm.db.execute(
                f"SELECT ({compiled.count_query()}), {_HORIZONS}", compiled.params,
            ).fetchone()
        use_history, use_versions = _reads_the_past(
            to_iso(moment), None if log_horizon is None else json.loads(log_horizon), changed,
        )
        if not (use_history or use_versions):
            return count
        compiled = segments.compile_as(self.rule, moment, use_history=use_history, use_versions=use_versions, within=self.within)
        with engine_errors_as_rule_errors(self.rule):
            return self._crm.db.execute(compiled.count_query(), compiled.params).fetchone()[0]

    def customers(self, limit: int = 50, offset: int = 0, as_of: Any = None, order_by: str = "id", descending: bool = False) -> list[Customer]:
        """One page of members as Customer records."""
        if order_by not in _ORDERABLE:
            raise RuleError(f"order_by must be one of {', '.join(_ORDERABLE)}, not {order_by!r}")
        compiled = self.compiled(as_of)
        direction = "DESC" if descending else "ASC"
        # Customers without the field come last either way (SQLite's default puts them first
        # in an ascending order, PostgreSQL's last: the same page differed by engine).
        empty_last = " NULLS LAST" if order_by in _NULLABLE else ""
        sql = (
            f"SELECT c.* FROM {FROM_CUSTOMERS} WHERE {compiled.where} "
            f"ORDER BY c.{order_by} {direction}{empty_last}, c.id {direction} LIMIT :_limit OFFSET :_offset"
        )
        params = dict(compiled.params, _limit=int(limit), _offset=int(offset))
        with engine_errors_as_rule_errors(self.rule):
            rows = list(self._crm.db.query(sql, params))
        return [Customer.from_row(row) for row in rows]

    def ids(self, as_of: Any = None) -> Iterator[int]:
        """Member ids, ascending, streamed."""
        compiled = self.compiled(as_of)
        with engine_errors_as_rule_errors(self.rule):
            cursor = self._crm.db.execute(compiled.id_query() + " ORDER BY c.id", compiled.params)
        for (customer_id,) in cursor:
            yield customer_id

    def __contains__(self, customer_id: int) -> bool:
        compiled = self.compiled()
        sql = f"SELECT 1 FROM {FROM_CUSTOMERS} WHERE c.id = :_cid AND {compiled.where}"
        with engine_errors_as_rule_errors(self.rule):
            return self._crm.db.execute(sql, dict(compiled.params, _cid=customer_id)).fetchone() is not None

    def __repr__(self) -> str:
        label = f"segment {self.name!r}" if self.name else "rule"
        return f"<{label}: {self.rule}>"

    def _repr_html_(self) -> str:
        from ..display import segment_html

        return segment_html(self)


class SegmentView(RuleView):
    """A saved segment: live membership plus snapshots."""

    def __init__(self, crm: "CRM", segment: Segment):
        super().__init__(crm, segment.rule, name=segment.name)
        self.segment = segment
        self.description = segment.description

    def snapshot(self, as_of: Any = None) -> Snapshot:
        """Store the membership as of a time (default: the CRM's clock) and return the snapshot."""
        crm = self._crm
        moment = crm.as_of(as_of)
        compiled = self.compiled(moment)
        with crm.transaction():
            cursor = crm.db.execute(
                "INSERT INTO segment_snapshots(segment, rule, as_of, taken_at, members) VALUES (?, ?, ?, ?, 0) RETURNING id",
                [self.name, self.rule, to_iso(moment), to_iso(crm.now())],
            )
            snapshot_id = cursor.fetchone()[0]
            with engine_errors_as_rule_errors(self.rule):
                crm.db.execute(
                    f"INSERT INTO segment_snapshot_members(snapshot_id, customer_id) "
                    f"SELECT :_snapshot, c.id FROM {FROM_CUSTOMERS} WHERE {compiled.where}",
                    dict(compiled.params, _snapshot=snapshot_id),
                )
            members = crm.db.execute("SELECT count(*) FROM segment_snapshot_members WHERE snapshot_id = ?", [snapshot_id]).fetchone()[0]
            crm.db.execute("UPDATE segment_snapshots SET members = ? WHERE id = ?", [members, snapshot_id])
            crm.audit.record("segment.snapshot", "segment", self.name, after={"snapshot": snapshot_id, "members": members, "as_of": to_iso(moment)})
        return crm.segments.snapshot(snapshot_id)

    def snapshots(self) -> list[Snapshot]:
        """This segment's snapshots, oldest first."""
        return self._crm.segments.snapshots(self.name)


class Segments:
    """Define, change and evaluate segments; ``crm.segments["vip"]`` gives a saved one."""

    #: Compiled rules kept per CRM object (all are dropped when there are more).
    CACHE_SIZE = 256

    def __init__(self, crm: "CRM"):
        self._crm = crm
        self._compiled: dict[tuple, tuple[CompiledRule, tuple]] = {}

    # --- rules ----------------------------------------------------------------------------

    def parse(self, rule: Any):
        """The syntax tree of a rule (RuleError if it does not parse)."""
        return _parse(rule_text(rule))

    def compile(self, rule: Any, as_of: Any = None, *, reads_the_past: bool = True, within: Any = None) -> CompiledRule:
        """Compile a rule (text or builder) to SQL as of a time; checks fields and types.

        With ``reads_the_past=False`` the rule is compiled as of now without asking the database
        whether ``as_of`` predates the log's horizon or a customer's change: enough to check it.
        ``within`` is a second rule the members must also meet, on the customers' present values
        whatever ``as_of`` is (a user's row scope); its own limits apply to it, not the rule's.
        """
        text = rule_text(rule)
        moment = self._crm.as_of(as_of)
        use_history = use_versions = False
        if reads_the_past:
            use_history, use_versions = _reads_the_past(to_iso(moment), *history.horizons(self._crm.db))
        return self.compile_as(text, moment, use_history=use_history, use_versions=use_versions, within=within)

    def compile_as(
        self, rule: Any, moment: datetime, *, use_history: bool, use_versions: bool, within: Any = None,
    ) -> CompiledRule:
        """Compile a rule as of ``moment`` (an aware time) reading the log's history and the
        customers' versions as told, without asking the database: :meth:`compile` asks it.

        Compiled rules are kept: the same text, time and choices compile once while the fields
        the rule uses stay as they were (a field added or replaced compiles it again).
        """
        self._crm.interactions.update_summary()  # the summary fields read it
        text = rule_text(rule)
        scope = None if within is None else rule_text(within)
        fields = self._crm.fields
        key = (text, scope, moment, moment.tzinfo, use_history, use_versions, id(fields), id(fields.calendar), self._crm.exponent)
        cached = self._compiled.get(key)
        if cached is not None:
            compiled, used = cached
            if all(fields.get(name) == field for name, field in used):
                return attrs.evolve(compiled, params=dict(compiled.params))
        compiled = compile_rule(
            _parse(text), text, fields, moment, use_history=use_history, exponent=self._crm.exponent,
            use_versions=use_versions, within=None if scope is None else _parse(scope), within_text=scope or "",
        )
        if len(self._compiled) >= self.CACHE_SIZE:
            self._compiled.clear()
        self._compiled[key] = (compiled, tuple((name, fields.get(name)) for name in compiled.fields))
        return attrs.evolve(compiled, params=dict(compiled.params))

    def check(self, rule: Any) -> str:
        """Validate a rule; returns its normalised text (RuleError with position if bad).

        Beyond parsing and compiling, the database prepares the rule's query (reading no rows),
        so a rule that passes the check also runs."""
        text = rule_text(rule)
        self._probe(text)
        return str(_parse(text))

    def _probe(self, text: str) -> None:
        compiled = self.compile(text)
        with engine_errors_as_rule_errors(text):
            self._crm.db.execute(compiled.id_query() + " LIMIT 0", compiled.params).fetchall()

    def evaluate(self, rule: Any, as_of: Any = None, *, within: Any = None) -> RuleView:
        """An unsaved rule's members, with the same methods as a saved segment.

        ``within`` limits them to the customers a second rule holds now, whatever ``as_of`` is:
        a user's row scope (:func:`crmkit.permissions.scope_rule`) over a list as of a past date
        keeps the customers in that scope today.
        """
        return RuleView(self._crm, rule_text(rule), as_of, within=None if within is None else rule_text(within))

    def resolve(self, segment_or_rule: Any) -> str:
        """The rule text of a saved segment's name, or the text of a rule given directly."""
        if isinstance(segment_or_rule, str) and segment_or_rule in self:
            return self.get(segment_or_rule).rule
        return rule_text(segment_or_rule)

    # --- saved segments -------------------------------------------------------------------

    def define(self, name: str, rule: Any, description: str | None = None) -> SegmentView:
        """Save a named segment; the rule is checked first. A taken name is a ConflictError."""
        crm = self._crm
        now = crm.now()
        segment = Segment(name=name, rule=rule_text(rule), description=description, created_at=now, updated_at=now)
        self._probe(segment.rule)
        with crm.transaction():
            if segment.name in self:
                raise ConflictError(f"segment {segment.name!r} exists; use segments.update() (crmkit segments update) to change it")
            crm.db.execute(
                "INSERT INTO segments(name, rule, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                [segment.name, segment.rule, segment.description, to_iso(now), to_iso(now)],
            )
            crm.audit.record("segment.define", "segment", segment.name, after={"rule": segment.rule, "description": description})
        return self[segment.name]

    def update(self, name: str, rule: Any = None, description: str | None = None) -> SegmentView:
        """Change a segment's rule and/or description."""
        crm = self._crm
        with crm.transaction():
            before = self.get(name)
            new_rule = before.rule if rule is None else rule_text(rule)
            self._probe(new_rule)
            new_description = before.description if description is None else description
            crm.db.execute(
                "UPDATE segments SET rule = ?, description = ?, updated_at = ? WHERE name = ?",
                [new_rule, new_description, to_iso(crm.now()), name],
            )
            crm.audit.record(
                "segment.update", "segment", name,
                before={"rule": before.rule, "description": before.description},
                after={"rule": new_rule, "description": new_description},
            )
        return self[name]

    def delete(self, name: str) -> None:
        """Delete a segment and its snapshots."""
        crm = self._crm
        with crm.transaction():
            before = self.get(name)
            crm.db.execute(
                "DELETE FROM segment_snapshot_members WHERE snapshot_id IN (SELECT id FROM segment_snapshots WHERE segment = ?)",
                [name],
            )
            crm.db.execute("DELETE FROM segment_snapshots WHERE segment = ?", [name])
            crm.db.execute("DELETE FROM segments WHERE name = ?", [name])
            crm.audit.record("segment.delete", "segment", name, before={"rule": before.rule, "description": before.description})

    def get(self, name: str) -> Segment:
        """The saved segment record (NotFound if there is none)."""
        rows = list(self._crm.db.query("SELECT * FROM segments WHERE name = ?", [name])) if _may_name(name) else []
        if not rows:
            known = [s.name for s in self.list()]
            hint = f"; saved segments: {', '.join(known)}" if known else "; none is saved yet"
            raise NotFound(f"no segment named {name!r}{hint}")
        return Segment.from_row(rows[0])

    def list(self) -> list[Segment]:
        """Every saved segment, by name."""
        return [Segment.from_row(row) for row in self._crm.db.query("SELECT * FROM segments ORDER BY name")]

    def __getitem__(self, name: str) -> SegmentView:
        return SegmentView(self._crm, self.get(name))

    def __contains__(self, name: object) -> bool:
        return _may_name(name) and self._crm.db.execute("SELECT 1 FROM segments WHERE name = ?", [name]).fetchone() is not None

    def __iter__(self) -> Iterator[SegmentView]:
        return iter([self[s.name] for s in self.list()])

    # --- snapshots ------------------------------------------------------------------------

    def snapshot(self, snapshot_id: int) -> Snapshot:
        """One snapshot by id."""
        row = self._crm.db.execute(
            "SELECT id, segment, rule, as_of, taken_at, members FROM segment_snapshots WHERE id = ?", [snapshot_id]
        ).fetchone()
        if row is None:
            raise NotFound(f"no snapshot with id {snapshot_id}")
        return Snapshot(row[0], row[1], row[2], from_iso(row[3]), from_iso(row[4]), row[5])

    def snapshots(self, name: str | None = None) -> list[Snapshot]:
        """Snapshots of one segment (or all), oldest first."""
        sql = "SELECT id FROM segment_snapshots" + (" WHERE segment = ?" if name else "") + " ORDER BY as_of, id"
        return [self.snapshot(row[0]) for row in self._crm.db.execute(sql, [name] if name else [])]

    def snapshot_members(self, snapshot: Snapshot | int) -> list[int]:
        """Customer ids in a snapshot, ascending."""
        snapshot_id = snapshot.id if isinstance(snapshot, Snapshot) else snapshot
        self.snapshot(snapshot_id)
        return [r[0] for r in self._crm.db.execute(
            "SELECT customer_id FROM segment_snapshot_members WHERE snapshot_id = ? ORDER BY customer_id", [snapshot_id]
        )]

    def diff(self, before: Snapshot | int, after: Snapshot | int) -> SnapshotDiff:
        """Who joined and who left between two snapshots (of any segments)."""
        first = self.snapshot(before.id if isinstance(before, Snapshot) else before)
        second = self.snapshot(after.id if isinstance(after, Snapshot) else after)
        db = self._crm.db
        difference = (
            "SELECT customer_id FROM segment_snapshot_members WHERE snapshot_id = ? "
            "EXCEPT SELECT customer_id FROM segment_snapshot_members WHERE snapshot_id = ? ORDER BY 1"
        )
        joined = [r[0] for r in db.execute(difference, [second.id, first.id])]
        left = [r[0] for r in db.execute(difference, [first.id, second.id])]
        return SnapshotDiff(first, second, joined, left, second.members - len(joined))


def _may_name(name: object) -> bool:
    """Whether ``name`` could be a saved segment's name: text both engines store (no NUL, no lone
    surrogate; PostgreSQL cannot even be asked about one with a NUL)."""
    return isinstance(name, str) and is_storable_text(name)
