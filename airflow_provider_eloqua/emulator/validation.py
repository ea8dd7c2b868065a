"""Definition validation with Eloqua's rules and its ``failures`` answer shape.

POST and PUT share one validator because Eloqua's PUT replaces the whole definition: it must
carry every required property, exactly as a create does.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from airflow_provider_eloqua.emulator.errors import failure

MARKUP = re.compile(r"^\{\{.+\}\}$", re.DOTALL)
UPDATE_RULES = ("always", "ifNewIsNotNull", "ifExistingIsNull", "useFieldRule")
SYNC_ACTION_TYPES = ("add", "remove", "setStatus")
#: Properties Eloqua computes itself: ignored when a client sends them.
READ_ONLY = frozenset({"uri", "createdAt", "createdBy", "updatedAt", "updatedBy", "kbUsed"})

_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: Any) -> timedelta | None:
    """An ISO-8601 duration without years or months (``PT1H``, ``P14D``); None when malformed."""
    if not isinstance(text, str) or text in ("P", "PT") or text.endswith("T"):
        return None
    match = _DURATION.match(text)
    if not match:
        return None
    parts = {key: float(value) if value else 0.0 for key, value in match.groupdict().items()}
    return timedelta(weeks=parts["w"], days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


def validate_definition(body: Any, kind: str) -> list[dict[str, Any]]:
    """Every failure of an import (``kind="imports"``) or sync-action definition body."""
    if not isinstance(body, dict):
        return [failure("body", body, "Must be a JSON object.")]
    failures: list[dict[str, Any]] = []
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        failures.append(failure("name", name, "Is required."))
    elif len(name) > 100:
        failures.append(failure("name", name, "Must be a string value, at most 100 characters long."))

    fields = body.get("fields")
    if not isinstance(fields, dict) or not fields:
        failures.append(failure("fields", fields, "Is required and must contain at least one field."))
        fields = {}
    elif len(fields) > 100:
        failures.append(failure("fields", len(fields), "Must contain at most 100 fields."))
    for column, statement in fields.items():
        if not isinstance(statement, str) or not MARKUP.match(statement):
            failures.append(failure(f"fields.{column}", statement, "Must be a valid Eloqua markup statement."))

    identifier = body.get("identifierFieldName")
    if not isinstance(identifier, str) or not identifier:
        failures.append(failure("identifierFieldName", identifier, "Is required."))
    elif identifier not in fields:
        failures.append(failure("identifierFieldName", identifier, "Must be one of the fields keys."))

    if "updateRule" in body and body["updateRule"] not in UPDATE_RULES:
        failures.append(failure("updateRule", body["updateRule"], f"Must be one of {', '.join(UPDATE_RULES)}."))
    failures += _durations(body)
    for flag in ("isSyncTriggeredOnImport", "isUpdatingMultipleMatchedRecords"):
        if flag in body and not isinstance(body[flag], bool):
            failures.append(failure(flag, body[flag], "Must be a boolean."))
    failures += _sync_actions(body.get("syncActions"))

    if kind == "syncActions":
        if len(fields) > 1:
            failures.append(failure("fields", len(fields), "A sync action definition has exactly one field."))
        if not body.get("syncActions"):
            failures.append(failure("syncActions", body.get("syncActions"), "Must contain at least one action."))
    return failures


def _durations(body: dict[str, Any]) -> list[dict[str, Any]]:
    failures = []
    if "dataRetentionDuration" in body:
        value = body["dataRetentionDuration"]
        duration = parse_duration(value)
        if duration is None or not timedelta(hours=1) <= duration <= timedelta(days=14):
            failures.append(failure("dataRetentionDuration", value, "Must be an ISO-8601 duration from PT1H to P14D."))
    if "autoDeleteDuration" in body:
        value = body["autoDeleteDuration"]
        duration = parse_duration(value)
        if duration is None or duration < timedelta(hours=1):
            failures.append(failure("autoDeleteDuration", value, "Must be an ISO-8601 duration of at least PT1H."))
    return failures


def _sync_actions(actions: Any) -> list[dict[str, Any]]:
    if actions is None:
        return []
    if not isinstance(actions, list):
        return [failure("syncActions", actions, "Must be an array.")]
    failures = []
    if len(actions) > 10:
        failures.append(failure("syncActions", len(actions), "Must contain at most 10 actions."))
    for index, action in enumerate(actions):
        where = f"syncActions[{index}]"
        if not isinstance(action, dict):
            failures.append(failure(where, action, "Must be an object."))
            continue
        if action.get("action") not in SYNC_ACTION_TYPES:
            failures.append(
                failure(f"{where}.action", action.get("action"), f"Must be one of {', '.join(SYNC_ACTION_TYPES)}.")
            )
        destination = action.get("destination")
        if not isinstance(destination, str) or not MARKUP.match(destination):
            failures.append(failure(f"{where}.destination", destination, "Must be a valid Eloqua markup statement."))
        if action.get("action") == "setStatus" and not action.get("status"):
            failures.append(failure(f"{where}.status", action.get("status"), "Is required for setStatus."))
    return failures
