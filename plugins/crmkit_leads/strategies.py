"""Allocation strategies: selectors pick the candidate reps, a picker chooses among them.

A strategy is written ``"rules > skill_match > least_loaded"``: any number of selectors, then
one picker (``least_loaded`` when the chain ends with a selector). Every strategy is a plain,
documented function wrapped in :class:`Selector` or :class:`Picker`; other plugins add theirs
through the ``crmkit_leads_strategies`` hook. A plugin never imports another, so the hook also
takes plain mappings ``{"kind": "selector" | "picker", "name": ..., "fn": ...}`` (or any object
with those attributes), and a selector may name its candidates with mappings
``{"reps": ..., "label": ..., "scores": ...}``: :meth:`StrategyRegistry.add` turns them into the
types below.

* A **selector** ``fn(ctx)`` labels each lead being allocated with a key (through
  ``ctx.lead_values(sql)`` or ``ctx.first_match(rules)``, both one SQL statement) and returns
  ``{key: Candidates(reps, label)}``; ``reps=None`` leaves the candidates unrestricted.
  Selectors in a chain intersect.
* A **picker** ``fn(ctx)`` returns an SQL expression that orders free slots, lower first. A slot
  is "the k-th extra lead for a rep"; its columns are ``s.rep_id``, ``s.k``, ``s.open_leads``
  (before this allocation), ``s.capacity``, ``s.weight`` (smoothed conversion rate),
  ``s.rotation`` (round-robin position) and ``s.experience``. The i-th lead in priority order
  gets the i-th slot, so a whole batch is placed with one query.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable

from attrs import field, frozen

from crmkit import CrmError

from . import queries

if TYPE_CHECKING:
    from .allocation import PlanContext


@frozen
class Candidates:
    """The reps a group of leads may go to (None: any rep) and a label for the reason.

    With ``scores`` (rep id → points) the selector ranks instead of filtering: of the reps still
    allowed by the selectors before it, those with the most points (more than 0) remain; when
    none has a point, all remain. ``{best}`` in the label becomes the winning points.
    """

    reps: list[str] | None
    label: str
    scores: dict | None = None


@frozen
class Selector:
    """A named candidate filter; ``fn(ctx)`` returns ``{key: Candidates}``."""

    name: str
    fn: Callable[["PlanContext"], dict] = field(eq=False)
    plugin: str = "leads"

    @property
    def description(self) -> str:
        return (self.fn.__doc__ or "").strip().split("\n\n")[0]


@frozen
class Picker:
    """A named tie-break; ``fn(ctx)`` returns an SQL expression ordering slots (lower first)."""

    name: str
    fn: Callable[["PlanContext"], str] = field(eq=False)
    plugin: str = "leads"

    @property
    def description(self) -> str:
        return (self.fn.__doc__ or "").strip().split("\n\n")[0]


# --- selectors --------------------------------------------------------------------------------

def rules(ctx: "PlanContext") -> dict:
    """Rule-based: the first allocation rule whose segment rule matches the lead names its reps.

    Rules are kept in order with ``crm.leads.add_rule(name, rule, team=..., reps=[...])``; a
    rule's rule is segment rule text or a saved segment's name. A lead no rule matches may go to
    any rep.
    """
    saved = ctx.service.rules()
    keys = ctx.first_match([r.rule for r in saved])
    out = {None: Candidates(None, "no rule matched")}
    for index, rule in enumerate(saved):
        if str(index) not in keys:
            continue
        reps = list(rule.reps)
        if rule.team:
            reps += [r.id for r in ctx.reps if r.team == rule.team and r.id not in reps]
        target = f"team {rule.team}" if rule.team and not rule.reps else ", ".join(reps) or "nobody"
        out[str(index)] = Candidates(reps, f"rule {rule.name!r} → {target}")
    return out


def skill_match(ctx: "PlanContext") -> dict:
    """Skill match: the reps whose skills cover most of the lead's industry, product and language.

    Each of the three that the rep's skills list counts one point; among the reps the earlier
    selectors allow, those with the most points (at least one) are the candidates. A lead no
    allowed rep matches at all may go to any of them.
    """
    keys = ctx.lead_values(queries.SKILL_KEY_SQL)
    out = {}
    for key in keys:
        industry, product, language = (key or "||").split("|")
        scores = {}
        for rep in ctx.reps:
            score = (industry in rep.industries) + (product in rep.products) + (language in rep.languages)
            if score:
                scores[rep.id] = score
        wanted = [f"{k} {v}" for k, v in (("industry", industry), ("product", product), ("language", language)) if v]
        label = f"skills {{best}}/{len(wanted)} ({', '.join(wanted)})" if wanted else "no skills asked"
        out[key] = Candidates(None, label, scores=scores)
    return out


# --- pickers ----------------------------------------------------------------------------------

def least_loaded(ctx: "PlanContext") -> str:
    """Least loaded: the rep whose open leads per unit of capacity would be lowest.

    A rep with 3 of 10 open takes the next lead before one with 5 of 10; the batch fills reps
    evenly up to their capacity, in proportion to it.
    """
    return "(s.open_leads + s.k) * 1.0 / s.capacity"


def round_robin(ctx: "PlanContext") -> str:
    """Round robin: reps take turns in id order, continuing after the rep who got the last lead.

    Reps without room are skipped; the turn is remembered between allocations.
    """
    return "s.k * 100000 + s.rotation"


def performance_weighted(ctx: "PlanContext") -> str:
    """Performance-weighted: leads in proportion to each rep's smoothed conversion rate.

    The weight is (converted + 1) / (converted + lost + 2) over the rep's closed leads as of the
    allocation; a rep converting twice as often receives about twice as many leads.
    """
    return "(s.open_leads + s.k) * 1.0 / s.weight"


BUILT_IN = (
    Selector("rules", rules),
    Selector("skill_match", skill_match),
    Picker("least_loaded", least_loaded),
    Picker("round_robin", round_robin),
    Picker("performance_weighted", performance_weighted),
)


@frozen
class Strategy:
    """A chain of selectors and one picker, e.g. ``rules > skill_match > least_loaded``."""

    selectors: tuple[Selector, ...]
    picker: Picker

    @property
    def name(self) -> str:
        return " > ".join([s.name for s in self.selectors] + [self.picker.name])


class StrategyRegistry:
    """The strategies known to one CRM: the built-in ones plus those plugins contribute."""

    def __init__(self) -> None:
        self._items: dict[str, Selector | Picker] = {}

    def add(self, item: "Selector | Picker | Mapping[str, Any]", plugin: str = "leads") -> None:
        """Register a strategy: a Selector or Picker, or a mapping (or object) with ``kind``
        (``"selector"`` or ``"picker"``), ``name`` and ``fn``; a name contributed twice is an
        error naming both plugins."""
        item = _strategy_of(item, plugin)
        existing = self._items.get(item.name)
        if existing is not None:
            raise CrmError(f"strategy {item.name!r} is contributed by both {existing.plugin!r} and {plugin!r}")
        if isinstance(item, Selector) and plugin != "leads":
            self._items[item.name] = Selector(item.name, _naming_candidates(item.fn, item.name, plugin), plugin)
        else:
            self._items[item.name] = type(item)(item.name, item.fn, plugin)

    def __iter__(self):
        return iter(self._items.values())

    def parse(self, spec: "str | Strategy | Selector | Picker") -> Strategy:
        """A Strategy from ``"a > b > picker"`` text (or a single Selector/Picker)."""
        if isinstance(spec, Strategy):
            return spec
        if isinstance(spec, (Selector, Picker)):
            parts: list = [spec]
        else:
            if not isinstance(spec, str) or not spec.strip():
                raise CrmError(f"a strategy is text like 'rules > least_loaded', not {spec!r}")
            parts = []
            for name in (p.strip() for p in spec.split(">")):
                item = self._items.get(name)
                if item is None:
                    known = ", ".join(sorted(self._items))
                    raise CrmError(f"unknown allocation strategy {name!r}; known: {known}")
                parts.append(item)
        pickers = [p for p in parts if isinstance(p, Picker)]
        if len(pickers) > 1 or (pickers and parts[-1] is not pickers[0]):
            raise CrmError(f"strategy {spec!r}: selectors first, then at most one picker, last")
        picker = pickers[0] if pickers else self._items["least_loaded"]
        return Strategy(tuple(p for p in parts if isinstance(p, Selector)), picker)


_SHAPE = "a crmkit_leads.Selector or Picker, or a mapping with kind ('selector' or 'picker'), name and fn"


def _attribute(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)


def _strategy_of(item: Any, plugin: str) -> Selector | Picker:
    """A strategy a plugin returned, as a Selector or Picker (see the module's docstring)."""
    if isinstance(item, (Selector, Picker)):
        return item
    kind, name, fn = (_attribute(item, key) for key in ("kind", "name", "fn"))
    if kind not in ("selector", "picker") or not isinstance(name, str) or not name.strip() or not callable(fn):
        raise CrmError(f"plugin {plugin!r} returned {item!r} as a strategy; return {_SHAPE}")
    return (Selector if kind == "selector" else Picker)(name, fn, plugin)


def _naming_candidates(fn: Callable, name: str, plugin: str) -> Callable:
    """``fn``, a plugin's selector, with the candidates it names as :class:`Candidates`: it may
    give mappings (or objects) with ``reps``, ``label`` and, optionally, ``scores``."""

    def selector(ctx: "PlanContext") -> dict:
        found = fn(ctx) or {}
        if not isinstance(found, Mapping):
            raise CrmError(f"selector {name!r} of plugin {plugin!r} returned {found!r}; return {{label: candidates}}")
        return {key: _candidates(value, name, plugin) for key, value in found.items()}

    selector.__doc__ = fn.__doc__  # the strategy's description
    return selector


def _candidates(value: Any, name: str, plugin: str) -> Candidates:
    if isinstance(value, Candidates):
        return value
    reps, label, scores = (_attribute(value, key) for key in ("reps", "label", "scores"))
    if (reps is not None and (isinstance(reps, (str, bytes)) or not hasattr(reps, "__iter__"))) or not isinstance(label, str) \
            or (scores is not None and not isinstance(scores, Mapping)):
        raise CrmError(
            f"selector {name!r} of plugin {plugin!r} named {value!r} as candidates; give crmkit_leads.Candidates "
            "or a mapping with reps (rep ids, or None for any rep), label (text) and, optionally, scores (rep id: points)"
        )
    return Candidates(None if reps is None else list(reps), label, None if scores is None else dict(scores))
