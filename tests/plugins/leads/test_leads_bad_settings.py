"""Out-of-range options, rep counts, rules, lead ids and pages are refused when given, naming what
and the range, and nothing is written (Python API, ``crm.settings.change`` and the command line)."""

from __future__ import annotations

import pytest

import crmkit
from crmkit import RuleError, ValidationError
from crmkit_leads.config import MAX_COUNT, MAX_DAYS


@pytest.fixture
def db(crm_path, clock):
    """A CRM file with the leads plugin, rep ann (team north, capacity 5) and lead 1 in the pool."""
    with crmkit.open(crm_path, plugins=["leads"], clock=clock) as crm:
        crm.leads.add_rep("ann", "Ann", team="north", capacity=5)
        crm.leads.add("Shop", industry="retail")
    return crm_path


@pytest.fixture
def state(row_counts):
    """A function giving what a refused command must leave unchanged: row counts and settings."""

    def read(crm) -> dict:
        return {**row_counts(crm), "settings": crm.settings.all(), "rules": crm.leads.rules(), "reps": crm.leads.reps()}

    return read


@pytest.fixture
def file_state(state):
    """``state`` of a CRM file."""

    def read(path) -> dict:
        with crmkit.open(path, plugins=["leads"]) as crm:
            return state(crm)

    return read


DAYS = f"a whole number from 0 to {MAX_DAYS}"
BAD_OPTIONS = [
    ({"recycle_days": {"default": 10**12}}, "leads.recycle_days['default']", f"a whole number from 1 to {MAX_DAYS}"),
    ({"recycle_days": {"default": 7, "hot": MAX_DAYS + 1}}, "leads.recycle_days['hot']", f"a whole number from 1 to {MAX_DAYS}"),
    ({"recycle_days": {"default": 0}}, "leads.recycle_days['default']", f"a whole number from 1 to {MAX_DAYS}"),
    ({"cooldown_days": 10**9}, "leads.cooldown_days", DAYS),
    ({"cooldown_days": -1}, "leads.cooldown_days", DAYS),
    ({"reminder_days": MAX_DAYS + 1}, "leads.reminder_days", DAYS),
    ({"extension_days": 10**30}, "leads.extension_days", f"a whole number from 1 to {MAX_DAYS}"),
    ({"max_extensions": 101}, "leads.max_extensions", "a whole number from 0 to 100"),
    ({"daily_claim_cap": MAX_COUNT + 1}, "leads.daily_claim_cap", f"a whole number from 0 to {MAX_COUNT}"),
]


