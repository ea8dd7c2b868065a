"""The definitions the provider creates: their properties checked before anything is sent to Eloqua,
an existing one found again, and one the provider made for itself deleted.

Eloqua rejects a bad definition with a 400 and a ``failures`` list; catching the same mistakes
here gives the DAG author an error that names the argument, at the first line of the task,
without a round trip (and without a half-created definition to clean up). The checks run from
:class:`airflow_provider_eloqua.load.spec.DefinitionSpec`, which builds the definition's body;
:func:`same_definition` says whether an existing definition can be reused for it, and
:func:`definitions_named` finds those of an exact name. :func:`discard_definition` deletes a
definition the provider made for itself (a load's or an export's), best effort. A definition whose create
answer was lost is noted first (:class:`RequestedDefinition`) and, when the try that finds it cannot use
it, deleted by :func:`delete_lost_definition`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_eloqua.exceptions import EloquaApiError, EloquaError, EloquaInputError

if TYPE_CHECKING:
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

log = logging.getLogger(__name__)
MAX_FIELDS = 100
MAX_NAME_LENGTH = 100
MAX_SYNC_ACTIONS = 10
UPDATE_RULES = ("always", "ifNewIsNotNull", "ifExistingIsNull", "useFieldRule")
SYNC_ACTION_TYPES = ("add", "remove", "setStatus")
MEMBER_STATUSES = (
    "bounced",
    "subscribed",
    "unsubscribed",
    "active",
    "complete",
    "pending",
    "errored",
    "yes",
    "no",
    "invalid",
    "permission",
)
#: The identifiers a contact sync-action definition can use as its single field.
CONTACT_SYNC_ACTION_STATEMENTS = (
    "{{Contact.Id}}",
    "{{Contact.Field(C_EmailAddress)}}",
    "{{Contact.Field(ContactIDExt)}}",
)

#: Oracle's sync-action schemas: the statements that may identify the records of each entity
#: (custom objects: their ``{{CustomObject[<id>].ExternalId}}``, see :func:`sync_action_identifiers`).
SYNC_ACTION_IDENTIFIERS: dict[str, tuple[str, ...]] = {
    "contacts": CONTACT_SYNC_ACTION_STATEMENTS,
    "accounts": ("{{Account.Field(CompanyIDExt)}}", "{{Account.Field(M_CompanyName)}}", "{{Account.Id}}"),
}
#: Import kinds whose schema in Oracle's reference has ``syncActions`` (activities, events,
#: opportunities, their contact links and campaign responses have none).
SYNC_ACTION_IMPORT_ENTITIES = frozenset({"contacts", "accounts", "customObjects", "emailAddresses", "phoneNumbers"})
#: Oracle's opportunity import tutorial: the statements every opportunity import maps, keyed on the Id.
OPPORTUNITY_ID = "{{Opportunity.Id}}"
OPPORTUNITY_REQUIRED = (
    OPPORTUNITY_ID,
    "{{Opportunity.Field(Name)}}",
    "{{Opportunity.Field(Stage)}}",
    "{{Opportunity.Field(Amount)}}",
)
#: ``/opportunities/contacts/imports``: the properties that say how an opportunity finds its contacts.
LINK_PROPERTIES = ("linkOpportunitiesEntityType", "linkOpportunitiesMatchFieldName", "linkOpportunitiesSourceField")

_STATEMENT = re.compile(r"^\{\{.+\}\}$", re.S)
_PRIORITY_URI = re.compile(r"^/imports/priorities/[1-9]\d*$")
_DURATION = re.compile(
    r"^P(?!$)(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)


def parse_duration(value: str) -> timedelta | None:
    """An ISO-8601 duration as Eloqua accepts it (``PT1H``, ``P7D``, ``P2W``); None when malformed."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        return None
    parts = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
    return timedelta(weeks=parts["w"], days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


def check_statement(statement: Any, where: str) -> None:
    if not isinstance(statement, str) or not _STATEMENT.match(statement.strip()):
        raise EloquaInputError(
            f"{where} must be an Eloqua markup statement like {{{{Contact.Field(C_EmailAddress)}}}}; got {statement!r}"
        )


def check_fields(fields: Any, identifier_field_name: Any) -> dict[str, str]:
    if not isinstance(fields, Mapping) or not fields:
        raise EloquaInputError(f"fields must be a non-empty mapping of column name to statement; got {fields!r}")
    if len(fields) > MAX_FIELDS:
        raise EloquaInputError(f"fields has {len(fields)} entries; Eloqua allows at most {MAX_FIELDS}")
    for column, statement in fields.items():
        if not isinstance(column, str) or not column.strip():
            raise EloquaInputError(f"fields has an empty or non-string column name: {column!r}")
        check_statement(statement, f"fields[{column!r}]")
    if not isinstance(identifier_field_name, str) or identifier_field_name not in fields:
        raise EloquaInputError(
            f"identifier_field_name {identifier_field_name!r} must be one of the fields: {', '.join(fields)}"
        )
    return dict(fields)


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise EloquaInputError(f"name must be a non-empty string; got {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise EloquaInputError(f"name is {len(name)} characters; Eloqua allows at most {MAX_NAME_LENGTH}")
    return name


def check_sync_actions(sync_actions: Any, required: bool = False) -> list[dict[str, Any]]:
    if sync_actions is None:
        sync_actions = []
    if not isinstance(sync_actions, list | tuple):
        raise EloquaInputError(f"sync_actions must be a list of actions; got {sync_actions!r}")
    if required and not sync_actions:
        raise EloquaInputError("sync_actions must name at least one action for a sync-action definition")
    if len(sync_actions) > MAX_SYNC_ACTIONS:
        raise EloquaInputError(
            f"sync_actions has {len(sync_actions)} actions; Eloqua allows at most {MAX_SYNC_ACTIONS}"
        )
    for index, action in enumerate(sync_actions):
        where = f"sync_actions[{index}]"
        if not isinstance(action, Mapping):
            raise EloquaInputError(f"{where} must be a mapping like {{'action': 'add', 'destination': ...}}")
        if action.get("action") not in SYNC_ACTION_TYPES:
            raise EloquaInputError(
                f"{where}.action must be one of {', '.join(SYNC_ACTION_TYPES)}; got {action.get('action')!r}"
            )
        check_statement(action.get("destination"), f"{where}.destination")
        if action["action"] == "setStatus" and action.get("status") not in MEMBER_STATUSES:
            raise EloquaInputError(
                f"{where}.status must be one of {', '.join(MEMBER_STATUSES)} for setStatus; got {action.get('status')!r}"
            )
    return [dict(a) for a in sync_actions]


def check_durations(data_retention_duration: str | None, auto_delete_duration: str | None) -> None:
    if data_retention_duration is not None:
        value = parse_duration(data_retention_duration)
        if value is None or not timedelta(hours=1) <= value <= timedelta(days=14):
            raise EloquaInputError(
                "data_retention_duration must be an ISO-8601 duration from PT1H to P14D; "
                f"got {data_retention_duration!r}"
            )
    if auto_delete_duration is not None:
        value = parse_duration(auto_delete_duration)
        if value is None or value < timedelta(hours=1):
            raise EloquaInputError(
                f"auto_delete_duration must be an ISO-8601 duration of at least PT1H; got {auto_delete_duration!r}"
            )


def sync_action_identifiers(entity: str, parent_id: int | str | None) -> tuple[str, ...]:
    """The statements Oracle allows as the one field of a sync-action definition of ``entity``."""
    if entity == "customObjects":
        return (f"{{{{CustomObject[{parent_id}].ExternalId}}}}",)
    return SYNC_ACTION_IDENTIFIERS.get(entity, ())


def is_boolean(value: Any) -> bool:
    """A JSON boolean, or the strings ``"true"``/``"false"`` that Oracle's own examples send."""
    return isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false"))


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_rule_map(value: Any) -> bool:
    rules = [rule for rule in UPDATE_RULES if rule != "useFieldRule"]
    return isinstance(value, Mapping) and all(isinstance(k, str) and v in rules for k, v in value.items())


#: Documented properties a DAG passes through ``definition_extra``: (what it must be, its check,
#: the entities whose import schema has it, or None for every entity). Oracle's reference pages
#: and "Using import and export parameters"; see docs/eloqua-behaviour.md, "Definition properties".
EXTRA_PROPERTIES: dict[str, tuple[str, Callable[[Any], bool], frozenset[str] | None]] = {
    "isUpdatingMultipleMatchedRecords": ("a boolean", is_boolean, None),
    "nullIdentifierFieldName": ("a boolean", is_boolean, None),
    "isIdentifierFieldCaseSensitive": ("a boolean", is_boolean, None),
    "importPriorityUri": (
        "a URI like /imports/priorities/1",
        lambda v: isinstance(v, str) and bool(_PRIORITY_URI.match(v)),
        None,
    ),
    "externalSystemId": ("an integer", _is_integer, None),
    "updateRuleByField": ("a mapping of column name to update rule", _is_rule_map, None),
    "linkUsers": ("a boolean", is_boolean, frozenset({"accounts"})),
    "mapDataCards": ("a boolean", is_boolean, frozenset({"customObjects", "events"})),
    "mapDataCardsCaseSensitiveMatch": ("a boolean", is_boolean, frozenset({"customObjects", "events"})),
    "mapDataCardsEntityField": (
        "an Eloqua markup statement",
        lambda v: isinstance(v, str) and bool(_STATEMENT.match(v.strip())),
        frozenset({"customObjects", "events"}),
    ),
    "mapDataCardsSourceField": (
        "a column name",
        lambda v: isinstance(v, str) and bool(v),
        frozenset({"customObjects", "events"}),
    ),
    "mapDataCardsEntityType": (
        "Contact or Company",
        lambda v: v in ("Contact", "Company"),
        frozenset({"customObjects", "events"}),
    ),
    "linkOpportunitiesEntityType": (
        "Contact or Account",
        lambda v: v in ("Contact", "Account"),
        frozenset({"opportunities/contacts"}),
    ),
    "linkOpportunitiesMatchFieldName": (
        "a column name",
        lambda v: isinstance(v, str) and bool(v),
        frozenset({"opportunities/contacts"}),
    ),
    "linkOpportunitiesSourceField": (
        "a column name",
        lambda v: isinstance(v, str) and bool(v),
        frozenset({"opportunities/contacts"}),
    ),
    "linkOpportunitiesCaseSensitiveMatchField": ("a boolean", is_boolean, frozenset({"opportunities/contacts"})),
    "linkOpportunitiesCaseSensitiveSourceField": ("a boolean", is_boolean, frozenset({"opportunities/contacts"})),
    "linkOpportunitiesMultipleSourceMatches": ("a boolean", is_boolean, frozenset({"opportunities/contacts"})),
}


def check_extra_property(name: str, value: Any, entity: str) -> None:
    """Refuse a documented ``definition_extra`` property of the wrong type, or on the wrong entity.

    Properties this table does not know are passed through unchecked (Oracle adds properties).
    """
    if name not in EXTRA_PROPERTIES:
        return
    expected, valid, entities = EXTRA_PROPERTIES[name]
    if entities is not None and entity not in entities:
        raise EloquaInputError(
            f"definition_extra[{name!r}] is a property of {', '.join(sorted(entities))} imports, not {entity!r}"
        )
    if not valid(value):
        raise EloquaInputError(f"definition_extra[{name!r}] must be {expected}; got {value!r}")


def meaning(value: Any) -> Any:
    """A property value as Eloqua means it: ``"true"``/``"false"`` are booleans (Oracle's examples
    send both forms), statements compare without surrounding spaces, containers compare by content."""
    if isinstance(value, str):
        text = value.strip()
        return text.lower() == "true" if text.lower() in ("true", "false") else text
    if isinstance(value, Mapping):
        return {str(key).strip(): meaning(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [meaning(item) for item in value]
    return value


#: What Eloqua assumes for a property a definition does not carry, so that "absent" and "default" compare equal.
_DEFAULTS: dict[str, Any] = {
    "updateRule": "always",
    "syncActions": [],
    "isSyncTriggeredOnImport": False,
    "dataRetentionDuration": "P7D",
    "isUpdatingMultipleMatchedRecords": False,
}


def same_definition(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """True when an existing definition can be reused for ``wanted``.

    Every property the operator would send must match (name, fields, identifier, update rule,
    sync actions, durations and any ``definition_extra``), and so must the defaulted ones it leaves
    out: reusing a definition that differs in, say, its update rule or sync actions would load the
    data with rules the DAG does not ask for. Values compare by :func:`meaning`, so that Eloqua
    answering ``"false"`` for a ``False`` the DAG sent is no reason to pile up a new definition.
    """
    return all(
        meaning(existing.get(key, _DEFAULTS.get(key))) == meaning(wanted.get(key, _DEFAULTS.get(key)))
        for key in {*wanted, *_DEFAULTS}
    )


def definitions_named(
    hook: EloquaHook, entity: str, parent_id: int | str | None, kind: str, name: str
) -> Iterator[dict[str, Any]]:
    """The definitions of ``kind`` named exactly ``name``: found with ``q=name='<name>'`` (Oracle's list
    query, whose ``*`` is a wildcard and which may ignore letter case), each name compared here."""
    for existing in hook.list_definitions(entity, parent_id, kind, name=name):
        if existing.get("name") == name:
            yield existing


def find_same_definition(
    hook: EloquaHook, entity: str, parent_id: int | str | None, kind: str, body: Mapping[str, Any]
) -> dict[str, Any] | None:
    """A definition of ``kind`` with ``body``'s exact name and the same properties (:func:`same_definition`),
    if Eloqua has one (see :func:`definitions_named`)."""
    for existing in definitions_named(hook, entity, parent_id, kind, str(body.get("name") or "")):
        if same_definition(existing, body):
            return existing
    return None


def discard_definition(hook: EloquaHook, uri: str, what: str) -> None:
    """Delete ``what`` (``"load definition"``, ``"export definition"``), a definition the provider made for
    itself, best effort: one already gone (404, 410) is not missed, and one that cannot be deleted now is
    left to its ``autoDeleteDuration``."""
    try:
        hook.delete_definition(uri)
    except EloquaError as exc:
        if not (isinstance(exc, EloquaApiError) and exc.status in (404, 410)):
            hook.log.warning("Could not delete %s %s (%s); Eloqua deletes it when it expires", what, uri, exc)
        return
    hook.log.info("Deleted %s %s", what, uri)


@dataclass(frozen=True)
class RequestedDefinition:
    """A definition a try asked Eloqua to create, noted before the create is sent: where, and named what
    (a name no other definition has), so that a later try finds it if the answer was lost."""

    name: str
    entity: str
    parent_id: int | str | None
    kind: str
    #: What it was asked for, in the words of the capability that asked (a load's key, an export's origin).
    source: str


def delete_lost_definition(hook: EloquaHook, requested: RequestedDefinition, what: str) -> None:
    """Delete ``what`` (``"load definition"``, ``"export definition"``), which an earlier try asked for
    (``requested``) and never heard the answer of, if Eloqua created it and this try cannot use it: found
    by its name, which no other definition has; nothing was ever synced there (best effort, as
    :func:`discard_definition`)."""
    try:
        lost = list(definitions_named(hook, requested.entity, requested.parent_id, requested.kind, requested.name))
    except EloquaError as exc:
        log.warning(
            "Could not look for %s %r, asked for by an earlier try (%s); if Eloqua created it, it deletes it when "
            "it expires",
            what,
            requested.name,
            exc,
        )
        return
    for definition in lost:
        log.info(
            "Found %s %s (%s), which an earlier try asked for without hearing the answer and this try does not "
            "use: deleting it",
            what,
            definition["uri"],
            requested.name,
        )
        discard_definition(hook, definition["uri"], what)
