"""Users, API tokens, roles, permissions and row scope in the core; the ``users`` CLI."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from click.testing import CliRunner

import crmkit
from crmkit import ConflictError, NotAuthenticated, NotFound, Permission, PermissionDenied, ValidationError
from crmkit.cli import make_cli
from crmkit.permissions import scope_rule


class TestUsers:
    def test_add_get_list_and_update(self, fresh_crm):
        """A user is stored with its role and team; updates change only what is given."""
        fresh_crm.users.add("alice", "Alice Ng", email="alice@example.com", team="north")
        fresh_crm.users.add("mia", "Mia Manager", role="manager", team="north")
        fresh_crm.users.add("sam", "Sam South", team="south")
        assert fresh_crm.users.get("alice").role == "rep"
        assert [u.id for u in fresh_crm.users.list(team="north")] == ["alice", "mia"]
        assert fresh_crm.users.team_members("north") == ["alice", "mia"]
        changed = fresh_crm.users.update("alice", role="manager")
        assert (changed.role, changed.email, changed.team) == ("manager", "alice@example.com", "north")

    @pytest.mark.parametrize("fields, name", [
        ({"role": "boss"}, "role"), ({"email": "not-an-email"}, "email"), ({"colour": "red"}, "colour"),
    ])
    def test_bad_fields_are_refused_and_nothing_is_written(self, fresh_crm, fields, name):
        with pytest.raises(ValidationError) as caught:
            fresh_crm.users.add("alice", "Alice", **fields)
        assert caught.value.field == name
        assert fresh_crm.users.list() == []

    def test_duplicate_and_missing_ids(self, fresh_crm):
        fresh_crm.users.add("alice", "Alice")
        with pytest.raises(ConflictError, match="exists already"):
            fresh_crm.users.add("alice", "Other Alice")
        with pytest.raises(NotFound, match="no user with id 'bob'"):
            fresh_crm.users.update("bob", role="rep")
        with pytest.raises(ValidationError):
            fresh_crm.users.add(" padded", "Padded")

    def test_every_change_names_the_acting_user_in_the_audit_log(self, fresh_crm):
        with fresh_crm.acting_as("root-admin"):
            fresh_crm.users.add("alice", "Alice")
            fresh_crm.users.deactivate("alice")
        entries = fresh_crm.audit.query(entity="user")
        assert [(e.action, e.actor) for e in entries] == [("user.update", "root-admin"), ("user.add", "root-admin")]


class TestTokens:
    def test_secret_is_stored_only_as_its_sha256(self, fresh_crm):
        fresh_crm.users.add("alice", "Alice")
        token, secret = fresh_crm.users.issue_token("alice", label="phone")
        stored = [row["token_hash"] for row in fresh_crm.db.query("SELECT token_hash FROM api_tokens")]
        assert stored == [hashlib.sha256(secret.encode()).hexdigest()]
        assert all(secret not in str(e.after) for e in fresh_crm.audit.query())
        assert fresh_crm.users.authenticate(secret).id == "alice"
        assert token.label == "phone"

    def test_two_tokens_differ(self, fresh_crm):
        fresh_crm.users.add("alice", "Alice")
        assert fresh_crm.users.issue_token("alice")[1] != fresh_crm.users.issue_token("alice")[1]

    def test_revoked_expired_unknown_and_inactive_tokens_fail(self, fresh_crm, clock):
        fresh_crm.users.add("alice", "Alice")
        revoked, revoked_secret = fresh_crm.users.issue_token("alice")
        _, expiring = fresh_crm.users.issue_token("alice", expires=clock() + timedelta(hours=1))
        _, kept = fresh_crm.users.issue_token("alice")
        fresh_crm.users.revoke_token(revoked.id)
        with pytest.raises(NotAuthenticated, match="revoked"):
            fresh_crm.users.authenticate(revoked_secret)
        assert fresh_crm.users.authenticate(expiring).id == "alice"
        clock.advance(hours=1)
        with pytest.raises(NotAuthenticated, match="expired"):
            fresh_crm.users.authenticate(expiring)
        with pytest.raises(NotAuthenticated, match="not valid"):
            fresh_crm.users.authenticate(kept + "x")
        with pytest.raises(NotAuthenticated, match="required"):
            fresh_crm.users.authenticate("")
        fresh_crm.users.deactivate("alice")
        with pytest.raises(NotAuthenticated, match="inactive"):
            fresh_crm.users.authenticate(kept)

    def test_bad_token_requests_change_nothing(self, fresh_crm, clock):
        fresh_crm.users.add("alice", "Alice")
        with pytest.raises(ValidationError, match="expires"):
            fresh_crm.users.issue_token("alice", expires=clock() - timedelta(days=1))
        with pytest.raises(NotFound):
            fresh_crm.users.issue_token("bob")
        token, _ = fresh_crm.users.issue_token("alice")
        fresh_crm.users.revoke_token(token.id)
        with pytest.raises(ConflictError, match="revoked already"):
            fresh_crm.users.revoke_token(token.id)
        with pytest.raises(NotFound):
            fresh_crm.users.revoke_token(999)
        assert len(fresh_crm.users.tokens()) == 1


class TestPermissions:
    def test_roles_hold_what_the_table_says(self, fresh_crm):
        users = fresh_crm.users
        admin, manager = users.add("root", "Root", role="admin"), users.add("mia", "Mia", role="manager")
        rep, analyst = users.add("alice", "Alice"), users.add("ann", "Ann", role="analyst")
        allows = fresh_crm.permissions.allows
        assert all(allows(admin, p.name) for p in fresh_crm.permissions.all())
        assert allows(manager, "customers.merge") and not allows(manager, "users.manage")
        assert allows(rep, "customers.write") and not allows(rep, "customers.forget") and not allows(rep, "audit.read")
        assert not [p.name for p in fresh_crm.permissions.all() if p.write and allows(analyst, p.name)]
        assert allows(analyst, "audit.read")
        with pytest.raises(PermissionDenied, match="'ann' \\(analyst\\) may not"):
            fresh_crm.permissions.require(analyst, "customers.write")

    def test_a_plugin_declares_permissions_but_cannot_let_an_analyst_write(self, clock):
        class Webinars:
            @crmkit.hookimpl
            def crmkit_permissions(self):
                return [Permission("webinars.invite", "Invite to webinars", {"rep", "analyst"})]

        crm = crmkit.open(":memory:", plugins=[Webinars()], clock=clock)
        assert crm.permissions.owner("webinars.invite").startswith("plugin")
        analyst = crm.users.add("ann", "Ann", role="analyst")
        assert not crm.permissions.allows(analyst, "webinars.invite")
        assert crm.permissions.allows(crm.users.add("alice", "Alice"), "webinars.invite")

    def test_a_permission_declared_twice_names_both(self, clock):
        class Clash:
            @crmkit.hookimpl
            def crmkit_permissions(self):
                return [Permission("customers.read", "Read")]

        with pytest.raises(crmkit.CrmError, match="declared by both core and plugin"):
            crmkit.open(":memory:", plugins=[Clash()], clock=clock)

    def test_inactive_user_holds_nothing(self, fresh_crm):
        fresh_crm.users.add("root", "Root", role="admin")
        assert not fresh_crm.permissions.allows(fresh_crm.users.deactivate("root"), "customers.read")


class TestScope:
    @pytest.fixture
    def crm(self, fresh_crm):
        users = fresh_crm.users
        users.add("alice", "Alice", team="north")
        users.add("bob", "Bob", team="north")
        users.add("carl", "Carl", team="south")
        users.add("mia", "Mia", role="manager", team="north")
        for name, owner in [("A", "alice"), ("B", "bob"), ("C", "carl"), ("Pool", None), ("M", "mia")]:
            fresh_crm.customers.add(name=name, owner=owner)
        return fresh_crm

    def names(self, crm, rule):
        # The expected sets below are worked out by hand from the fixture's five customers.
        return sorted(c.name for c in crm.segments.evaluate(rule or "id > 0").customers(limit=100))

    def test_rep_sees_own_and_pool(self, crm):
        assert self.names(crm, scope_rule(crm.users.get("alice"))) == ["A", "Pool"]

    def test_manager_sees_team_and_pool(self, crm):
        mia = crm.users.get("mia")
        assert self.names(crm, scope_rule(mia, crm.users.team_members(mia.team))) == ["A", "B", "M", "Pool"]

    def test_analyst_and_admin_see_everyone(self, crm):
        assert scope_rule(crm.users.add("ann", "Ann", role="analyst")) is None
        assert scope_rule(crm.users.add("root", "Root", role="admin")) is None

    def test_scope_limits_a_rule(self, crm):
        view = crm.segments.evaluate("name in ('A', 'B', 'Pool')", within=scope_rule(crm.users.get("bob")))
        assert sorted(c.name for c in view.customers(limit=100)) == ["B", "Pool"]
        assert view.count() == 2 and crm.customers.get(2).id in view and 1 not in view

    def test_a_holder_field_takes_an_unowned_customer_out_of_other_users_scope(self, crm):
        bob = crm.users.get("bob")
        assert scope_rule(bob, holders=["lead_owner"]) == (
            "owner = 'bob' or owner is null and (lead_owner is null or lead_owner = 'bob')"
        )

    def test_quotes_in_an_id_do_not_escape_the_rule(self, crm):
        crm.users.add("o'hara", "O'Hara")
        crm.customers.add(name="OH", owner="o'hara")
        assert self.names(crm, scope_rule(crm.users.get("o'hara"))) == ["OH", "Pool"]


class TestStaffFromPlugins:
    def test_new_reps_and_handlers_become_users(self, clock):
        crm = crmkit.open(":memory:", plugins=["leads", "complaints"], clock=clock)
        crm.leads.add_rep("rita", "Rita Rep", team="north", capacity=10)
        crm.complaints.add_handler("sam", role="supervisor")
        assert (crm.users.get("rita").role, crm.users.get("rita").team) == ("rep", "north")
        assert crm.users.get("sam").role == "manager"

    def test_existing_reps_and_handlers_are_migrated(self, tmp_path, clock):
        """A CRM made before users existed: its reps and handlers become users when it opens."""
        path = tmp_path / "old.db"
        with crmkit.open(path, plugins=["leads", "complaints"], clock=clock) as crm:
            crm.leads.add_rep("rita", "Rita Rep", team="north", capacity=10)
            crm.complaints.add_handler("hana")
            crm.complaints.add_handler("sam", role="supervisor")
            # Undo what the new code did, and mark the user migrations as not yet applied.
            crm.db.execute("DELETE FROM audit_log WHERE entity = 'user'")
            crm.db.execute("DELETE FROM users")
            crm.db.execute(
                "DELETE FROM _sqlite_migrations WHERE name IN "
                "('m002_reps_are_users', 'm003_handlers_are_users')"
            )
        with crmkit.open(path, plugins=["leads", "complaints"], clock=clock) as crm:
            found = {u.id: (u.name, u.role, u.team) for u in crm.users.list()}
        assert found == {
            "rita": ("Rita Rep", "rep", "north"), "hana": ("hana", "rep", None), "sam": ("sam", "manager", None),
        }


def run(*args):
    return CliRunner().invoke(make_cli(), [str(a) for a in args], catch_exceptions=False)


class TestUsersCli:
    @pytest.fixture(autouse=True)
    def core_only(self, monkeypatch, tmp_path):
        monkeypatch.setenv("CRMKIT_PLUGINS", "")
        monkeypatch.chdir(tmp_path)

    @pytest.fixture
    def db(self, tmp_path):
        path = tmp_path / "shop.db"
        crmkit.open(path, plugins=[]).close()
        return path

    def snapshot(self, db):
        with crmkit.open(db, plugins=[]) as crm:
            return ([u.to_row() for u in crm.users.list()], crm.users.tokens(), len(crm.audit.query(limit=1000)))

    def test_add_token_list_revoke(self, db):
        assert "User alice (rep) added." in run("users", "add", db, "alice", "--name", "Alice", "--team", "north").output
        issued = run("users", "token", db, "alice", "--label", "phone")
        secret = issued.stdout.strip().splitlines()[0]
        with crmkit.open(db, plugins=[]) as crm:
            assert crm.users.authenticate(secret).id == "alice"
        listing = run("users", "list", db).output
        assert "alice" in listing and "north" in listing
        assert secret not in run("users", "tokens", db).output
        assert "revoked" in run("users", "revoke", db, "1").output
        assert "deactivated" in run("users", "deactivate", db, "alice").output
        assert "manager" in run("users", "update", db, "alice", "--role", "manager").output

    def test_messages_say_what_happened(self, db):
        run("users", "add", db, "alice", "--name", "Alice")
        assert run("users", "update", db, "alice", "--name", "Alice").output.strip() == (
            "User alice (rep) unchanged: it already had these values."
        )
        assert run("users", "deactivate", db, "alice").output.strip() == "User alice deactivated."
        assert run("users", "deactivate", db, "alice").output.strip() == "User alice was inactive already."

    @pytest.mark.parametrize("args, message", [
        (("users", "add", "{db}", "alice", "--name", "A", "--role", "boss"), "--role"),
        (("users", "add", "{db}", "alice", "--name", "A", "--email", "nope"), "email"),
        (("users", "token", "{db}", "nobody"), "no user with id 'nobody'"),
        (("users", "token", "{db}", "alice", "--expires", "2001-01-01"), "expires"),
        (("users", "revoke", "{db}", "42"), "no API token with id 42"),
        (("users", "deactivate", "{db}", "nobody"), "no user with id"),
        (("users", "list", "missing.db"), "no CRM file at missing.db"),
        (("users", "update", "{db}", "alice"), "nothing to change"),
        (("users", "tokens", "{db}", "--user", "nobody"), "no user with id 'nobody'"),
        (("users", "token", "{db}", "alice", "--expires", "2020-01-01"), "(got '2020-01-01T00:00:00Z')"),
    ])
    def test_errors_are_one_line_and_write_nothing(self, db, args, message):
        run("users", "add", db, "alice", "--name", "Alice")
        before = self.snapshot(db)
        result = run(*[str(db) if a == "{db}" else a for a in args])
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert lines[-1].startswith("Error: ") and message in lines[-1], result.output
        assert self.snapshot(db) == before
