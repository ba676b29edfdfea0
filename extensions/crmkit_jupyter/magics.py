"""The ``%crm`` line magic: open a CRM, count and preview segments, show a report, list plugins."""

from __future__ import annotations

import re
import shlex
from html import escape
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

import crmkit
from crmkit import CrmError
from crmkit.cli import open_crm

from . import formatting
from .report_view import HtmlOutput, report_output

HELP = """\
%crm open PATH [--create] [--plugins a,b] [--as NAME]
                       open a CRM file and bind it to `crm` (or NAME) in the notebook
%crm segment           list saved segments with their member counts
%crm segment NAME      a saved segment: member count and the first members
%crm segment NAME RULE save RULE as segment NAME (or change its rule), then show it
%crm segment - RULE    count and preview a rule without saving it
    options before NAME: --as-of DATE, --limit N (preview rows, default 10)
%crm report [--as-of DATE]
                       the reports plugin's report as of a date (default: now)
%crm plugins           the active plugins, their versions and hooks
"""

_OPTION = re.compile(r"^\s*--(as-of|limit)(?:=|\s+)(\S+)")
_BARE_OPTION = re.compile(r"^\s*(--[\w-]*)(?:\s|$)")
LARGEST_LIMIT = 2**63 - 1  # the largest row count a database takes, as the CLI's --limit


