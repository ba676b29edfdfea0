"""``--date-format`` in the columnar import: times written with day, month, year, hour, minute
and second numbers are read by column, stored as the row path stores them (checked here against
times worked out by hand and against the row path), and any other format or spelling is left to
the row path, whose problem report is unchanged."""

from __future__ import annotations

import csv
import re
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crmkit
from crmkit import ImportRefused
from crmkit import columnar
from crmkit.importing import import_file

pytest.importorskip("pyarrow")

HEADER = ["customer_external_id", "occurred_at", "amount"]




def open_crm(path, clock):
    crm = crmkit.open(path, plugins=[], clock=clock)
    crm.customers.add_many([{"name": f"P{i}", "external_id": f"C{i}"} for i in range(1, 11)])
    return crm


def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as out:
        csv.writer(out, lineterminator="\n").writerows([HEADER] + rows)
    return path


def stored_times(crm) -> list[str]:
    return [row[0] for row in crm.db.execute("SELECT occurred_at FROM interactions ORDER BY id")]


def row_path_result(tmp_path, clock, monkeypatch, path, **options):
    """(result or refusal, stored times) of the same import with pyarrow hidden."""
    monkeypatch.setattr(columnar, "_pyarrow", lambda: None)
    crm = open_crm(tmp_path / "rows.db", clock)
    try:
        result = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, **options)
    except ImportRefused as refused:
        result = refused
    times = stored_times(crm)
    crm.close()
    return result, times


# (format, how a (year, month, day, hour, minute, second) is written, whether it is read by column)
FORMATS = [
    ("%d/%m/%Y", lambda t: f"{t[2]}/{t[1]}/{t[0]}", True),                         # 5/3/2024: no zeros
    ("%d/%m/%Y", lambda t: f"{t[2]:02d}/{t[1]:02d}/{t[0]}", True),                 # 05/03/2024
    ("%m-%d-%Y", lambda t: f"{t[1]:02d}-{t[2]:02d}-{t[0]}", True),
    ("%d.%m.%Y %H:%M", lambda t: f"{t[2]}.{t[1]}.{t[0]} {t[3]}:{t[4]:02d}", True),
    ("%Y%m%d %H%M%S", lambda t: f"{t[0]}{t[1]:02d}{t[2]:02d} {t[3]:02d}{t[4]:02d}{t[5]:02d}", True),
    ("%d %b %Y", lambda t: f"{t[2]} {['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun'][t[1] - 1]} {t[0]}", False),  # names: row path
]


@pytest.mark.parametrize("date_format, written, columns", FORMATS)
def test_times_in_a_date_format_are_stored_as_worked_out_by_hand(
    crm_path, tmp_path, clock, small_chunks, monkeypatch, rows_by_column, date_format, written, columns,
):
    moments = [(2023 + n % 2, 1 + n % 6, 1 + n % 28, n % 24, (7 * n) % 60, (13 * n) % 60) for n in range(300)]
    if "%S" not in date_format:
        moments = [(*m[:5], 0) for m in moments]
    if "%H" not in date_format:
        moments = [(*m[:3], 0, 0, 0) for m in moments]
    rows = [[f"C{1 + n % 10}", written(m), f"{n}.50"] for n, m in enumerate(moments)]
    path = write(tmp_path / "dated.csv", rows)
    expected = [f"{y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z" for y, mo, d, h, mi, s in moments]
    crm = open_crm(crm_path, clock)
    result = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, date_format=date_format)
    assert (result.added, result.problems) == (300, [])
    assert stored_times(crm) == expected
    assert (sum(rows_by_column) == 300) is columns and (sum(rows_by_column) == 0) is not columns
    crm.close()
    slow, slow_times = row_path_result(tmp_path, clock, monkeypatch, path, date_format=date_format)
    assert (slow.added, slow.problems, slow_times) == (300, [], expected)


@pytest.mark.parametrize("bad", ["30/02/2024", "5/13/2024", "2024-03-05", "00/03/2024", "5/3/24", "5/3/2024 10:00"])
def test_a_time_the_format_does_not_read_is_the_row_paths_problem(crm_path, tmp_path, clock, small_chunks, monkeypatch, bad):
    rows = [[f"C{1 + n % 10}", f"{1 + n % 28}/{1 + n % 12}/2024", "1.00"] for n in range(300)]
    rows[150][1] = bad
    path = write(tmp_path / "bad.csv", rows)
    crm = open_crm(crm_path, clock)
    with pytest.raises(ImportRefused) as fast:
        import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, date_format="%d/%m/%Y")
    assert [(p.row, p.field, p.value) for p in fast.value.problems] == [(152, "occurred_at", bad)]
    assert "a time written as %d/%m/%Y, like 01/05/2024" in fast.value.problems[0].reason
    assert crm.interactions.count() == 0
    crm.close()
    slow, _ = row_path_result(tmp_path, clock, monkeypatch, path, date_format="%d/%m/%Y")
    assert fast.value.problems == slow.problems


