"""Building and checking import and sync-action definitions before anything is sent to Eloqua.

Eloqua rejects a bad definition with a 400 and a ``failures`` list; catching the same mistakes
here gives the DAG author an error that names the argument, at the first line of the task,
without a round trip (and without a half-created definition to clean up).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from airflow_provider_eloqua import urls
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


def build_import_definition(
    *,
    entity: str,
    parent_id: int | str | None,
    name: str,
    fields: Mapping[str, str],
    identifier_field_name: str,
    update_rule: str = "always",
    sync_actions: list[dict[str, Any]] | None = None,
    is_sync_triggered_on_import: bool = False,
    data_retention_duration: str | None = None,
    auto_delete_duration: str | None = None,
    definition_extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /<entity>/imports``, validated; raises EloquaInputError naming the argument."""
    try:
        urls.entity_root(entity, parent_id)
    except ValueError as exc:
        raise EloquaInputError(str(exc)) from None
    body: dict[str, Any] = {
        "name": check_name(name),
        "fields": check_fields(fields, identifier_field_name),
        "identifierFieldName": identifier_field_name,
        # Oracle's pages disagree on the default, so it is always sent explicitly.
        "isSyncTriggeredOnImport": bool(is_sync_triggered_on_import),
    }
    if update_rule not in UPDATE_RULES:
        raise EloquaInputError(f"update_rule must be one of {', '.join(UPDATE_RULES)}; got {update_rule!r}")
    body["updateRule"] = update_rule
    actions = check_sync_actions(sync_actions)
    if actions:
        if entity == "events":
            raise EloquaInputError("sync_actions are not available for events imports")
        body["syncActions"] = actions
    _add_durations(body, data_retention_duration, auto_delete_duration)
    return _merge_extra(body, definition_extra)


def build_sync_action_definition(
    *,
    entity: str,
    parent_id: int | str | None,
    name: str,
    fields: Mapping[str, str],
    identifier_field_name: str,
    sync_actions: list[dict[str, Any]],
    is_sync_triggered_on_import: bool = False,
    data_retention_duration: str | None = None,
    auto_delete_duration: str | None = None,
    definition_extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /<entity>/syncActions``: exactly one field, 1 to 10 actions."""
    try:
        urls.sync_actions_path(entity, parent_id)
    except ValueError as exc:
        raise EloquaInputError(str(exc)) from None
    checked = check_fields(fields, identifier_field_name)
    if len(checked) != 1:
        raise EloquaInputError(
            f"a sync-action definition has exactly one field; got {len(checked)}: {', '.join(checked)}"
        )
    statement = next(iter(checked.values())).strip()
    if entity == "contacts" and statement not in CONTACT_SYNC_ACTION_STATEMENTS:
        raise EloquaInputError(
            f"the field of a contacts sync action must be one of {', '.join(CONTACT_SYNC_ACTION_STATEMENTS)}; "
            f"got {statement!r}"
        )
    body: dict[str, Any] = {
        "name": check_name(name),
        "fields": checked,
        "identifierFieldName": identifier_field_name,
        "syncActions": check_sync_actions(sync_actions, required=True),
        "isSyncTriggeredOnImport": bool(is_sync_triggered_on_import),
    }
    _add_durations(body, data_retention_duration, auto_delete_duration)
    return _merge_extra(body, definition_extra)


def _add_durations(body: dict[str, Any], data_retention_duration: str | None, auto_delete_duration: str | None) -> None:
    check_durations(data_retention_duration, auto_delete_duration)
    if data_retention_duration:
        body["dataRetentionDuration"] = data_retention_duration
    if auto_delete_duration:
        body["autoDeleteDuration"] = auto_delete_duration


def _merge_extra(body: dict[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Add other documented properties (e.g. ``isUpdatingMultipleMatchedRecords``) without overriding ours."""
    if not extra:
        return body
    if not isinstance(extra, Mapping):
        raise EloquaInputError(f"definition_extra must be a mapping; got {extra!r}")
    clash = sorted(set(extra) & set(body))
    if clash:
        raise EloquaInputError(f"definition_extra repeats arguments the operator already sets: {', '.join(clash)}")
    return {**body, **extra}


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
