"""Every figure the dashboard shows for the demo, as people read it, in en_US and zh_CN.

The demo (300 customers, every built-in plugin) is built once; for each locale the dashboard is
opened on it and every tab is walked as an analyst would: the customer list (sorted both ways),
three customer pages with their cards and timeline, the segments, the leads board, the loyalty
tab, the complaint queue (two complaints opened for it, one of them overdue) with a complaint
opened, and the reports tab's cards; the leads and loyalty charts too (each mark's value and every
number drawn, in the CRM's locale). Each money value, rate, date, time and duration shown is
compared with babel's own rendering of the value stored in the database, read here with SQL;
no text is taken from crmkit's formatter. Every cell and card must also be free of internal keys
(snake_case), of "None", "nan" and "null", and ids read plain (1234, never 1,234).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser

import ipywidgets
import pytest
from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers

import crmkit
from crmkit import demo
from crmkit.demo import DEMO_TODAY
from crmkit.formatting import heading
from crmkit.testing import FixedClock
from crmkit_jupyter import dashboard
from crmkit_jupyter.toolkit import TableView

LOCALES = ("en_US", "zh_CN")
CURRENCY = "USD"
MISSING = "–"
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
EMPTY_WORDS = re.compile(r"\b(None|nan|NaN|null)\b")
TODAY = datetime(2025, 6, 30, 12, tzinfo=timezone.utc)  # the demo's today (its home zone is UTC)


# --- what babel writes: the independent rendering -------------------------------------------

def money(minor, locale):
    return MISSING if minor is None else babel_numbers.format_currency(Decimal(minor) / 100, CURRENCY, locale=locale)


def money_change(minor, locale):
    return ("+" if minor > 0 else "") + money(minor, locale)


def amount(value, locale):
    return babel_numbers.format_currency(Decimal(value), CURRENCY, locale=locale)


def rate(fraction, locale):
    return babel_numbers.format_percent(fraction, "#,##0.0%", locale=locale)


def number(value, locale):
    return babel_numbers.format_decimal(value, locale=locale)


def moment(text) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(timezone.utc)


def day(text, locale):
    return MISSING if text is None else babel_dates.format_date(moment(text).date(), "medium", locale=locale)


def when(text, locale):
    """A moment in a table cell: to the minute on the home zone's clock with the zone named,
    locale-neutral (``2025-06-30 12:00 UTC``), as status lines, the CLI and the report read."""
    if text is None:
        return MISSING
    return status_time(text)


def status_time(text):
    """Status lines read times locale-neutrally on the home zone's clock: ``2025-06-30 12:00 UTC``."""
    return moment(text).strftime("%Y-%m-%d %H:%M UTC")


def lateness(seconds_late, locale):
    words = babel_dates.format_timedelta(timedelta(seconds=abs(seconds_late)), threshold=1.5, locale=locale)
    if locale.startswith("zh"):
        return f"逾期{words}" if seconds_late > 0 else f"{words}后到期"
    return f"{words} overdue" if seconds_late > 0 else f"due in {words}"


def is_number(text, locale) -> bool:
    """``text`` is a number as the locale writes it (round-trips through babel)."""
    try:
        value = babel_numbers.parse_decimal(text, locale=locale, strict=True)
    except babel_numbers.NumberFormatError:
        return False
    return babel_numbers.format_decimal(value, locale=locale) == text


# --- what the dashboard shows -----------------------------------------------------------------