def test_a_format_with_a_time_zone_of_its_own_takes_the_row_path(crm_path, tmp_path, clock, small_chunks, rows_by_column):
    """%z gives each time its offset: stored in UTC, as the row path stores it."""
    rows = [["C1", "01/05/2024 10:00 +0200", "1.00"], ["C2", "01/05/2024 10:00 -0130", "2.00"]] * 100
    path = write(tmp_path / "zoned.csv", rows)
    crm = open_crm(crm_path, clock)
    result = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, date_format="%d/%m/%Y %H:%M %z")
    assert (result.added, rows_by_column) == (200, [])
    assert stored_times(crm)[:2] == ["2024-05-01T08:00:00Z", "2024-05-01T11:30:00Z"]
    crm.close()


# --- the expression against strptime itself --------------------------------------------------

DIRECTIVES = ["%d", "%m", "%Y", "%H", "%M", "%S"]


@st.composite
def format_and_cell(draw):
    """A format of the directives the columns read (day, month and year among them) and literal
    separators, and a cell: the format's rendering of a time (padded or not), or text that only
    looks like one."""
    extra = draw(st.lists(st.sampled_from(["%H", "%M", "%S"]), unique=True))
    order = draw(st.permutations(["%d", "%m", "%Y"] + extra))
    separators = draw(st.lists(st.sampled_from(["", "/", ".", "-", " ", ":", "T", "  ", "%%"]), min_size=len(order), max_size=len(order)))
    date_format = "".join(d + s for d, s in zip(order, separators)).rstrip()
    if draw(st.booleans()):
        cell = draw(st.text(alphabet="0123456789 /.-:Tt%", max_size=24))
    else:
        values = {"%d": draw(st.integers(0, 32)), "%m": draw(st.integers(0, 13)), "%Y": draw(st.integers(0, 9999)),
                  "%H": draw(st.integers(0, 24)), "%M": draw(st.integers(0, 60)), "%S": draw(st.integers(0, 62))}
        width = {"%Y": 4}
        cell = date_format.replace("%%", "\0")
        for directive in DIRECTIVES:
            value = values[directive]
            text = f"{value:0{width.get(directive, 2)}d}" if draw(st.booleans()) else str(value)
            cell = cell.replace(directive, text)
        cell = cell.replace("\0", "%")
    return date_format, cell


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(format_and_cell())
def test_a_cell_read_by_column_is_the_time_strptime_reads(example):
    """Whatever the cell, the columns either leave it to the row path or give the stored time of
    ``datetime.strptime``; where strptime refuses it, what they give is no time the later
    checks let through (a day the month lacks, a 60th second, a year before 1000)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from crmkit.columnar_times import format_pattern, stored_times

    date_format, cell = example
    pattern = format_pattern(date_format)
    assert pattern is not None, date_format
    got = stored_times(pa, pc, pa.array([cell], pa.string()), pattern)
    if got is None:
        return  # the row path reads it
    stamp = got[0].as_py()
    try:
        expected = datetime.strptime(cell, date_format)
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            if not re.fullmatch(r"[1-9]\d{3}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp):
                raise ValueError(stamp)
            datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")
    else:
        assert stamp == f"{expected.year:04d}" + expected.strftime("-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("date_format", ["%d/%m", "%d %b %Y", "%y-%m-%d", "%d/%m/%Y %z", "%d/%m/%Y %", "%d/%d/%m/%Y", "%Y-%m-%d %I:%M %p"])
def test_formats_the_columns_do_not_read(date_format):
    from crmkit.columnar_times import format_pattern

    assert format_pattern(date_format) is None


# --- --timezone ----------------------------------------------------------------------------------

def test_wall_times_in_a_zone_are_stored_in_utc_as_worked_out_by_hand(crm_path, tmp_path, clock, small_chunks, monkeypatch, rows_by_column):
    """Berlin is an hour ahead of UTC in winter, two in summer; 02:30 on 27 October 2024 happens
    twice, and the earlier (summer time) is taken, as Python's zoneinfo takes it."""
    cells = [
        ("15.01.2024 10:00", "2024-01-15T09:00:00Z"), ("15.07.2024 10:00", "2024-07-15T08:00:00Z"),
        ("27.10.2024 02:30", "2024-10-27T00:30:00Z"), ("27.10.2024 03:30", "2024-10-27T02:30:00Z"),
        ("31.03.2024 01:59", "2024-03-31T00:59:00Z"), ("31.03.2024 03:00", "2024-03-31T01:00:00Z"),
    ] * 50
    path = write(tmp_path / "berlin.csv", [[f"C{1 + n % 10}", cell, "1.00"] for n, (cell, _) in enumerate(cells)])
    options = {"date_format": "%d.%m.%Y %H:%M", "timezone": "Europe/Berlin"}
    crm = open_crm(crm_path, clock)
    result = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, **options)
    assert (result.added, result.problems, sum(rows_by_column)) == (300, [], 300)
    assert stored_times(crm) == [utc for _, utc in cells]
    crm.close()
    slow, slow_times = row_path_result(tmp_path, clock, monkeypatch, path, **options)
    assert slow_times == [utc for _, utc in cells]


