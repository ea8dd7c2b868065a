"""Checking import and sync-action definition properties before anything is sent to Eloqua.

Eloqua rejects a bad definition with a 400 and a ``failures`` list; catching the same mistakes
here gives the DAG author an error that names the argument, at the first line of the task,
without a round trip (and without a half-created definition to clean up). The checks run from
:class:`airflow_provider_eloqua.load.spec.DefinitionSpec`, which builds the definition's body;
:func:`same_definition` says whether an existing definition can be reused for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from airflow_provider_eloqua.exceptions import EloquaInputError

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

_STATEMENT = re.compile(r"^\{\{.+\}\}$", re.S)
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
    data with rules the DAG does not ask for.
    """
    return all(
        existing.get(key, _DEFAULTS.get(key)) == wanted.get(key, _DEFAULTS.get(key)) for key in {*wanted, *_DEFAULTS}
    )
