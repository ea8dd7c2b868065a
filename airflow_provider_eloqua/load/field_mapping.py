"""Input columns mapped to the site's own fields, for an import whose ``fields`` were left out.

The site's fields come from ``GET <entity root>/fields`` (a custom object's or event's own list
for ``customObjects`` and ``events``). A column matches a field by its internal name
(``C_EmailAddress``) or its display name (``Email Address``), case and surrounding spaces
ignored. Everything is checked before any definition is created or any row is sent: a column
that matches no field, or two, or a read-only field, or a field another column already took,
fails naming the column (and, for an unknown one, the closest field names). The identifier,
unless given, is the column of the entity's unique field (the e-mail address for contacts).
See the README's "Fields mapped from the site" section.
"""

from __future__ import annotations

import csv
import difflib
import io
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_eloqua import urls
from airflow_provider_eloqua.chunking import iter_file_rows
from airflow_provider_eloqua.chunking.columns import check_columns, listed
from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.load.spec import DefinitionSpec, InputSpec
from airflow_provider_eloqua.storage import open_path

if TYPE_CHECKING:
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

log = logging.getLogger(__name__)

#: The identifier an entity's records are matched on when the input has it (Oracle's contact
#: import tutorial keys contacts on the e-mail address).
PREFERRED_IDENTIFIERS = {"contacts": "{{Contact.Field(C_EmailAddress)}}"}
#: Closest field names offered for an unknown column.
SUGGESTIONS = 3


@dataclass(frozen=True)
class SiteField:
    """One field of the site, as ``GET <entity root>/fields`` lists it."""

    name: str
    internal_name: str
    statement: str
    read_only: bool
    unique: bool

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> SiteField:
        return cls(
            name=str(item.get("name") or ""),
            internal_name=str(item.get("internalName") or ""),
            statement=str(item.get("statement") or ""),
            read_only=bool(item.get("hasReadOnlyConstraint")),
            unique=bool(item.get("hasUniquenessConstraint")),
        )

    def describe(self) -> str:
        return f"{self.internal_name} ({self.name!r})" if self.name else self.internal_name


@dataclass(frozen=True)
class FieldMapping:
    """Input column -> Eloqua statement, and the identifier column: a definition's ``fields``."""

    fields: dict[str, str]
    identifier: str

    def describe(self) -> str:
        return ", ".join(f"{column!r} -> {statement}" for column, statement in self.fields.items())


def _key(name: str) -> str:
    return name.strip().casefold()


def map_columns(
    columns: Sequence[str], site_fields: Iterable[Mapping[str, Any]], entity: str, identifier: str | None = None
) -> FieldMapping:
    """Map ``columns`` to ``site_fields`` (the items of ``GET <entity root>/fields``).

    :param columns: the input's column names, in input order.
    :param site_fields: the site's fields of ``entity``.
    :param entity: the import's entity (says which unique field is the default identifier).
    :param identifier: the identifier column; None: the column of the entity's unique field.
    :raises EloquaInputError: naming the column at fault, and the closest field names.
    """
    fields = [SiteField.of(item) for item in site_fields]
    by_key: dict[str, list[SiteField]] = {}
    for field in fields:
        for name in {_key(field.internal_name), _key(field.name)} - {""}:
            by_key.setdefault(name, []).append(field)
    if not columns:
        raise EloquaInputError("the input has no columns to map to the site's fields")
    mapped: dict[str, SiteField] = {}
    taken: dict[str, str] = {}  # statement -> column
    for column in columns:
        if not isinstance(column, str) or not column.strip():
            raise EloquaInputError(f"the input has an empty or non-text column name: {column!r}")
        matches = by_key.get(_key(column), [])
        if not matches:
            close = difflib.get_close_matches(_key(column), list(by_key), n=SUGGESTIONS, cutoff=0.5)
            names = [by_key[name][0].describe() for name in close]
            hint = f"; the closest are {', '.join(dict.fromkeys(names))}" if names else ""
            raise EloquaInputError(
                f"column {column!r} matches no {entity} field by internal or display name{hint} "
                "(rename the column, or give fields)"
            )
        if len(matches) > 1:
            raise EloquaInputError(
                f"column {column!r} matches {len(matches)} {entity} fields: "
                f"{', '.join(f.describe() for f in matches)}; give fields to say which"
            )
        field = matches[0]
        if field.read_only:
            raise EloquaInputError(
                f"column {column!r} maps to {field.describe()}, which is read-only in Eloqua: leave the column out"
            )
        if field.statement in taken:
            raise EloquaInputError(
                f"columns {taken[field.statement]!r} and {column!r} both map to {field.describe()}; keep one"
            )
        taken[field.statement] = column
        mapped[column] = field
    return FieldMapping(
        {column: field.statement for column, field in mapped.items()}, _identifier(mapped, entity, identifier)
    )