@magics_class
class CrmMagics(Magics):
    """``%crm``; the CRM it works on is the one ``%crm open`` opened, else the ``crm`` variable."""

    def __init__(self, shell: Any):
        super().__init__(shell)
        self.crm: Any = None

    @line_magic("crm")
    def crm_magic(self, line: str) -> Any:
        """Work with a crmkit CRM from a notebook; ``%crm help`` lists the commands."""
        command, _, rest = line.strip().partition(" ")
        handlers = {"open": self.open, "segment": self.segment, "report": self.report, "plugins": self.plugins}
        if command in ("", "help", "-h", "--help"):
            print(HELP)
            return None
        if command not in handlers:
            raise UsageError(f"unknown %crm command {command!r}; commands: {', '.join(handlers)} (see %crm help)")
        try:
            return handlers[command](rest.strip())
        except CrmError as error:
            raise UsageError(str(error)) from None

    # --- commands -------------------------------------------------------------------------

    def open(self, rest: str) -> HtmlOutput:
        """``%crm open PATH [--create] [--plugins a,b] [--as NAME]``."""
        words = _words(rest)
        path, create, plugins, name = None, False, None, "crm"
        while words:
            word = words.pop(0)
            if word == "--create":
                create = True
            elif word in ("--plugins", "--as"):
                if not words:
                    raise UsageError(f"{word} needs a value")
                value = words.pop(0)
                if word == "--plugins":
                    plugins = [p.strip() for p in value.split(",") if p.strip()]
                else:
                    name = value
            elif word.startswith("--"):
                raise UsageError(f"unknown option {word}; see %crm help")
            elif path is None:
                path = word
            else:
                raise UsageError(f"one path only (got {path!r} and {word!r})")
        if path is None:
            raise UsageError("%crm open needs a path: %crm open shop.db")
        if not name.isidentifier():
            raise UsageError(f"--as needs a Python name, not {name!r}")
        options = {} if plugins is None else {"plugins": plugins}
        crm = open_crm(path, must_exist=not create, **options)
        if self.crm is not None and self.crm is not crm and self.shell.user_ns.get(name) is self.crm:
            self.crm.close()
        self.crm = crm
        self.shell.user_ns[name] = crm
        customers = crm.customers.count()
        active = ", ".join(crm.plugins.names()) or "none"
        text = f"Opened {path} as `{name}`: {customers:,} customers; plugins: {active}"
        return HtmlOutput(f"<div class='crmkit-opened'>{escape(text)}</div>", text)

    def segment(self, rest: str) -> HtmlOutput:
        """``%crm segment [--as-of DATE] [--limit N] [NAME [RULE]]``."""
        crm = self.current()
        options = {"as-of": None, "limit": "10"}
        while True:
            match = _OPTION.match(rest)
            if not match:
                break
            options[match.group(1)] = match.group(2)
            rest = rest[match.end():]
        bare = _BARE_OPTION.match(rest)
        if bare:
            option = bare.group(1)
            if option in ("--as-of", "--limit"):
                raise UsageError(f"{option} needs a value: %crm segment {option} {'DATE' if option == '--as-of' else 'N'} [NAME [RULE]]")
            raise UsageError(f"unknown option {option}; see %crm help")
        limit = _limit(options["limit"])
        as_of = crm.as_of(options["as-of"])
        rest = rest.strip()
        if not rest:
            return self._segment_list(crm, as_of)
        name, rule = _split_name(rest)
        if name == "-":
            if not rule:
                raise UsageError("%crm segment - RULE needs a rule")
            return self._members(crm, crm.segments.evaluate(rule, as_of), None, limit, as_of)
        action = None
        if rule:
            if name not in crm.segments:
                crm.segments.define(name, rule)
                action = "saved"
            elif crm.segments.get(name).rule != rule:
                crm.segments.update(name, rule)
                action = "updated"
        view = crm.segments[name]
        return self._members(crm, crm.segments.evaluate(view.rule, as_of), name, limit, as_of, action)

    def report(self, rest: str) -> HtmlOutput:
        """``%crm report [--as-of DATE]``."""
        crm = self.current()
        words = _words(rest)
        as_of = None
        while words:
            word = words.pop(0)
            if word.startswith("--as-of="):
                as_of = word.split("=", 1)[1]
            elif word == "--as-of" and words:
                as_of = words.pop(0)
            else:
                raise UsageError(f"unexpected {word!r}; usage: %crm report [--as-of DATE]")
        return report_output(crm, as_of)

    def plugins(self, rest: str) -> HtmlOutput:
        """``%crm plugins``."""
        crm = self.current()
        rows = [{"plugin": i.name, "version": i.version, "hooks": ", ".join(i.hooks), "source": i.source} for i in crm.plugins.info()]
        html = "<div class='crmkit-plugins'>" + formatting.table(rows, ("plugin", "version", "hooks", "source"), empty="No plugin is active.") + "</div>"
        text = "\n".join(f"{r['plugin']} {r['version'] or ''}: {r['hooks']}" for r in rows) or "No plugin is active."
        return HtmlOutput(html, text)

    # --- helpers --------------------------------------------------------------------------

    def current(self) -> Any:
        """The CRM the magic works on."""
        if self.crm is not None:
            return self.crm
        candidate = self.shell.user_ns.get("crm")
        if isinstance(candidate, crmkit.CRM):
            return candidate
        raise UsageError("no CRM is open: run %crm open PATH first (or bind a crmkit.CRM to `crm`)")

    def _segment_list(self, crm: Any, as_of) -> HtmlOutput:
        rows = [{"name": v.name, "members": v.count(as_of=as_of), "rule": v.rule, "description": v.description} for v in crm.segments]
        html = "<div class='crmkit-segment-list'>" + formatting.table(rows, ("name", "members", "rule", "description"), empty="No segment saved yet.") + "</div>"
        text = "\n".join(f"{r['name']}: {r['members']:,} ({r['rule']})" for r in rows) or "No segment saved yet."
        return HtmlOutput(html, text)

    def _members(self, crm: Any, view: Any, name: str | None, limit: int, as_of, action: str | None = None) -> HtmlOutput:
        count = view.count()
        members = view.customers(limit=limit)
        rows = [{"id": c.id, "name": c.name, "email": c.email, "region": c.region, "owner": c.owner, "stage": c.stage} for c in members]
        label = f"Segment {name}" if name else "Rule"
        note = f" ({action})" if action else ""
        when = formatting.formatter(crm).local_time(as_of)
        head = f"{label}{note}: {view.rule} — {count:,} customers as of {when}"
        html = (
            f"<div class='crmkit-segment' data-count='{count}'><b>{escape(label)}</b>{escape(note)}: <code>{escape(view.rule)}</code> "
            f"— <b class='crmkit-segment-count'>{count:,}</b> customers <span style='color:#666'>as of {escape(when)}</span>"
            + formatting.table(rows, ("id", "name", "email", "region", "owner", "stage"), empty="No members.")
            + (f"<div style='color:#666'>first {len(rows)} of {count:,}</div>" if count > len(rows) else "")
            + "</div>"
        )
        text = head + "".join(f"\n  {r['id']}  {r['name']}" for r in rows)
        return HtmlOutput(html, text)


def _words(line: str) -> list[str]:
    """The words of a command line, quoted as in a shell; an unclosed quote is a usage error."""
    try:
        return shlex.split(line)
    except ValueError as error:  # shlex's "No closing quotation"
        raise UsageError(f"{str(error).lower()} in {line!r}") from None


def _limit(text: str) -> int:
    """``--limit``'s value: a whole number of rows from 0 to :data:`LARGEST_LIMIT`."""
    try:
        limit = int(text)
    except ValueError:
        limit = -1
    if not 0 <= limit <= LARGEST_LIMIT:
        raise UsageError(f"--limit needs a whole number from 0 to {LARGEST_LIMIT:,}, not {text!r}")
    return limit


def _split_name(text: str) -> tuple[str, str]:
    """The segment name (first word, or a quoted name) and the rest of the line as the rule."""
    if text[0] in "'\"":
        end = text.find(text[0], 1)
        if end < 0:
            raise UsageError("unclosed quote in the segment name")
        return text[1:end], text[end + 1:].strip()
    name, _, rule = text.partition(" ")
    return name, rule.strip()
