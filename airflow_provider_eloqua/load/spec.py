"""Typed descriptions of what a load is asked to do, each validated once, when it is built.

* :class:`DefinitionSpec`: the import or sync-action definition to create or reuse. Built when
  the task runs (its name, identifier and parent id are templated), before anything is sent.
* :class:`UploadSpec`: how an input is cut into data POSTs and syncs. Built with the operator,
  so a bad setting fails at DAG parse time.
* :class:`InputSpec`: what is uploaded, rows or a file. Built when the task runs (templated),
  before anything is sent to Eloqua.

Every check is a small named function taking the spec, listed in the ``*_CHECKS`` tuples in the
order they run, so that a new rule from Oracle's documentation is one more function in a tuple.
Each raises :class:`~airflow_provider_eloqua.exceptions.EloquaInputError` naming the argument.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from airflow_provider_eloqua import urls
from airflow_provider_eloqua.chunking import CUT_RULES_VERSION, check_chunk_bytes, infer_format
from airflow_provider_eloqua.content import DEFAULT_CHUNK_BYTES
from airflow_provider_eloqua.definitions import (
    LINK_PROPERTIES,
    OPPORTUNITY_ID,
    OPPORTUNITY_REQUIRED,
    SYNC_ACTION_IMPORT_ENTITIES,
    UPDATE_RULES,
    check_durations,
    check_extra_property,
    check_fields,
    check_name,
    check_sync_actions,
    sync_action_identifiers,
)
from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.staging import MAX_STAGED_BYTES_PER_SYNC
from airflow_provider_eloqua.storage import check_not_a_directory

IMPORTS = "imports"
SYNC_ACTIONS = "syncActions"
DEFAULT_UPDATE_RULE = "always"


@dataclass(frozen=True)
class DefinitionSpec:
    """An import or sync-action definition as the DAG describes it, validated when made; see :meth:`body`
    for Eloqua's JSON. ``kind`` is ``imports`` or ``syncActions``; every other field is the operator argument
    of the same name (documented on :class:`airflow_provider_eloqua.operators.eloqua._DefinitionOperator`).
    ``definition_extra`` never overrides the properties the other fields set.
    """

    kind: str
    entity: str
    name: str
    fields: Mapping[str, str]
    identifier_field_name: str
    parent_id: int | str | None = None
    update_rule: str | None = None
    sync_actions: Sequence[Mapping[str, Any]] | None = None
    is_sync_triggered_on_import: bool = False
    data_retention_duration: str | None = None
    auto_delete_duration: str | None = None
    definition_extra: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        checks = SYNC_ACTION_CHECKS if self.kind == SYNC_ACTIONS else IMPORT_CHECKS
        for check in (check_kind, *checks):
            check(self)

    def body(self) -> dict[str, Any]:
        """The JSON body that creates the definition."""
        return {**self._own_body(), **(self.definition_extra or {})}

    def _own_body(self) -> dict[str, Any]:
        """The properties the spec sets itself (``definition_extra`` may add others, never these)."""
        body: dict[str, Any] = {
            "name": self.name,
            "fields": dict(self.fields),
            "identifierFieldName": self.identifier_field_name,
            # Oracle's pages disagree on the default, so it is always sent explicitly.
            "isSyncTriggeredOnImport": bool(self.is_sync_triggered_on_import),
        }
        if self.kind == IMPORTS:
            body["updateRule"] = self.update_rule or DEFAULT_UPDATE_RULE
        if self.sync_actions or self.kind == SYNC_ACTIONS:
            body["syncActions"] = [dict(a) for a in self.sync_actions or ()]
        if self.data_retention_duration:
            body["dataRetentionDuration"] = self.data_retention_duration
        if self.auto_delete_duration:
            body["autoDeleteDuration"] = self.auto_delete_duration
        return body


def template_uri(uri: str) -> urls.DefinitionUri:
    """A load's template, parsed: an import or sync-action definition (a load never stages into another kind)."""
    template = urls.parse_definition_uri(uri)
    if template.kind not in (IMPORTS, SYNC_ACTIONS):
        raise EloquaInputError(
            f"definition_uri must be an import or sync-action definition to load into; got {uri!r} ({template.kind})"
        )
    return template


# ------------------------------------------------------------------ definition checks, in order


def check_entity_choice(entity: str, parent_id: Any, kind: str) -> None:
    """The part of the checks that can run at DAG parse time: an entity that can never work.

    Parent ids are checked in full once templates have rendered, by :class:`DefinitionSpec`.
    """
    allowed = urls.IMPORT_ENTITIES if kind == IMPORTS else urls.SYNC_ACTION_ENTITIES
    if entity not in allowed:
        raise EloquaInputError(f"entity must be one of {', '.join(allowed)}; got {entity!r}")
    if entity in urls.PARENTED_ENTITIES and parent_id is None:
        raise EloquaInputError(f"parent_id is required for entity {entity!r} (the custom object or event id)")


def check_kind(spec: DefinitionSpec) -> None:
    if spec.kind not in (IMPORTS, SYNC_ACTIONS):
        raise EloquaInputError(f"definition kind must be {IMPORTS!r} or {SYNC_ACTIONS!r}; got {spec.kind!r}")


