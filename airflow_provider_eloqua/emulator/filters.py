"""The export filter language as far as Oracle documents it, parsed, checked against the export's
entity and evaluated on records (docs/eloqua-behaviour.md, "Exports (the emulator)").

Grammar (Oracle's Filtering tutorial and Eloqua expression language page)::

    filter     := or
    or         := and (OR and)*
    and        := unary (AND unary)*
    unary      := NOT unary | '(' or ')' | EXISTS '(' quoted ')' | quoted op quoted
    op         := > | >= | < | <= | != | = | ~        (~ is SQL Server's LIKE)

Both sides of a comparison are single-quoted (``'{{Contact.Field(C_Country)}}' = 'Belgium'``); a
quote inside a value is doubled, as in SQL. Keywords are matched in any letter case. STATUS (for
AppCloud services) is not emulated: a filter using it is refused, naming it.

This module deliberately shares no code with the provider's own filter checks, so that a mistake in
one is caught by the other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_eloqua.emulator.activities import ACTIVITY_TYPE, CONTACT_FIELD_PREFIX
from airflow_provider_eloqua.emulator.errors import failure
from airflow_provider_eloqua.emulator.fields import fields_for
from airflow_provider_eloqua.emulator.records import ID, parse_instant, system_statements
from airflow_provider_eloqua.emulator.resources import Collection

#: The containers EXISTS may test, and the export entity each belongs to (Eloqua expression language).
CONTAINERS = {
    "ContactList": "contacts",
    "ContactSegment": "contacts",
    "ContactFilter": "contacts",
    "AccountList": "accounts",
}
#: What a contact export filtered by a segment may add (Oracle's 19B segment export rules).
SEGMENT_DATES = frozenset(
    {
        "{{Contact.UpdatedAt}}",
        "{{Contact.CreatedAt}}",
        "{{Contact.Field(C_DateModified)}}",
        "{{Contact.Field(C_DateCreated)}}",
    }
)
OPERATORS = (">=", "<=", "!=", ">", "<", "=", "~")
_TOKEN = re.compile(
    r"\s*(?:(?P<quoted>'(?:[^']|'')*')|(?P<open>\()|(?P<close>\))|(?P<op>>=|<=|!=|>|<|=|~)|(?P<word>[A-Za-z]+))"
)
_CONTAINER = re.compile(r"^\{\{(?P<kind>[A-Za-z]+)\[(?P<id>\d+)\]\}\}$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


class FilterError(ValueError):
    """A filter Eloqua would refuse; the message says where and why."""


@dataclass(frozen=True)
class Comparison:
    statement: str
    op: str
    value: str


@dataclass(frozen=True)
class Exists:
    kind: str
    container_id: int


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Comparison | Exists | Not | And | Or


def walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Not):
        yield from walk(node.operand)
    elif isinstance(node, And | Or):
        for operand in node.operands:
            yield from walk(operand)


# ---- parsing ----------------------------------------------------------------------------------


def _tokens(text: str) -> list[tuple[str, str, int]]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FilterError(f"unexpected {text[position:].strip()[:20]!r} at character {position + 1}")
        kind = match.lastgroup or ""
        tokens.append((kind, match[kind], match.start(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self, kind: str, word: str | None = None) -> bool:
        if self.index >= len(self.tokens):
            return False
        token_kind, text, _ = self.tokens[self.index]
        return token_kind == kind and (word is None or text.upper() == word)

    def accept(self, kind: str, word: str | None = None) -> bool:
        """Step over the next token if it is ``kind`` (and ``word``)."""
        if self.peek(kind, word):
            self.index += 1
            return True
        return False

    def take(self, kind: str, expected: str) -> str:
        if self.index >= len(self.tokens):
            raise FilterError(f"expected {expected} at the end of the filter")
        token_kind, text, position = self.tokens[self.index]
        if token_kind != kind:
            raise FilterError(f"expected {expected} at character {position + 1}, found {text!r}")
        self.index += 1
        return text

    def parse(self) -> Node:
        if not self.tokens:
            raise FilterError("the filter is empty")
        node = self.any_of()
        if self.index < len(self.tokens):
            _, text, position = self.tokens[self.index]
            raise FilterError(f"unexpected {text!r} at character {position + 1}")
        return node

    def any_of(self) -> Node:
        return self.joined("OR", self.all_of, Or)

    def all_of(self) -> Node:
        return self.joined("AND", self.unary, And)

    def joined(self, keyword: str, operand: Callable[[], Node], node: type[And | Or]) -> Node:
        """``operand (keyword operand)*``: the operand alone, or all of them joined by ``keyword``."""
        operands = [operand()]
        while self.accept("word", keyword):
            operands.append(operand())
        return operands[0] if len(operands) == 1 else node(tuple(operands))

    def unary(self) -> Node:
        if self.accept("word", "NOT"):
            return Not(self.unary())
        if self.accept("open"):
            grouped = self.any_of()
            self.take("close", "')'")
            return grouped
        if self.accept("word", "EXISTS"):
            self.take("open", "'(' after EXISTS")
            statement = _unquote(self.take("quoted", "a quoted container such as '{{ContactList[12]}}'"))
            self.take("close", "')' after the EXISTS container")
            match = _CONTAINER.match(statement)
            if match is None or match["kind"] not in CONTAINERS:
                raise FilterError(
                    f"EXISTS takes '{{{{ContactList[id]}}}}', ContactSegment, ContactFilter or AccountList; got {statement!r}"
                )
            return Exists(match["kind"], int(match["id"]))
        if self.peek("word", "STATUS"):
            raise FilterError("STATUS (AppCloud service status) is not supported by the emulator")
        statement = _unquote(self.take("quoted", "a quoted '{{statement}}'"))
        if not (statement.startswith("{{") and statement.endswith("}}")):
            raise FilterError(f"the left side of a comparison must be a quoted markup statement; got {statement!r}")
        op = self.take("op", f"an operator ({' '.join(OPERATORS)})")
        value = _unquote(self.take("quoted", "a quoted value"))
        return Comparison(statement, op, value)


def _unquote(token: str) -> str:
    return token[1:-1].replace("''", "'")


def parse(text: str) -> Node:
    """The filter's tree; FilterError naming the first problem."""
    return _Parser(text).parse()