class TestOptionBounds:
    """Every option counting days or leads has bounds, checked however the option is given."""

    @pytest.mark.parametrize("options, field, expected", BAD_OPTIONS)
    def test_configure_refuses_and_writes_nothing(self, crm, state, options, field, expected):
        before = state(crm)
        with pytest.raises(ValidationError) as refused:
            crm.leads.configure(**options)
        assert (refused.value.field, refused.value.expected) == (field, expected)
        assert state(crm) == before

    @pytest.mark.parametrize("options, field, expected", BAD_OPTIONS)
    def test_settings_change_refuses_and_writes_nothing(self, crm, state, options, field, expected):
        [(name, value)] = options.items()
        before = state(crm)
        with pytest.raises(ValidationError) as refused:
            crm.settings.change(f"leads.{name}", value)
        assert (refused.value.field, refused.value.expected) == (field, expected)
        assert state(crm) == before

    def test_the_bounds_themselves_are_accepted(self, crm):
        options = crm.leads.configure(recycle_days={"default": MAX_DAYS, "hot": 1}, cooldown_days=MAX_DAYS,
                                      reminder_days=0, extension_days=MAX_DAYS, max_extensions=100, daily_claim_cap=MAX_COUNT)
        assert (options["recycle_days"], options["cooldown_days"], options["max_extensions"]) == (
            {"default": MAX_DAYS, "hot": 1}, MAX_DAYS, 100)

    def test_longest_periods_still_claim_extend_and_release(self, crm, clock):
        """The longest recycle period with every extension stays a date both engines store."""
        crm.leads.configure(recycle_days={"default": MAX_DAYS}, extension_days=MAX_DAYS, max_extensions=100, cooldown_days=MAX_DAYS)
        crm.leads.add_rep("ann", "Ann", capacity=MAX_COUNT, claim_limit=MAX_COUNT)
        lead = crm.leads.add("Shop")
        crm.leads.claim(lead.id, "ann")
        for _ in range(100):
            extended = crm.leads.extend(lead.id, "ann", "slow buyer")
        assert extended.recycle_at.year == clock().year + 1009  # 101 × 10 years of 365 or 366 days
        released = crm.leads.release(lead.id, "ann", "wrong region")
        assert released.cooldown_until.year == clock().year + 9

    def test_config_set_refuses_with_one_error_line(self, one_error_line, run, db, file_state):
        before = file_state(db)
        refused = run("config", "set", db, "leads.recycle_days", '{"default": 1000000000000}')
        assert one_error_line(refused) == (
            f"Error: leads.recycle_days['default']: a whole number from 1 to {MAX_DAYS} (got 1000000000000)")
        assert file_state(db) == before
        assert "claimed lead 1" in run("leads", "claim", db, 1, "ann").output  # claims still work

    def test_a_value_stored_around_the_check_is_refused_by_name_when_read(self, crm, row_counts):
        """``crm.settings.set`` stores anything; the pool then names the option instead of failing
        in a query with a number out of range, and changes nothing."""
        crm.leads.add_rep("ann", "Ann")
        lead = crm.leads.add("Shop")
        crm.settings.set("leads.recycle_days", {"default": 10**12})
        before = row_counts(crm)
        with pytest.raises(ValidationError, match=r"^leads.recycle_days\['default'\]: a whole number from 1 to .*crmkit config set"):
            crm.leads.claim(lead.id, "ann")
        assert row_counts(crm) == before
        crm.leads.configure(recycle_days={"default": 7})
        assert crm.leads.claim(lead.id, "ann").owner == "ann"


class TestRepCounts:
    @pytest.mark.parametrize("fields, message", [
        ({"capacity": 10**30}, f"capacity: a whole number from 1 to {MAX_COUNT} (got 1000000000000000000000000000000)"),
        ({"capacity": MAX_COUNT + 1}, f"capacity: a whole number from 1 to {MAX_COUNT} (got {MAX_COUNT + 1})"),
        ({"capacity": float("inf")}, "capacity: a whole number (got inf)"),
        ({"claim_limit": 10**30}, f"claim_limit: a whole number from 0 to {MAX_COUNT} (got 1000000000000000000000000000000)"),
    ])
    def test_add_and_update_rep_refuse_and_write_nothing(self, crm, state, fields, message):
        crm.leads.add_rep("ann", "Ann")
        before = state(crm)
        for change in (lambda: crm.leads.add_rep("bo", "Bo", **fields), lambda: crm.leads.update_rep("ann", **fields)):
            with pytest.raises(ValidationError) as refused:
                change()
            assert str(refused.value) == message
        assert state(crm) == before

    @pytest.mark.parametrize("args, message", [
        (["--add", "ann", "--capacity", 10**30], f"Error: capacity: a whole number from 1 to {MAX_COUNT} (got 1000000000000000000000000000000)"),
        (["--add", "bo", "--name", "Bo", "--capacity", 10**30],
         f"Error: capacity: a whole number from 1 to {MAX_COUNT} (got 1000000000000000000000000000000)"),
        (["--add", "ann", "--claim-limit", 10**20], f"Error: claim_limit: a whole number from 0 to {MAX_COUNT} (got 100000000000000000000)"),
    ])
    def test_the_reps_command_refuses_with_one_error_line(self, one_error_line, run, db, file_state, args, message):
        before = file_state(db)
        assert one_error_line(run("leads", "reps", db, *args)) == message
        assert file_state(db) == before