def check_import_entity(spec: DefinitionSpec) -> None:
    try:
        urls.entity_root(spec.entity, spec.parent_id)
    except ValueError as exc:
        raise EloquaInputError(str(exc)) from None


def check_sync_action_entity(spec: DefinitionSpec) -> None:
    try:
        urls.sync_actions_path(spec.entity, spec.parent_id)
    except ValueError as exc:
        raise EloquaInputError(str(exc)) from None


def check_spec_name(spec: DefinitionSpec) -> None:
    check_name(spec.name)


def check_spec_fields(spec: DefinitionSpec) -> None:
    check_fields(spec.fields, spec.identifier_field_name)


def check_update_rule(spec: DefinitionSpec) -> None:
    if spec.update_rule is not None and spec.update_rule not in UPDATE_RULES:
        raise EloquaInputError(f"update_rule must be one of {', '.join(UPDATE_RULES)}; got {spec.update_rule!r}")


def check_import_sync_actions(spec: DefinitionSpec) -> None:
    """Sync actions only where Oracle's import schema has them (not activities, events, opportunities…)."""
    if check_sync_actions(spec.sync_actions) and spec.entity not in SYNC_ACTION_IMPORT_ENTITIES:
        raise EloquaInputError(
            f"sync_actions are not available for {spec.entity} imports (Oracle's {spec.entity} import has no "
            f"syncActions); they are for {', '.join(sorted(SYNC_ACTION_IMPORT_ENTITIES))}"
        )


def check_single_field(spec: DefinitionSpec) -> None:
    """A sync-action definition has exactly one field, one of the identifiers Oracle lists for its entity."""
    if len(spec.fields) != 1:
        raise EloquaInputError(
            f"a sync-action definition has exactly one field; got {len(spec.fields)}: {', '.join(spec.fields)}"
        )
    statement = next(iter(spec.fields.values())).strip()
    allowed = sync_action_identifiers(spec.entity, spec.parent_id)
    if statement not in allowed:
        raise EloquaInputError(
            f"the field of a {spec.entity} sync action must be one of {', '.join(allowed)}; got {statement!r}"
        )


def check_opportunity_fields(spec: DefinitionSpec) -> None:
    """Oracle's opportunity tutorial: Id, Name, Stage and Amount are required, keyed on the Id."""
    if spec.entity != "opportunities":
        return
    statements = {statement.strip() for statement in spec.fields.values()}
    missing = [statement for statement in OPPORTUNITY_REQUIRED if statement not in statements]
    if missing:
        raise EloquaInputError(
            f"fields of an opportunities import must map {', '.join(missing)} (Oracle requires them)"
        )
    if spec.fields[spec.identifier_field_name].strip() != OPPORTUNITY_ID:
        raise EloquaInputError(
            f"identifier_field_name of an opportunities import must name the {OPPORTUNITY_ID} field; "
            f"got {spec.identifier_field_name!r}"
        )


def check_opportunity_link(spec: DefinitionSpec) -> None:
    """``opportunities/contacts``: the opportunity's Id and how it finds its contacts or accounts."""
    if spec.entity != "opportunities/contacts":
        return
    if OPPORTUNITY_ID not in {statement.strip() for statement in spec.fields.values()}:
        raise EloquaInputError(f"fields of an opportunities/contacts import must map {OPPORTUNITY_ID}")
    extra = spec.definition_extra or {}
    missing = [name for name in LINK_PROPERTIES if name not in extra]
    if missing:
        raise EloquaInputError(
            f"an opportunities/contacts import needs definition_extra {', '.join(missing)} "
            "(linkOpportunitiesEntityType 'Contact' or 'Account', and the columns to match on)"
        )


def check_field_rules(spec: DefinitionSpec) -> None:
    """``useFieldRule`` names no rule itself: ``updateRuleByField`` must give one per column."""
    rules = (spec.definition_extra or {}).get("updateRuleByField")
    if spec.update_rule == "useFieldRule" and not rules:
        raise EloquaInputError(
            "update_rule 'useFieldRule' needs definition_extra['updateRuleByField'] "
            "(column name -> always, ifNewIsNotNull or ifExistingIsNull)"
        )
    unknown = sorted(set(rules or ()) - set(spec.fields)) if isinstance(rules, Mapping) else []
    if unknown:
        raise EloquaInputError(
            f"definition_extra['updateRuleByField'] names columns not in fields: {', '.join(unknown)}"
        )


def check_no_update_rule(spec: DefinitionSpec) -> None:
    if spec.update_rule is not None:
        raise EloquaInputError(
            f"update_rule is a property of import definitions, not sync actions; got {spec.update_rule!r}"
        )


def check_required_sync_actions(spec: DefinitionSpec) -> None:
    check_sync_actions(spec.sync_actions, required=True)


def check_spec_durations(spec: DefinitionSpec) -> None:
    check_durations(spec.data_retention_duration, spec.auto_delete_duration)