# ---- checks against the export ------------------------------------------------------------------


def check(
    text: str, collection: Collection, exportable: Callable[[str], bool], known: Callable[[str, int], bool]
) -> list[dict[str, Any]]:
    """The failures of ``text`` as the filter of an export of ``collection``: syntax, statements the
    entity has, Oracle's EXISTS rules (one per filter, of the entity's own kind, segment shapes),
    no contact fields in activity filters (but for SMS types), date values that read as dates.
    ``known(kind, id)`` says whether a container exists."""
    try:
        tree = parse(text)
    except FilterError as exc:
        return [failure("filter", text, f"Invalid filter: {exc}.")]
    problems: list[str] = []
    nodes = list(walk(tree))
    exists = [node for node in nodes if isinstance(node, Exists)]
    if len(exists) > 1:
        problems.append("a filter may have one EXISTS")
    for container in exists:
        if CONTAINERS[container.kind] != collection.entity:
            problems.append(f"EXISTS on a {container.kind} works in {CONTAINERS[container.kind]} exports only")
        elif not known(container.kind, container.container_id):
            problems.append(f"{container.kind}[{container.container_id}] does not exist")
    sms = _pins_sms(nodes)
    dates = _date_statements(collection)
    for node in nodes:
        if not isinstance(node, Comparison):
            continue
        if collection.entity == "activities" and node.statement.startswith(CONTACT_FIELD_PREFIX) and not sms:
            problems.append(f"contact fields cannot be used in an activity export's filter: {node.statement}")
        elif not exportable(node.statement):
            problems.append(f"{node.statement} is not a field of {collection.root.strip('/')}")
        elif node.statement in dates and node.op != "~" and parse_instant(node.value) is None:
            problems.append(f"{node.value!r} is not a date and time (YYYY-MM-DD HH:MM:SS) for {node.statement}")
    if exists and exists[0].kind == "ContactSegment" and not _segment_shape(tree, exists[0]):
        problems.append(
            "a contact export filtered by a segment may add one or two date criteria on "
            + ", ".join(sorted(SEGMENT_DATES))
            + " only (seg AND d, seg AND d1 AND d2, seg AND (d1 OR d2))"
        )
    return [failure("filter", text, f"Invalid filter: {problem}.") for problem in problems]


def _pins_sms(nodes: list[Node]) -> bool:
    return any(
        isinstance(n, Comparison) and n.statement == ACTIVITY_TYPE and n.op == "=" and n.value.lower().startswith("sms")
        for n in nodes
    )


