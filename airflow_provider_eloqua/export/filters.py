"""Export filters in Eloqua's expression language (EEL), parsed and checked as far as Oracle documents them.

Oracle's Filtering tutorial and EEL reference (quoted in docs/eloqua-behaviour.md, "Exports (the
emulator)", Filters), as this parser reads them:

* a criterion is ``'{{statement}}' <operator> '<value>'``, both sides in single quotes; operators
  ``>``, ``>=``, ``<``, ``<=``, ``!=``, ``=`` and ``~`` (SQL Server's LIKE);
* criteria combine with ``AND``, ``OR``, ``NOT`` and parentheses;
* ``EXISTS('{{ContactList[12]}}')`` (also ``ContactSegment``, ``ContactFilter``: contact exports
  only; ``AccountList``: account exports only) and ``STATUS('{{...}}') = '<status>'``, at most one
  of each per filter;
* a filter is at most 1,000 characters.

Oracle documents no escape for a quote inside a value, so a value with a quote is refused here
rather than sent in a form Eloqua may read differently. Keywords are read in any letter case.
The parse tree is small and plain so that :mod:`.spec` can check what Oracle says about its shape
(the segment rules, contact fields in activity filters) without parsing twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

from airflow_provider_eloqua.exceptions import EloquaInputError

MAX_FILTER_LENGTH = 1000
OPERATORS = (">=", "<=", "!=", ">", "<", "=", "~")
KEYWORDS = ("AND", "OR", "NOT", "EXISTS", "STATUS")

_TOKEN = re.compile(
    r"\s*(?:(?P<quoted>'[^']*')|(?P<open>\()|(?P<close>\))|(?P<op>>=|<=|!=|>|<|=|~)|(?P<word>[A-Za-z]+))"
)
_STATEMENT = re.compile(r"^\{\{[^{}]+\}\}$")
#: ``{{ContactList[12]}}``: the containers EXISTS may test.
_CONTAINER = re.compile(r"^\{\{(?P<kind>ContactFilter|ContactSegment|ContactList|AccountList)\[(?P<id>[1-9]\d*)\]\}\}$")


@dataclass(frozen=True)
class Comparison:
    """``'{{statement}}' <op> '<value>'``."""

    statement: str
    op: str
    value: str

    def text(self) -> str:
        return f"'{self.statement}' {self.op} '{self.value}'"


@dataclass(frozen=True)
class Exists:
    """``EXISTS('{{ContactList[12]}}')``: ``kind`` is ContactList, ContactSegment, ContactFilter or AccountList."""

    kind: str
    id: int

    @property
    def statement(self) -> str:
        return f"{{{{{self.kind}[{self.id}]}}}}"

    def text(self) -> str:
        return f"EXISTS('{self.statement}')"


@dataclass(frozen=True)
class Status:
    """``STATUS('{{statement}}') = '<status>'``."""

    statement: str
    value: str

    def text(self) -> str:
        return f"STATUS('{self.statement}') = '{self.value}'"


@dataclass(frozen=True)
class Not:
    operand: Node

    def text(self) -> str:
        return f"NOT {_wrapped(self.operand, Not)}"


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]

    def text(self) -> str:
        return " AND ".join(_wrapped(operand, And) for operand in self.operands)


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]

    def text(self) -> str:
        return " OR ".join(_wrapped(operand, Or) for operand in self.operands)


Node = Comparison | Exists | Status | Not | And | Or


def _wrapped(node: Node, parent: type) -> str:
    """A node's text, in parentheses where it binds looser than ``parent`` (NOT > AND > OR)."""
    looser = {Not: (And, Or), And: (Or,), Or: ()}[parent]
    return f"({node.text()})" if isinstance(node, looser) else node.text()