def check_definition_extra(spec: DefinitionSpec) -> None:
    """Other documented properties (e.g. ``isUpdatingMultipleMatchedRecords``), never overriding ours."""
    extra = spec.definition_extra
    if not extra:
        return
    if not isinstance(extra, Mapping):
        raise EloquaInputError(f"definition_extra must be a mapping; got {extra!r}")
    clash = sorted(set(extra) & set(spec._own_body()))
    if clash:
        raise EloquaInputError(f"definition_extra repeats arguments the operator already sets: {', '.join(clash)}")
    for name, value in extra.items():
        check_extra_property(name, value, spec.entity)


DefinitionCheck = Callable[[DefinitionSpec], None]
#: The checks of an import definition, in the order they run.
IMPORT_CHECKS: tuple[DefinitionCheck, ...] = (
    check_import_entity,
    check_spec_name,
    check_spec_fields,
    check_update_rule,
    check_import_sync_actions,
    check_spec_durations,
    check_definition_extra,
    check_opportunity_fields,
    check_opportunity_link,
    check_field_rules,
)
#: The checks of a sync-action definition, in the order they run.
SYNC_ACTION_CHECKS: tuple[DefinitionCheck, ...] = (
    check_sync_action_entity,
    check_spec_fields,
    check_single_field,
    check_spec_name,
    check_no_update_rule,
    check_required_sync_actions,
    check_spec_durations,
    check_definition_extra,
)


# ------------------------------------------------------------------ uploads


def check_max_bytes_per_sync(max_bytes_per_sync: Any, chunk_bytes: int) -> int:
    """``max_bytes_per_sync`` if it is an int from ``chunk_bytes`` to Eloqua's per-sync limit."""
    if (
        isinstance(max_bytes_per_sync, bool)
        or not isinstance(max_bytes_per_sync, int)
        or not chunk_bytes <= max_bytes_per_sync <= MAX_STAGED_BYTES_PER_SYNC
    ):
        raise EloquaInputError(
            f"max_bytes_per_sync must be an integer from chunk_bytes ({chunk_bytes}) to Eloqua's "
            f"{MAX_STAGED_BYTES_PER_SYNC}; got {max_bytes_per_sync!r}"
        )
    return max_bytes_per_sync


@dataclass(frozen=True)
class UploadSpec:
    """How an input is cut: into data POSTs of ``chunk_bytes`` and syncs of ``max_bytes_per_sync`` (the
    operator arguments of those names, documented on
    :class:`airflow_provider_eloqua.operators.eloqua._LoadOperator`)."""

    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    max_bytes_per_sync: int = MAX_STAGED_BYTES_PER_SYNC

    def __post_init__(self) -> None:
        check_chunk_bytes(self.chunk_bytes)
        check_max_bytes_per_sync(self.max_bytes_per_sync, self.chunk_bytes)

    @property
    def cut(self) -> list[int]:
        """What decides where batches end: a resumed load must be cut the same way (the settings,
        and the provider's own cutting rules, which a provider upgrade between two tries may change)."""
        return [self.chunk_bytes, self.max_bytes_per_sync, CUT_RULES_VERSION]


class RowSource(Protocol):
    """Rows that are read afresh by every :meth:`open`, such as a query that runs again.

    ``identity`` says what the rows are (e.g. a digest of a query and its parameters), the same
    on every try of a task for the same input; ``columns`` are the column names of every row.
    :meth:`open` gives each row as a mapping, :meth:`open_records` as a tuple of its values in
    ``columns`` order (what the upload reads).
    """

    @property
    def identity(self) -> str: ...

    @property
    def columns(self) -> Sequence[str]: ...

    def open(self) -> AbstractContextManager[Iterator[Mapping[str, Any]]]: ...

    def open_records(self) -> AbstractContextManager[Iterator[tuple]]: ...


@dataclass(frozen=True)
class InputSpec:
    """What is uploaded: ``data`` (rows, e.g. an upstream XCom), ``path`` (a file) or ``rows`` (a
    source read afresh on every pass, e.g. a query), exactly one.

    :param data: a list of row dicts.
    :param path: a local path or ObjectStoragePath URL of a CSV, JSON array or NDJSON file.
    :param format: ``csv``, ``json`` or ``ndjson``; for a file, inferred from its extension when
        not given (and then set here, so it is decided once).
    :param rows: rows streamed from a :class:`RowSource`, never held whole.
    """

    data: Sequence[Mapping[str, Any]] | None = None
    path: str | None = None
    format: str | None = None
    rows: RowSource | None = None

    def __post_init__(self) -> None:
        if [self.data, self.path, self.rows].count(None) != 2:
            raise EloquaInputError("give exactly one of data (a list of row dicts) or path (a file to upload)")
        if self.data is not None:
            if not isinstance(self.data, Sequence) or isinstance(self.data, str | bytes):
                raise EloquaInputError(f"data must be a list of row dicts; got {type(self.data).__name__}")
        elif self.path is not None:
            try:
                object.__setattr__(self, "format", infer_format(str(self.path), self.format))
            except EloquaInputError:
                if self.format is None:
                    check_not_a_directory(self.path)  # a directory has no format to infer: say what it is
                raise