def test_iso_dates_in_a_zone_are_its_midnight_and_utc_times_stay(crm_path, tmp_path, clock, small_chunks, monkeypatch, rows_by_column):
    cells = [
        ("2024-07-15", "2024-07-15T04:00:00Z"), ("2024-01-15", "2024-01-15T05:00:00Z"),   # New York: -4 summer, -5 winter
        ("2024-07-15T10:00:00Z", "2024-07-15T10:00:00Z"),
    ] * 100
    path = write(tmp_path / "ny.csv", [[f"C{1 + n % 10}", cell, "1.00"] for n, (cell, _) in enumerate(cells)])
    crm = open_crm(crm_path, clock)
    result = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, timezone="America/New_York")
    assert (result.added, result.problems, sum(rows_by_column)) == (300, [], 300)
    assert stored_times(crm) == [utc for _, utc in cells]
    crm.close()
    _, slow_times = row_path_result(tmp_path, clock, monkeypatch, path, timezone="America/New_York")
    assert slow_times == [utc for _, utc in cells]


def test_a_wall_time_the_clocks_skip_is_read_by_the_row_path(crm_path, tmp_path, clock, small_chunks, monkeypatch, rows_by_column):
    """02:30 on 31 March 2024 does not happen in Berlin; Python reads it with the offset before
    the change (+1), and the columns leave its chunk to the row path, which does so."""
    rows = [[f"C{1 + n % 10}", f"{1 + n % 28:02d}.01.2024 12:00", "1.00"] for n in range(300)]
    rows[150][1] = "31.03.2024 02:30"
    path = write(tmp_path / "gap.csv", rows)
    options = {"date_format": "%d.%m.%Y %H:%M", "timezone": "Europe/Berlin"}
    crm = open_crm(crm_path, clock)
    result = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, **options)
    assert (result.added, result.problems) == (300, [])
    assert 0 < sum(rows_by_column) < 300
    fast = stored_times(crm)
    assert fast[150] == "2024-03-31T01:30:00Z" and fast[0] == "2024-01-01T11:00:00Z"
    crm.close()
    _, slow_times = row_path_result(tmp_path, clock, monkeypatch, path, **options)
    assert slow_times == fast


ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Apia",
         "America/Sao_Paulo", "Europe/Dublin", "Africa/Casablanca", "America/St_Johns"]


def _changes(zone: str) -> list[datetime]:
    """The wall times, to the hour, around which ``zone``'s offset changed in 2010-2030
    (found by asking zoneinfo hour by hour)."""
    from datetime import timedelta, timezone
    from zoneinfo import ZoneInfo

    place, found = ZoneInfo(zone), []
    moment = datetime(2010, 1, 1, tzinfo=timezone.utc)
    offset = moment.astimezone(place).utcoffset()
    while moment.year < 2031:
        moment += timedelta(hours=1)
        now = moment.astimezone(place).utcoffset()
        if now != offset:
            found.append(moment.astimezone(place).replace(tzinfo=None, minute=0, second=0))
            offset = now
    return found


CHANGES = {zone: _changes(zone) for zone in ZONES}


@st.composite
def wall_times(draw):
    from datetime import timedelta

    zone = draw(st.sampled_from(ZONES))
    if draw(st.booleans()) and CHANGES[zone]:
        near = draw(st.sampled_from(CHANGES[zone]))
        moment = near + timedelta(seconds=draw(st.integers(-3 * 3600, 3 * 3600)))
    else:
        moment = draw(st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30))).replace(microsecond=0)
    return zone, moment


@settings(max_examples=300, deadline=None)
@given(wall_times())
def test_a_wall_time_moves_to_utc_as_zoneinfo_moves_it(example):
    """A time that exists in the zone is stored as Python's zoneinfo stores it (the earlier of
    two when the clocks go back); one the clocks skip, or from 2037 on (where pyarrow does not
    apply the zone file's rule for later years), is left to the row path."""
    from datetime import timezone
    from zoneinfo import ZoneInfo

    import pyarrow as pa
    import pyarrow.compute as pc

    from crmkit.columnar_times import in_utc

    zone, moment = example
    text = f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%SZ")
    got = in_utc(pa, pc, pa.array([moment], pa.timestamp("s")), pa.array([text]), None, zone)
    placed = moment.replace(tzinfo=ZoneInfo(zone))
    exists = placed.astimezone(timezone.utc).astimezone(ZoneInfo(zone)).replace(tzinfo=None) == moment
    expected = placed.astimezone(timezone.utc)
    if not exists or not 1000 <= expected.year <= 9999 or moment.year >= 2037:
        assert got is None
    else:
        assert got is not None and got[0].as_py() == f"{expected.year:04d}" + expected.strftime("-%m-%dT%H:%M:%SZ")


def test_an_expression_re2_refuses_leaves_the_cells_to_the_row_path():
    import pyarrow as pa
    import pyarrow.compute as pc

    from crmkit.columnar_times import stored_times

    assert stored_times(pa, pc, pa.array(["05/03/2024"]), "(?i)^(?P<all>(?P<d>3[0-1]") is None
