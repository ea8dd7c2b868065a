"""Checks of an input's columns (or a row's keys) against the import definition's fields."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from airflow_provider_eloqua.exceptions import EloquaInputError

MAX_LISTED = 20


def listed(names: Iterable[Any]) -> str:
    names = list(names)
    text = ", ".join(repr(n) for n in names[:MAX_LISTED])
    if len(names) > MAX_LISTED:
        text += f", ... ({len(names) - MAX_LISTED} more)"
    return text


def definition_fields(fields: Collection[str], identifier: str) -> frozenset[str]:
    if isinstance(fields, (str, bytes)) or not isinstance(fields, Iterable):
        raise EloquaInputError(f"fields must be a collection of the import definition's field names, got {fields!r}")
    field_set = frozenset(fields)
    if not field_set:
        raise EloquaInputError("fields is empty: the import definition must have at least one field")
    if identifier not in field_set:
        raise EloquaInputError(
            f"identifier {identifier!r} is not one of the import definition's fields ({listed(sorted(field_set))})"
        )
    return field_set


def check_columns(columns: Sequence[str], fields: Collection[str], identifier: str, where: str) -> None:
    """Check an input's columns against the import definition's fields.

    Every column must be a field of the definition, no column may appear twice, and the
    identifier column must be present. ``where`` says what the columns are ("the header of
    contacts.csv"); it starts every message.
    """
    field_set = definition_fields(fields, identifier)
    columns = list(columns)
    if not columns or all(c == "" for c in columns):
        raise EloquaInputError(f"{where} is empty: it must name the columns (at least {identifier!r})")
    seen: set[str] = set()
    dupes: list[str] = []
    for col in columns:
        if col in seen and col not in dupes:
            dupes.append(col)
        seen.add(col)
    if dupes:
        raise EloquaInputError(f"{where} names these columns more than once: {listed(dupes)}")
    unknown = [c for c in columns if c not in field_set]
    if unknown:
        raise EloquaInputError(
            f"{where} has columns that are not fields of the import definition: {listed(unknown)} "
            f"(the definition's fields are {listed(sorted(field_set))})"
        )
    if identifier not in seen:
        raise EloquaInputError(f"{where} lacks the identifier column {identifier!r} (columns: {listed(columns)})")


def blank_identifier(value: Any) -> bool:
    """True for an identifier value that names no record: missing (None), empty or whitespace only.

    The one rule every input format applies (rows given as data, JSON and NDJSON files, CSV, where
    an empty field and ``""`` are both the empty string), so that they agree on what is refused.
    """
    return value is None or (isinstance(value, str) and not value.strip())


#: Oracle's "Creating new custom object records": with the record Id or ExternalId as the identifier,
#: a blank value creates a new record (docs/eloqua-behaviour.md, "Blank identifiers ...").
_NEW_RECORD_IDENTIFIER = re.compile(r"^\s*\{\{CustomObject\[\d+\]\.(?:Id|ExternalId)\}\}\s*$")


def blank_creates_records(statement: Any) -> bool:
    """True when a blank value of the identifier field ``statement`` is documented: it creates a
    new record (a custom object record's ``Id`` or ``ExternalId``). Anywhere else a blank
    identifier matches no record, and is refused before anything is sent."""
    return isinstance(statement, str) and _NEW_RECORD_IDENTIFIER.match(statement) is not None


def check_identifier(value: Any, identifier: str, where: str) -> None:
    """Refuse a row whose identifier is blank, naming the row (``where``) and the column."""
    if blank_identifier(value):
        raise EloquaInputError(f"{where}: the identifier {identifier!r} is empty")