def all_and(*nodes: Node | None) -> Node | None:
    """The conjunction of the given nodes (None ones left out; nested ANDs flattened)."""
    operands: list[Node] = []
    for node in nodes:
        if node is None:
            continue
        operands.extend(node.operands if isinstance(node, And) else (node,))
    if not operands:
        return None
    return operands[0] if len(operands) == 1 else And(tuple(operands))


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents first."""
    yield node
    if isinstance(node, Not):
        yield from walk(node.operand)
    elif isinstance(node, And | Or):
        for operand in node.operands:
            yield from walk(operand)


class _Parser:
    """Recursive descent over EEL's tokens: ``expr := and (OR and)*``, ``and := unary (AND unary)*``,
    ``unary := NOT unary | '(' expr ')' | EXISTS(...) | STATUS(...) = value | statement op value``."""

    def __init__(self, text: str, argument: str) -> None:
        self.text = text
        self.argument = argument
        self.tokens: list[tuple[str, str, int]] = []
        position = 0
        while position < len(text):
            if text[position:].strip() == "":
                break
            match = _TOKEN.match(text, position)
            if not match:
                stray = text[position:].lstrip()
                at = len(text) - len(stray)
                hint = " (a quote that is never closed?)" if stray.startswith("'") else ""
                self.fail(f"unexpected {stray[:20]!r} at character {at + 1}{hint}")
            kind = match.lastgroup or ""
            value = match.group(kind)
            if kind == "word":
                if value.upper() not in KEYWORDS:
                    self.fail(
                        f"unexpected word {value!r} at character {match.start(kind) + 1}: statements and values go "
                        "in single quotes, e.g. '{{Contact.Field(C_Country)}}' = 'Belgium'"
                    )
                value = value.upper()
            self.tokens.append((kind, value, match.start(kind)))
            position = match.end()
        self.index = 0

    def fail(self, reason: str) -> NoReturn:
        raise EloquaInputError(f"{self.argument} is not a filter Eloqua documents: {reason}; got {self.text!r}")

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, kind: str, value: str | None = None, what: str = "") -> str:
        token = self.peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            found = f"{token[1]!r} at character {token[2] + 1}" if token else "the end of the filter"
            self.fail(f"expected {what or value or kind}, found {found}")
        self.index += 1
        assert token is not None
        return token[1]

    def at(self, kind: str, value: str | None = None) -> bool:
        token = self.peek()
        return token is not None and token[0] == kind and (value is None or token[1] == value)

    def parse(self) -> Node:
        if not self.tokens:
            self.fail("it is empty")
        node = self.expr()
        if self.peek() is not None:
            token = self.tokens[self.index]
            self.fail(f"unexpected {token[1]!r} at character {token[2] + 1} (AND or OR missing?)")
        return node

    def expr(self) -> Node:
        operands = [self.conjunction()]
        while self.at("word", "OR"):
            self.index += 1
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def conjunction(self) -> Node:
        operands = [self.unary()]
        while self.at("word", "AND"):
            self.index += 1
            operands.append(self.unary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def unary(self) -> Node:
        if self.at("word", "NOT"):
            self.index += 1
            return Not(self.unary())
        if self.at("open"):
            self.index += 1
            node = self.expr()
            self.take("close", what="')'")
            return node
        if self.at("word", "EXISTS"):
            self.index += 1
            self.take("open", what="'(' after EXISTS")
            statement = self.statement("EXISTS takes a container such as '{{ContactList[12]}}'")
            self.take("close", what="')'")
            container = _CONTAINER.match(statement)
            if not container:
                self.fail(
                    "EXISTS takes a contact filter, contact segment, contact list or account list, e.g. "
                    f"EXISTS('{{{{ContactList[12]}}}}'); got {statement!r}"
                )
            return Exists(container["kind"], int(container["id"]))
        if self.at("word", "STATUS"):
            self.index += 1
            self.take("open", what="'(' after STATUS")
            statement = self.statement("STATUS takes a service statement")
            self.take("close", what="')'")
            self.take("op", "=", what="'=' after STATUS(...)")
            return Status(statement, self.value())
        statement = self.statement("a criterion starts with a quoted statement such as '{{Contact.Field(C_Country)}}'")
        op = self.take("op", what=f"an operator ({' '.join(OPERATORS)})")
        return Comparison(statement, op, self.value())

    def statement(self, what: str) -> str:
        quoted = self.take("quoted", what=what)[1:-1].strip()
        if not _STATEMENT.match(quoted):
            self.fail(f"{what}; got {quoted!r}")
        return quoted

    def value(self) -> str:
        value = self.take("quoted", what="a value in single quotes (Oracle documents no escape for a quote in it)")[
            1:-1
        ]
        if value.startswith("{{"):
            self.fail(f"a value is compared with a statement, not another statement; got {value!r}")
        return value


def parse_filter(text: str, argument: str = "filter") -> Node:
    """The parse tree of an EEL filter; raises EloquaInputError naming ``argument`` and the fault."""
    if not isinstance(text, str):
        raise EloquaInputError(f"{argument} must be a string in Eloqua's expression language; got {text!r}")
    return _Parser(text, argument).parse()


def check_length(text: str, argument: str) -> str:
    """Oracle: "Filters have a 1000 character limit"."""
    if len(text) > MAX_FILTER_LENGTH:
        raise EloquaInputError(
            f"{argument} is {len(text)} characters; Eloqua allows at most {MAX_FILTER_LENGTH} in an export filter"
        )
    return text