class _Tables(HTMLParser):
    """The tables of an HTML fragment as (headers, rows of cell texts), and its visible text."""

    def __init__(self):
        super().__init__()
        self.tables, self.text, self._cell, self._row = [], [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append(([], []))
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(("".join(self._cell).strip(), tag))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            headers, rows = self.tables[-1]
            if all(kind == "th" for _, kind in self._row):
                headers.extend(text for text, _ in self._row)
            else:
                rows.append([text for text, _ in self._row])
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        self.text.append(data)


def parsed(html: str) -> _Tables:
    parser = _Tables()
    parser.feed(re.sub(r"<style>.*?</style>", "", html, flags=re.S))
    return parser


def table_dicts(headers, rows) -> list[dict]:
    return [dict(zip(headers, row)) for row in rows]


def view_rows(view: TableView) -> list[dict]:
    return table_dicts([c["label"] for c in view.columns], view.rows)


def html_tables(widget) -> list[list[dict]]:
    return [table_dicts(headers, rows) for headers, rows in parsed(widget.value).tables]


def card(widget) -> tuple[str, str, str]:
    """(title, figure, change) of a KPI card."""
    def part(name):
        found = re.search(rf"class='crmkit-kpi-{name}'[^>]*>(.*?)</div>", widget.value)
        return unescape(found.group(1)) if found else ""

    return part("title"), part("figure"), part("delta")


def walk(widget):
    """Every widget under ``widget``, depth first."""
    yield widget
    for child in getattr(widget, "children", ()) or ():
        yield from walk(child)


_MARK = re.compile(r"^([^:;]+): ([^;]*); ([^:;]+): ([^;]*)$")


def chart_texts(view) -> list[str]:
    """What a drawn chart prints: its SVG's text elements (titles, ticks, categories, values)."""
    return [unescape(text) for text in re.findall(r"<text[^>]*>([^<]*)</text>", view.svg)]


def chart_marks(view) -> dict[tuple[str, str], str]:
    """Each mark of a drawn chart as it describes itself ("Tier: gold; Customers: 114"):
    (category key, series) -> the value's text."""
    marks = {}
    for label in re.findall(r'aria-label="([^"]*)"', view.svg):
        found = _MARK.match(unescape(label))
        if found:
            marks[(found.group(2), found.group(3))] = found.group(4)
    return marks


def check_chart(view, locale, seen, where, values, categories=()) -> list[str]:
    """A dashboard chart reads in the CRM's locale and currency: each mark's value is babel's
    text of ``values`` ((category key, series) -> number, read with SQL), every number it prints
    (ticks, legend, cell values) is a number as the locale writes it, and each category key in
    ``categories`` is shown in words. Returns the numbers it prints."""
    assert view.formatter.locale == Locale.parse(locale) and view.formatter.currency == CURRENCY, where
    assert chart_marks(view) == {key: number(value, locale) for key, value in values.items()}, where
    texts = seen.rows(where, [{"chart text": text} for text in chart_texts(view)])
    numbers = [row["chart text"] for row in texts if re.fullmatch(r"[-+\d.,\s]+", row["chart text"])]
    assert numbers and all(is_number(text, locale) for text in numbers), (where, numbers)
    shown = {row["chart text"] for row in texts}
    for key in categories:
        assert key.replace("_", " ").capitalize() in shown, (where, key)
    return numbers


class Seen:
    """Every cell and card text the test looked at, for the checks that hold everywhere."""

    def __init__(self):
        self.cells: list[tuple[str, str, str]] = []  # (where, column, text)

    def rows(self, where, rows, skip=()):
        for row in rows:
            for column, text in row.items():
                if column not in skip:
                    self.cells.append((where, column, text))
        return rows


# --- the demo ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("figures") / "demo.db"
    demo.build(path, customers=300, seed=7)
    clock = FixedClock(TODAY - timedelta(days=3))
    with crmkit.open(path, clock=clock) as crm:
        handler = crm.complaints.handlers()[0].name
        crm.complaints.open(5, category="billing", severity="high", owner=handler)  # three days old: overdue
        clock.set(TODAY - timedelta(hours=1))
        crm.complaints.open(6, category="delivery", severity="normal", owner=handler)  # an hour old: due later
    return path


@pytest.fixture(params=LOCALES)
def shown(request, demo_path):
    """The demo's dashboard in one locale (chosen by the CRM's core.locale setting)."""
    locale = request.param
    crm = crmkit.open(demo_path, clock=FixedClock(DEMO_TODAY))
    crm.settings.set("core.locale", locale)
    board = dashboard(crm)
    yield {"crm": crm, "board": board, "locale": locale, "seen": Seen()}
    board.close()
    crm.settings.set("core.locale", None)
    crm.close()


def sql(crm, statement, params=None):
    return crm.db.execute(statement, params or {}).fetchall()


def check_everywhere(seen: Seen, locale: str) -> None:
    assert seen.cells, "no figure was looked at"
    for where, column, text in seen.cells:
        assert text.strip(), f"{where}: empty cell in {column}"
        assert not SNAKE.search(text), f"{where}: a raw key in {column}: {text!r}"
        assert not EMPTY_WORDS.search(text), f"{where}: {text!r} in {column}"
        if column in ("#", "ID", "Customer #"):
            assert re.fullmatch(r"\d+", text), f"{where}: id {text!r} is not plain"


# --- the tests --------------------------------------------------------------------------------

def test_customer_list_and_customer_pages(shown):
    crm, locale, seen = shown["crm"], shown["locale"], shown["seen"]
    panel = shown["board"].select("Customers")
    stored = {
        cid: (net, last, tier)
        for cid, net, last, tier in sql(crm, """
            SELECT c.id, s.net_spend, s.last_purchase_at,
                   (SELECT h.to_tier FROM loyalty_tier_history h WHERE h.customer_id = c.id AND h.as_of <= :now
                    ORDER BY h.as_of DESC, h.id DESC LIMIT 1)
            FROM customers c LEFT JOIN customer_summary s ON s.customer_id = c.id""", {"now": DEMO_TODAY})
    }
    pages = []
    for descending in (False, True):
        panel.table.sort("name", descending=descending)
        pages.append(view_rows(panel.table.body))
    panel.table.sort("id", descending=False)
    pages.append(view_rows(panel.table.body))
    for rows in pages:
        assert len(rows) == 20
        for row in seen.rows("customer list", rows):
            net, last, tier = stored[int(row["#"])]
            assert row["Lifetime value"] == money(net, locale)
            assert row["Last purchase"] == day(last, locale)
            assert row["Tier"] == (tier or MISSING)
    assert any(row["Lifetime value"] != MISSING for row in pages[0])

    for cid in (int(pages[2][0]["#"]), 5, 54):
        panel.show(cid)
        cards = {title: figure for title, figure, _ in (card(w) for w in panel.cards.children)}
        seen.rows(f"customer {cid} cards", [cards])
        net, last, tier = stored[cid]
        assert cards["Lifetime value"] == money(net, locale)
        assert cards["Last purchase"] == day(last, locale)
        assert cards["Tier"] == (tier or MISSING)
        assert is_number(cards["Points"], locale) and is_number(cards["Open complaints"], locale)
        assert cards["Open complaints"] == number(sql(crm, """
            SELECT count(*) FROM complaints_complaints WHERE customer_id = :id
            AND status NOT IN ('resolved', 'rejected', 'followed_up', 'closed')""", {"id": cid})[0][0], locale)
        assert cards["Owner"] == sql(crm, "SELECT owner FROM customers WHERE id = :id", {"id": cid})[0][0]
        stored_events = {
            row[0]: row[1:] for row in sql(crm, "SELECT id, occurred_at, amount FROM interactions WHERE customer_id = :id", {"id": cid})
        }
        newest = sorted(stored_events.items(), key=lambda item: (item[1][0], item[0]), reverse=True)
        timeline = seen.rows(f"customer {cid} timeline", view_rows(panel.timeline.body))
        assert len(timeline) == min(len(newest), panel.timeline.page_size)
        for row, (_, (occurred, minor)) in zip(timeline, newest):
            assert row["When"] == when(occurred, locale)
            assert row["Amount"] == money(minor, locale)
        facts = html_tables(panel.facts)[0]
        seen.rows(f"customer {cid} plugin facts", facts, skip=("Meaning",))  # a field's meaning is prose naming the rule's as_of
        assert len(facts) == sum(1 for f in crm.fields if f.plugin != "core")
        clv = next(row["Value"] for row in facts if row["Fact"] == "CLV")  # the one money fact (loyalty's)
        valued = sql(crm, """SELECT v.clv, v.p_alive FROM loyalty_clv v WHERE v.customer_id = :id AND v.run_id =
                             (SELECT max(id) FROM loyalty_runs WHERE kind = 'clv' AND as_of <= :now)""", {"id": cid, "now": DEMO_TODAY})
        value, alive = valued[0] if valued else (None, None)
        assert clv == money(value, locale)
        assert cards["Churn risk"] == (MISSING if alive is None else rate(1 - alive, locale))
        for rows in html_tables(panel.tasks):
            seen.rows(f"customer {cid} tasks", rows)
            for row in rows:
                assert re.fullmatch(r"\d+", row["#"])
    check_everywhere(seen, locale)


def test_segments(shown):
    crm, locale, seen = shown["crm"], shown["locale"], shown["seen"]
    panel = shown["board"].select("Segments")
    saved = html_tables(panel.table)[0]
    for row in seen.rows("saved segments", saved, skip=("Rule", "Description")):
        assert is_number(row["Members"], locale)
    segment_count = sql(crm, "SELECT count(*) FROM segments")[0][0]
    assert len(saved) == segment_count
    editor = panel.editor
    editor.set_rule("ltv >= 1000")
    expected = sql(crm, "SELECT count(*) FROM customer_summary WHERE net_spend >= 100000")[0][0]
    assert number(expected, locale) in unescape(editor.count_html.value)
    preview = seen.rows("rule preview", view_rows(editor.preview.body))
    assert preview
    check_everywhere(seen, locale)


def test_leads_board(shown):
    crm, locale, seen = shown["crm"], shown["locale"], shown["seen"]
    panel = shown["board"].select("Leads")
    counts = html_tables(panel.counts)[0]
    stored = dict(sql(crm, "SELECT status, count(*) FROM leads_leads GROUP BY status"))
    for row in seen.rows("lead counts", counts):
        for label, text in row.items():
            key = label.lower().replace(" ", "_")
            assert text == number(stored.get(key, 0), locale), label
    pool = seen.rows("lead pool", view_rows(panel.pool.body))
    received = dict(sql(crm, "SELECT customer_id, received_at FROM leads_leads WHERE status = 'pool'"))
    assert len(pool) == len(received)
    for row in pool:
        assert row["Received"] == when(received[int(row["#"])], locale)
        assert is_number(row["Score"], locale) or row["Score"] == MISSING
    load = seen.rows("load per rep", html_tables(panel.load_table)[0])
    reps = {
        rep: (open_leads, capacity) for rep, open_leads, capacity in sql(crm, """
            SELECT r.id, (SELECT count(*) FROM leads_leads l WHERE l.owner = r.id AND l.status IN ('assigned', 'following_up')),
                   r.capacity FROM leads_reps r WHERE r.active = 1""")
    }
    assert len(load) == len(reps)
    for row in load:
        open_leads, capacity = reps[row["Rep"]]
        assert row["Open leads"] == number(open_leads, locale)
        assert row["Capacity"] == number(capacity, locale)
        assert row["Utilisation"] == rate(open_leads / capacity, locale)
    gini = re.search(r"Gini of open load\): ([^<]+)<", panel.load_table.value).group(1)
    assert is_number(gini, locale) and len(gini.split(".")[-1]) <= 2
    check_chart(panel.load_chart, locale, seen, "load per rep chart", {
        **{(rep, "Open leads"): open_leads for rep, (open_leads, _) in reps.items()},
        **{(rep, "Capacity"): capacity for rep, (_, capacity) in reps.items()},
    }, categories=reps)
    check_everywhere(seen, locale)


def test_loyalty_tab(shown):
    crm, locale, seen = shown["crm"], shown["locale"], shown["seen"]
    panel = shown["board"].select("Loyalty")
    run_id, run_as_of = sql(crm, "SELECT id, as_of FROM loyalty_runs WHERE kind = 'rfm' AND as_of <= :now ORDER BY as_of DESC, id DESC LIMIT 1",
                            {"now": DEMO_TODAY})[0]
    assert f"as of {status_time(run_as_of)}" in unescape(panel.rfm_info.value)
    grid = {(r, f): n for r, f, n in sql(crm, "SELECT r, f, count(*) FROM loyalty_rfm WHERE run_id = :run GROUP BY r, f", {"run": run_id})}
    assert panel.grid_rows == [{"R": f"R{r}", **{f"F{f}": grid.get((r, f), 0) for f in range(1, 6)}} for r in range(5, 0, -1)]
    cells = {(f"R{r}", f"F{f}"): grid.get((r, f), 0) for r in range(1, 6) for f in range(1, 6)}
    printed = check_chart(panel.grid, locale, seen, "RFM grid", cells)
    assert not Counter(number(n, locale) for n in cells.values()) - Counter(printed), "a heat-map cell without its count"
    segments = seen.rows("RFM segments", html_tables(panel.segments)[0])
    by_segment = {
        name: (n, monetary) for name, n, monetary in sql(
            crm, "SELECT segment, count(*), sum(monetary) FROM loyalty_rfm WHERE run_id = :run GROUP BY segment", {"run": run_id})
    }
    assert len(segments) == len(by_segment)
    for row in segments:
        name = next(key for key in by_segment if key.replace("_", " ").capitalize() == row["Segment"])
        n, monetary = by_segment[name]
        assert row["Customers"] == number(n, locale)
        assert row["Net spend"] == money(monetary, locale)
        assert is_number(row["Avg days since purchase"], locale)
    tiers = seen.rows("tiers", html_tables(panel.tiers)[0])
    members = dict(sql(crm, """
        SELECT t.to_tier, count(*) FROM loyalty_tier_history t
        WHERE t.id = (SELECT h.id FROM loyalty_tier_history h WHERE h.customer_id = t.customer_id AND h.as_of <= :now
                      ORDER BY h.as_of DESC, h.id DESC LIMIT 1) AND t.to_tier IS NOT NULL GROUP BY t.to_tier""", {"now": DEMO_TODAY}))
    assert {row["Tier"]: row["Customers"] for row in tiers} == {
        tier: number(members.get(tier, 0), locale) for tier in (row["Tier"] for row in tiers)
    }
    assert sum(members.values()) == sum(int(babel_numbers.parse_decimal(row["Customers"], locale=locale)) for row in tiers)
    check_chart(panel.tier_chart, locale, seen, "tier chart", {(row["Tier"], "Customers"): members.get(row["Tier"], 0) for row in tiers},
                categories=[row["Tier"] for row in tiers])
    moves = html_tables(panel.movement)
    for rows in moves:
        seen.rows("tier moves", rows)
    churn_run, churn_as_of = sql(crm, "SELECT id, as_of FROM loyalty_runs WHERE kind = 'churn' AND as_of <= :now ORDER BY as_of DESC, id DESC LIMIT 1",
                                 {"now": DEMO_TODAY})[0]
    assert f"as of {status_time(churn_as_of)}" in unescape(panel.churn_info.value)
    levels = dict(sql(crm, "SELECT level, count(*) FROM loyalty_churn WHERE run_id = :run GROUP BY level", {"run": churn_run}))
    check_chart(panel.level_chart, locale, seen, "warnings per level chart", {(level, "Customers"): n for level, n in levels.items()},
                categories=levels)
    warnings = seen.rows("churn warnings", view_rows(panel.warnings.body))
    assert warnings
    names = dict(sql(crm, "SELECT id, name FROM customers"))
    scores = {(cid, cls): score for cid, cls, score in sql(crm, "SELECT customer_id, class, score FROM loyalty_churn WHERE run_id = :run",
                                                               {"run": churn_run})}
    for row in warnings:
        assert row["Customer"] == names[int(row["#"])]
        assert row["Score"] == number(scores[(int(row["#"]), row["Class"])], locale)
    check_everywhere(seen, locale)


def test_complaint_queue_and_a_complaint(shown):
    crm, locale, seen = shown["crm"], shown["locale"], shown["seen"]
    panel = shown["board"].select("Complaints")
    queue = seen.rows("complaint queue", view_rows(panel.table.body))
    stored = {cid: (due, received) for cid, due, received in sql(
        crm, "SELECT id, resolve_due_at, received_at FROM complaints_complaints WHERE status NOT IN ('resolved', 'rejected', 'closed', 'followed_up')")}
    assert len(queue) == len(stored) >= 2
    sla = {row["id"]: row for row in crm.complaints.sla()}
    for row in queue:
        complaint = sla[int(row["#"])]
        assert row["Due"] == when(complaint["due_at"], locale)
        assert row["Time left"] == lateness(-complaint["left_s"], locale)
        assert row["State"] == heading(complaint["state"])  # the key in words: at_risk reads "At risk"
    assert any(sla[int(row["#"])]["left_s"] < 0 for row in queue), "one complaint is overdue"
    assert f"as of {when(DEMO_TODAY, locale)}" in unescape(panel.summary.value)

    panel.show(int(queue[0]["#"]))
    facts, history = html_tables(panel.detail)
    fact = seen.rows("complaint facts", facts)[0]
    received, resolve_due = sql(crm, "SELECT received_at, resolve_due_at FROM complaints_complaints WHERE id = :id", {"id": int(queue[0]["#"])})[0]
    assert fact["Received"] == when(received, locale)
    assert fact["Resolve due"] == when(resolve_due, locale)
    events = sql(crm, "SELECT at FROM complaints_history WHERE complaint_id = :id ORDER BY at, id", {"id": int(queue[0]["#"])})
    assert [row["At"] for row in seen.rows("complaint history", history)] == [when(at, locale) for (at,) in events]

    panel.show_choice.value = "closed"
    closed = seen.rows("closed complaints", view_rows(panel.table.body))
    assert closed
    stored = {cid: (received, status_at) for cid, received, status_at in sql(
        crm, "SELECT id, received_at, status_at FROM complaints_complaints WHERE status = 'closed'")}
    for row in closed:
        received, status_at = stored[int(row["#"])]
        assert row["Received"] == when(received, locale)
        assert row["Status since"] == when(status_at, locale)
    check_everywhere(seen, locale)


def test_reports_cards(shown):
    crm, locale, seen = shown["crm"], shown["locale"], shown["seen"]
    panel = shown["board"].select("Reports")
    cards = {title: (figure, change) for title, figure, change in (card(w) for w in panel.card_box.children)}
    seen.rows("report cards", [{title: figure for title, (figure, _) in cards.items()}])
    seen.rows("report card changes", [{title: change for title, (_, change) in cards.items()}])
    report = panel.report  # the windows the cards are over (their figures are recomputed here)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    period = [bound.astimezone(timezone.utc).strftime(iso) for bound in (report.period.start, report.period.end)]
    before = [bound.astimezone(timezone.utc).strftime(iso) for bound in (report.previous.start, report.previous.end)]

    def net(since, until):
        return sql(crm, """
            SELECT COALESCE(sum(CASE kind WHEN 'purchase' THEN amount ELSE -amount END), 0) FROM interactions
            WHERE kind IN ('purchase', 'refund') AND occurred_at >= :since AND occurred_at < :until""",
                   {"since": since, "until": until})[0][0]

    june, may = net(*period), net(*before)
    figure, change = cards["Net revenue"]
    assert figure == money(june, locale)
    assert change.startswith(money_change(june - may, locale))
    for title in ("Churn rate", "Retention rate"):
        figure, change = cards[title]
        assert re.fullmatch(r"\d{1,3}\.\d%", figure), figure
        assert re.match(r"[+-]?\d+\.\d (pp|个百分点)", change) or re.match(r"[+-]?\d+\.\d个百分点", change), change
    churn = babel_numbers.parse_decimal(cards["Churn rate"][0].rstrip("%"), locale=locale)
    retention = babel_numbers.parse_decimal(cards["Retention rate"][0].rstrip("%"), locale=locale)
    assert churn + retention == 100
    assert cards["Average customer value"][0].startswith(amount(0, locale)[:1]) or "US$" in cards["Average customer value"][0]
    for title in ("New customers", "Active customers at end"):
        assert is_number(cards[title][0], locale)
    notes = re.findall(r"class='crmkit-kpi-note'[^>]*>(.*?)</div>", "".join(w.value for w in panel.card_box.children))
    assert report.period.kind == report.previous.kind == "month"
    # A month to date (the demo's "today" is mid-month): the notes name the days each covers,
    # not the whole months ("Jun 2025" was shown for June 1-15).
    zone = crm.calendar.zone
    assert not report.period.complete

    def days(bounds: list[str]) -> str:
        first = moment(bounds[0]).astimezone(zone).date()
        last = (moment(bounds[1]) - timedelta(seconds=1)).astimezone(zone).date()
        return babel_dates.format_interval(first, last, "yMMMd", locale=locale)

    spans = f"{days(period)} vs {days(before)}"
    assert len(notes) == len(cards) and all(unescape(note).startswith(spans) for note in notes), notes
    check_everywhere(seen, locale)