def _identifier(mapped: Mapping[str, SiteField], entity: str, identifier: str | None) -> str:
    """The identifier column: the one given, else the column of the entity's unique field."""
    if identifier is not None:
        if identifier not in mapped:
            raise EloquaInputError(
                f"identifier_field_name {identifier!r} is not one of the input's columns: {listed(mapped)}"
            )
        return identifier
    preferred = PREFERRED_IDENTIFIERS.get(entity)
    for column, field in mapped.items():
        if field.statement == preferred:
            return column
    unique = [column for column, field in mapped.items() if field.unique]
    if len(unique) == 1:
        return unique[0]
    if unique:
        raise EloquaInputError(
            f"the columns {listed(unique)} all map to unique {entity} fields: give identifier_field_name to say "
            "which one identifies the records"
        )
    raise EloquaInputError(
        f"no column maps to a unique {entity} field, so the identifier cannot be chosen: give identifier_field_name "
        f"(columns: {listed(mapped)})"
    )


def fetch_field_mapping(
    hook: EloquaHook,
    entity: str,
    parent_id: int | str | None,
    columns: Sequence[str],
    identifier: str | None = None,
) -> FieldMapping:
    """The mapping of ``columns`` to the site's fields of ``entity`` (listed once), logged.

    :param hook: the worker's hook.
    :param entity: the import's entity.
    :param parent_id: the custom object or event id (``customObjects`` and ``events``).
    :param columns: the input's column names.
    :param identifier: the identifier column; None: the column of the entity's unique field.
    """
    if entity not in urls.FIELD_ENTITIES:
        raise EloquaInputError(
            f"Eloqua lists no fields for {entity}, so its columns cannot be mapped: give fields "
            f"(fields can be mapped for {', '.join(urls.FIELD_ENTITIES)})"
        )
    mapping = map_columns(columns, hook.list_fields(entity, parent_id), entity, identifier)
    log.info(
        "Mapped the input's columns to %s fields: %s; identifier %r", entity, mapping.describe(), mapping.identifier
    )
    return mapping


def input_columns(source: InputSpec) -> list[str]:
    """The input's column names, in input order: every key of rows given as data, a CSV file's
    header, a JSON or NDJSON file's first row's keys, a query's result columns."""
    if source.rows is not None:
        return list(source.rows.columns)
    if source.data is not None:
        seen: dict[str, None] = {}
        for number, row in enumerate(source.data, 1):
            if not isinstance(row, Mapping):
                raise EloquaInputError(f"row {number}: is not a mapping of column name to value")
            seen.update(dict.fromkeys(row))
        return list(seen)
    assert source.path is not None and source.format is not None  # InputSpec: exactly one input
    with open_path(source.path, "rb") as stream:
        if source.format == "csv":
            text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
            return next(csv.reader(text), [])
        first = next(iter(iter_file_rows(stream, source.format)), None)
    return list(first or ())


def check_source_columns(source: InputSpec, fields: Mapping[str, str], identifier: str) -> None:
    """A row source's columns against the definition's ``fields``, before the definition is created
    (files and rows given as data are checked as they are read)."""
    if source.rows is not None:
        check_columns(list(source.rows.columns), fields, identifier, "the input's columns")


@dataclass(frozen=True)
class MappedDefinition:
    """A definition whose ``fields`` are the input's columns mapped to the site's fields, made when
    the load creates its definition (after the input is opened, before anything is sent).

    :param entity: the import's entity.
    :param parent_id: the custom object or event id.
    :param identifier: the identifier column, or None for the column of the entity's unique field.
    :param make_spec: the definition spec with a mapping's fields and identifier.
    :param origin: what the load definition is made from (see
        :func:`~airflow_provider_eloqua.load.load_definition.mapped_origin`).
    """

    entity: str
    parent_id: int | str | None
    identifier: str | None
    make_spec: Callable[[FieldMapping], DefinitionSpec]
    origin: str

    def spec_for(self, hook: EloquaHook, source: InputSpec) -> DefinitionSpec:
        """The spec for ``source``'s columns, mapped to the site's fields (listed once)."""
        columns = input_columns(source)
        return self.make_spec(fetch_field_mapping(hook, self.entity, self.parent_id, columns, self.identifier))
