"""Parse segment rule text into a syntax tree.

Grammar (keywords are case-insensitive)::

    rule       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" rule ")" | condition
    condition  := NAME op value
                | NAME ["not"] "in" "(" value ("," value)* ")"
                | NAME ["not"] "between" value "and" value
                | NAME ["not"] "contains" value
                | NAME "is" ["not"] "null"
                | NAME                                  (a bool field)
    op         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    value      := NUMBER | STRING | DATE | DURATION | "true" | "false"

Strings are quoted with ' or " (double the quote to include it). Dates are written
``2024-05-01`` or ``2024-05-01T10:30:00Z``; durations ``90d``, ``12w``, ``6m``, ``1y`` (in days).
"""

from __future__ import annotations

import re
from decimal import Decimal

from ..errors import RuleError, ValidationError
from ..timeutil import parse_duration, to_datetime
from .ast import And, Between, Compare, Contains, In, IsNull, Literal, Name, Not, Or, Truthy

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<date>\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?Z?)?)(?![\w-])
  | (?P<duration>\d+[dwmy])(?!\w)
  | (?P<number>-?\d+(?:\.\d+)?)(?![\w.])
  | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "between", "contains", "is", "null", "true", "false"}
MAX_RULE_LENGTH = 10_000
# Within these limits every rule compiles and runs on both engines, with every built-in field
# and as of any date: SQLite refuses SQL whose parenthesised nesting overflows its parser stack
# (from about 19 levels of the heaviest field) and expressions deeper than 1,000 (a flat chain
# of about 990 conditions). A list of values is one condition: write `x in (1, 2, 3)`.
MAX_DEPTH = 12
MAX_CONDITIONS = 400


def tokenize(text: str) -> list[tuple[str, str, int]]:
    """Split rule text into (type, text, position) tokens; unknown characters raise RuleError."""
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None and text[position] in "'\"":
            raise RuleError("unterminated string", text, position)
        if match is None:
            raise RuleError(f"unexpected character {text[position]!r}", text, position)
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "name" and value.lower() in _KEYWORDS:
            kind, value = "keyword", value.lower()
        if kind != "space":
            tokens.append((kind, value, position))
        position = match.end()
    return tokens


def parse(text: str):
    """Parse rule text into a syntax tree; errors are RuleError with the position."""
    if not isinstance(text, str):
        raise RuleError(f"a rule is text, not {type(text).__name__}")
    if len(text) > MAX_RULE_LENGTH:
        raise RuleError(f"rule is longer than {MAX_RULE_LENGTH} characters")
    if not text.strip():
        raise RuleError("empty rule", text, 0)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        # Not echoing the rule: a terminal cannot print the surrogate either.
        raise RuleError(f"invalid Unicode (a lone surrogate) at position {error.start}") from None
    if "\x00" in text:
        # SQLite's LIKE stops at NUL: 'contains' would match more than the rule says.
        raise RuleError("NUL character in rule", text.replace("\x00", " "), text.index("\x00"))
    return _Parser(text, tokenize(text)).parse()


class _Parser:
    def __init__(self, text: str, tokens: list):
        self.text = text
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.conditions = 0

    # token helpers
    def peek(self, offset: int = 0):
        i = self.index + offset
        return self.tokens[i] if i < len(self.tokens) else ("end", "", len(self.text))

    def take(self):
        token = self.peek()
        self.index += 1
        return token

    def at_keyword(self, *words: str, offset: int = 0) -> bool:
        kind, value, _ = self.peek(offset)
        return kind == "keyword" and value in words

    def expect_keyword(self, word: str):
        kind, value, position = self.take()
        if kind != "keyword" or value != word:
            self.fail(f"expected '{word}'", value, position)

    def expect_punct(self, char: str):
        kind, value, position = self.take()
        if kind != "punct" or value != char:
            self.fail(f"expected '{char}'", value, position)

    def fail(self, message: str, found: str, position: int):
        shown = f"found {found!r}" if found else "found the end of the rule"
        raise RuleError(f"{message}, {shown}", self.text, position)

    # grammar
    def parse(self):
        node = self.parse_or()
        kind, value, position = self.peek()
        if kind != "end":
            self.fail("expected 'and', 'or' or the end of the rule", value, position)
        return node

    def parse_or(self):
        items = [self.parse_and()]
        while self.at_keyword("or"):
            self.take()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self):
        items = [self.parse_not()]
        while self.at_keyword("and"):
            self.take()
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_not(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            kind, value, position = self.peek()
            raise RuleError(f"rule nests deeper than {MAX_DEPTH} levels", self.text, position)
        try:
            if self.at_keyword("not"):
                self.take()
                return Not(self.parse_not())
            kind, value, position = self.peek()
            if kind == "punct" and value == "(":
                self.take()
                node = self.parse_or()
                self.expect_punct(")")
                return node
            return self.parse_condition()
        finally:
            self.depth -= 1

    def parse_condition(self):
        kind, value, position = self.take()
        if kind != "name":
            self.fail("expected a field name", value, position)
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise RuleError(
                f"rule has more than {MAX_CONDITIONS} conditions; a list of values is one condition: "
                f"{value} in (...)", self.text, position,
            )
        name = Name(value, position)
        kind, value, position = self.peek()
        if kind == "op":
            self.take()
            op = {"==": "=", "<>": "!="}.get(value, value)
            return Compare(name, op, self.parse_value())
        negated = False
        if self.at_keyword("not") and self.at_keyword("in", "between", "contains", offset=1):
            self.take()
            negated = True
        if self.at_keyword("in"):
            self.take()
            self.expect_punct("(")
            values = [self.parse_value()]
            while self.peek()[0] == "punct" and self.peek()[1] == ",":
                self.take()
                values.append(self.parse_value())
            self.expect_punct(")")
            return In(name, tuple(values), negated)
        if self.at_keyword("between"):
            self.take()
            low = self.parse_value()
            self.expect_keyword("and")
            return Between(name, low, self.parse_value(), negated)
        if self.at_keyword("contains"):
            self.take()
            return Contains(name, self.parse_value(), negated)
        if self.at_keyword("is"):
            self.take()
            is_not = False
            if self.at_keyword("not"):
                self.take()
                is_not = True
            self.expect_keyword("null")
            return IsNull(name, is_not)
        if kind in ("end",) or (kind == "keyword" and value in ("and", "or")) or (kind == "punct" and value == ")"):
            return Truthy(name)
        self.fail(f"expected a comparison after {name.name!r} (=, <, in, between, contains, is null)", value, position)

    def parse_value(self) -> Literal:
        kind, value, position = self.take()
        try:
            if kind == "number":
                return Literal("number", Decimal(value))
            if kind == "string":
                quote = value[0]
                return Literal("text", value[1:-1].replace(quote * 2, quote))
            if kind == "date":
                return Literal("date", to_datetime(value.replace(" ", "T")))
            if kind == "duration":
                return Literal("duration", parse_duration(value).days)
            if kind == "keyword" and value in ("true", "false"):
                return Literal("bool", value == "true")
        except ValidationError as error:
            raise RuleError(f"bad value {value!r}: {error.expected}", self.text, position) from None
        self.fail("expected a value (number, 'text', date, duration, true or false)", value, position)