def selects_sms(text: str) -> bool:
    """Whether a filter (valid or not) pins an SMS activity type with ``'{{Activity.Type}}' = 'Sms…'``."""
    try:
        return _pins_sms(list(walk(parse(text))))
    except FilterError:
        return False


def _segment_shape(tree: Node, segment: Exists) -> bool:
    def is_date(node: Node) -> bool:
        return isinstance(node, Comparison) and node.statement in SEGMENT_DATES

    if tree == segment:
        return True
    if not isinstance(tree, And) or segment not in tree.operands:
        return False
    rest = [node for node in tree.operands if node != segment]
    if len(rest) in (1, 2) and all(map(is_date, rest)):
        return True
    return (
        len(rest) == 1
        and isinstance(rest[0], Or)
        and len(rest[0].operands) == 2
        and all(map(is_date, rest[0].operands))
    )


def _date_statements(collection: Collection) -> frozenset[str]:
    system = {statement for statement, key in system_statements(collection).items() if key != ID}
    catalogue = {item["statement"] for item in fields_for(collection.root) or [] if item["dataType"] == "date"}
    return frozenset(system | catalogue)


# ---- evaluation ---------------------------------------------------------------------------------

Predicate = Callable[[str, dict[str, Any]], bool]


def compile_filter(
    text: str,
    collection: Collection,
    timestamps: dict[str, str],
    zone: ZoneInfo,
    members: Callable[[str, int], set[str]],
) -> Predicate:
    """A predicate over (record key, record) for a filter that passed ``check``.

    ``timestamps`` maps the entity's system timestamp statements to their reserved record keys; their
    filter values are read in ``zone`` (UTC when the definition's ``areSystemTimestampsInUTC`` is true,
    else the site's zone). ``members(kind, id)`` is the set of record keys in a container.
    """
    dates = _date_statements(collection) - set(timestamps)
    return _compile(parse(text), timestamps, dates, zone, members)


def _compile(
    node: Node,
    timestamps: dict[str, str],
    dates: frozenset[str],
    zone: ZoneInfo,
    members: Callable[[str, int], set[str]],
) -> Predicate:
    if isinstance(node, And | Or):
        parts = [_compile(operand, timestamps, dates, zone, members) for operand in node.operands]
        if isinstance(node, And):
            return lambda key, record: all(part(key, record) for part in parts)
        return lambda key, record: any(part(key, record) for part in parts)
    if isinstance(node, Not):
        inner = _compile(node.operand, timestamps, dates, zone, members)
        return lambda key, record: not inner(key, record)
    if isinstance(node, Exists):
        found = members(node.kind, node.container_id)
        return lambda key, record: key in found
    return _comparison(node, timestamps, dates, zone)


def _comparison(node: Comparison, timestamps: dict[str, str], dates: frozenset[str], zone: ZoneInfo) -> Predicate:
    op, statement = node.op, node.statement
    reserved = timestamps.get(statement)
    if op == "~":
        pattern = _like(node.value)
        looked_up = reserved or statement
        return lambda key, record: bool(pattern.match(_text(record.get(looked_up))))
    if reserved == ID:
        wanted_id = float(node.value) if _NUMBER.match(node.value) else None
        return lambda key, record: wanted_id is not None and _compare(float(record[ID]), op, wanted_id)
    if reserved is not None:
        bound = parse_instant(node.value, zone)
        return lambda key, record: record.get(reserved) is not None and _compare(record[reserved], op, bound)
    if statement in dates:
        wanted_date = parse_instant(node.value)

        def date_matches(key: str, record: dict[str, Any]) -> bool:
            value = parse_instant(record.get(statement))
            return value is not None and _compare(value, op, wanted_date)

        return date_matches
    wanted = node.value.casefold()
    wanted_number = float(node.value) if _NUMBER.match(node.value) else None

    def matches(key: str, record: dict[str, Any]) -> bool:
        text = _text(record.get(statement))
        if wanted_number is not None and _NUMBER.match(text):
            return _compare(float(text), op, wanted_number)
        return _compare(text.casefold(), op, wanted)

    return matches


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    return bool(left <= right)


def _like(pattern: str) -> re.Pattern[str]:
    """SQL Server's LIKE: ``%`` any run, ``_`` one character, ``[abc]`` / ``[^abc]`` a class; no case."""
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        elif char == "[" and "]" in pattern[index + 1 :]:
            end = pattern.index("]", index + 1)
            body = pattern[index + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            index = end
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)