class TestRules:
    @pytest.fixture
    def north(self, crm):
        crm.leads.add_rep("ann", "Ann", team="north")
        crm.leads.add("Shop", industry="retail")
        return crm

    def test_a_number_past_64_bits_is_a_rule_error_and_nothing_is_saved(self, north, state):
        before = state(north)
        with pytest.raises(RuleError, match="out of range"):
            north.leads.add_rule("big", "lead_priority > 99999999999999999999", team="north")
        assert state(north) == before

    @pytest.mark.parametrize("reps", ["ann", b"ann"])
    def test_reps_as_a_plain_text_is_refused(self, north, state, reps):
        before = state(north)
        with pytest.raises(ValidationError, match=r'^reps: a list of rep ids, e.g. \["ann"\] for one rep'):
            north.leads.add_rule("retail", "industry = 'retail'", reps=reps)
        assert state(north) == before
        assert north.leads.add_rule("retail", "industry = 'retail'", reps=["ann"]).reps == ("ann",)

    @pytest.mark.parametrize("name", ["", "   ", None])
    def test_a_blank_rule_name_is_refused(self, north, state, name):
        before = state(north)
        with pytest.raises(ValidationError, match="^name: a non-empty rule name"):
            north.leads.add_rule(name, "industry = 'retail'", team="north")
        assert state(north) == before


class TestAllocateLeadIds:
    @pytest.mark.parametrize("ids, bad", [([-1], -1), ([1, "x"], "x"), ([0], 0), ([2**63], 2**63), ([True], True), ([1.5], 1.5)])
    def test_a_bad_lead_id_is_a_validation_error_naming_it(self, crm, state, ids, bad):
        crm.leads.add_rep("ann", "Ann")
        crm.leads.add("Shop")
        before = state(crm)
        with pytest.raises(ValidationError) as refused:
            crm.leads.allocate(ids)
        assert (refused.value.field, refused.value.value, refused.value.expected) == ("lead id", bad, "a whole number from 1 to 2**63 - 1")
        assert state(crm) == before

    def test_a_lead_id_as_digits_is_still_read(self, crm):
        crm.leads.add_rep("ann", "Ann")
        lead = crm.leads.add("Shop")
        assert crm.leads.allocate([str(lead.id)]).moves[0].lead_id == lead.id

    @pytest.mark.parametrize("args, shown", [(["--", -1], "-1"), ([99999999999999999999], "99999999999999999999")])
    def test_the_allocate_command_refuses_with_one_error_line(self, one_error_line, run, db, file_state, args, shown):
        before = file_state(db)
        assert one_error_line(run("leads", "allocate", db, *args)) == (
            f"Error: LEADS: {shown} is not in the range 1<=x<=9223372036854775807."
        )
        assert file_state(db) == before


class TestPages:
    @pytest.mark.parametrize("listing", [
        lambda crm, **page: crm.leads.pool(**page),
        lambda crm, **page: crm.leads.leads(**page),
        lambda crm, **page: crm.leads.recycling("2030-01-01", **page),
    ], ids=["pool", "leads", "recycling"])
    @pytest.mark.parametrize("page, field", [({"limit": -1}, "limit"), ({"offset": -1}, "offset"),
                                             ({"limit": 2**63}, "limit"), ({"limit": "ten"}, "limit")])
    def test_a_page_out_of_range_is_refused(self, crm, listing, page, field):
        crm.leads.add("Shop")
        with pytest.raises(ValidationError, match=rf"^{field}: a whole number from 0 to 2\*\*63 - 1"):
            listing(crm, **page)

    def test_scores_refuses_a_negative_limit(self, crm):
        with pytest.raises(ValidationError, match=r"^limit: a whole number from 0"):
            crm.leads.scores(limit=-1)

    def test_limit_zero_and_the_largest_offset_are_empty_pages(self, crm):
        crm.leads.add("Shop")
        assert crm.leads.pool(limit=0) == [] and crm.leads.leads(offset=2**63 - 1) == []
        assert [lead.name for lead in crm.leads.pool(limit=1)] == ["Shop"]


class TestPriority:
    @pytest.mark.parametrize("priority", [2**63, -(2**63) - 1, 10**30])
    def test_a_priority_past_64_bits_is_refused(self, crm, state, priority):
        before = state(crm)
        with pytest.raises(ValidationError, match=r"^row 1: priority: a whole number from -2\*\*63 to 2\*\*63 - 1"):
            crm.leads.add("Shop", priority=priority)
        assert state(crm) == before

    def test_the_largest_priority_is_kept_exactly(self, crm):
        assert crm.leads.add("Shop", priority=2**63 - 1).priority == 2**63 - 1
