"""What a finished sync does to the in-memory site: upsert records, apply sync actions, and
produce the logs and rejects Eloqua would report.

Log codes follow Oracle's status-code list. Created/updated per entity: contacts ELQ-00004/00022,
accounts ELQ-00005/00023, custom objects ELQ-00007/00012, events ELQ-00077/00079, activities
ELQ-00069 (they never update), opportunities ELQ-00049 "Total new records." (Eloqua documents no
"updated" code for them, so updates are not logged). A row without an identifier value is rejected
with ELQ-00061 "Rejected records (missing fields)." (the emulator's choice).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

EMAIL_STATEMENT = "{{Contact.Field(C_EmailAddress)}}"
_PLAUSIBLE_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTACT_LIST = re.compile(r"^\{\{ContactList\[(\d+)\]\}\}$")

_CREATED_UPDATED: dict[str, tuple[tuple[str, str], tuple[str, str] | None]] = {
    "contacts": (("ELQ-00004", "Contacts created."), ("ELQ-00022", "Contacts updated.")),
    "accounts": (("ELQ-00005", "Accounts created."), ("ELQ-00023", "Accounts updated.")),
    "customObjects": (("ELQ-00007", "CustomObject data created."), ("ELQ-00012", "CustomObject data updated.")),
    "events": (("ELQ-00077", "Event data created."), ("ELQ-00079", "Event data updated.")),
    "activities": (("ELQ-00069", "Activities created."), None),
    "opportunities": (("ELQ-00049", "Total new records."), None),
}


@dataclass
class Site:
    """The records and memberships syncs write to (owned and locked by EmulatorState)."""

    #: entity root (``/contacts``) -> identifier key -> {statement: value}
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: list key (``"123"`` for ``{{ContactList[123]}}``, else the statement) -> member identifiers
    lists: dict[str, set[str]] = field(default_factory=dict)
    #: setStatus destination -> identifier -> status
    statuses: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Outcome:
    """Result of processing a sync's rows; ``logs`` items lack ``syncUri``/``createdAt``."""

    status: str
    logs: list[dict[str, Any]]
    rejects: list[dict[str, Any]]


def list_key(destination: str) -> str:
    match = _CONTACT_LIST.match(destination)
    return match[1] if match else destination


def _log(severity: str, code: str, message: str, count: int) -> dict[str, Any]:
    return {"severity": severity, "statusCode": code, "message": message, "count": count}


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _identity(value: Any, statement: str) -> str:
    """Record key for an identifier value: e-mail addresses match case-insensitively, as in Eloqua."""
    text = str(value).strip()
    return text.casefold() if statement == EMAIL_STATEMENT else text


def _merge(existing: dict[str, Any], new: dict[str, Any], definition: dict[str, Any]) -> None:
    """Apply the definition's updateRule (per column for ``useFieldRule``) to an existing record."""
    rule = definition.get("updateRule", "always")
    by_column = definition.get("updateRuleByField") or {}
    statement_rules = {definition["fields"][col]: r for col, r in by_column.items() if col in definition["fields"]}
    for statement, value in new.items():
        effective = statement_rules.get(statement, "always") if rule == "useFieldRule" else rule
        if effective == "ifNewIsNotNull" and _empty(value):
            continue
        if effective == "ifExistingIsNull" and not _empty(existing.get(statement)):
            continue
        existing[statement] = value


def _reject(row: dict[str, Any], index: int, invalid: list[str], code: str, message: str) -> dict[str, Any]:
    return {
        "fieldValues": dict(row),
        "invalidFields": invalid,
        "message": message,
        "recordIndex": index,
        "statusCode": code,
    }


def process(site: Site, root: str, kind: str, definition: dict[str, Any], rows: list[dict[str, Any]]) -> Outcome:
    """Apply ``rows`` staged for a definition; ``recordIndex`` in rejects is 1-based."""
    fields: dict[str, str] = definition["fields"]
    id_column = definition["identifierFieldName"]
    entity = root.strip("/").split("/")[0]
    never_updates = entity == "activities"
    store = site.records.setdefault(root, {})
    unknown: set[str] = set()
    missing: set[str] = set()
    rejects: list[dict[str, Any]] = []
    accepted: list[str] = []
    invalid_emails = created = updated = 0

    for index, row in enumerate(rows, start=1):
        unknown.update(str(key) for key in row if key not in fields)
        missing.update(col for col in fields if col not in row)
        values = {fields[col]: row[col] for col in fields if col in row}
        bad_emails = [
            col
            for col, statement in fields.items()
            if statement == EMAIL_STATEMENT and not _empty(row.get(col)) and not _PLAUSIBLE_EMAIL.match(str(row[col]))
        ]
        if bad_emails:
            invalid_emails += 1
            rejects.append(_reject(row, index, bad_emails, "ELQ-00002", "Invalid email address."))
            continue
        if not never_updates and _empty(row.get(id_column)):
            rejects.append(_reject(row, index, [id_column], "ELQ-00061", "Identifier field value is missing."))
            continue
        if never_updates:
            store[f"#{len(store) + 1}"] = values
            created += 1
            continue
        key = _identity(row[id_column], fields[id_column])
        accepted.append(key)
        if kind == "syncActions":
            continue
        if key in store:
            _merge(store[key], values, definition)
            updated += 1
        else:
            store[key] = values
            created += 1

    _apply_sync_actions(site, definition.get("syncActions") or [], accepted)
    logs = [_log("information", "ELQ-00001", "Total records processed.", len(rows))]
    if kind == "imports" and entity in _CREATED_UPDATED:
        created_code, updated_code = _CREATED_UPDATED[entity]
        logs.append(_log("information", *created_code, created))
        if updated_code:
            logs.append(_log("information", *updated_code, updated))
    if invalid_emails:
        logs.append(_log("warning", "ELQ-00002", "Invalid email addresses.", invalid_emails))
    if rejects:
        logs.append(_log("warning", "ELQ-00060", "Total rejected records.", len(rejects)))
    if unknown:
        message = f"Fields not in the definition were ignored: {', '.join(sorted(unknown))}."
        logs.append(_log("warning", "ELQ-00111", message, len(unknown)))
    if missing:
        message = f"Definition fields missing from the data: {', '.join(sorted(missing))}."
        logs.append(_log("warning", "ELQ-00121", message, len(missing)))
    status = "warning" if rejects or unknown or missing else "success"
    return Outcome(status=status, logs=logs, rejects=rejects)


def _apply_sync_actions(site: Site, actions: list[dict[str, Any]], members: list[str]) -> None:
    for action in actions:
        destination = action["destination"]
        if action["action"] == "add":
            site.lists.setdefault(list_key(destination), set()).update(members)
        elif action["action"] == "remove":
            site.lists.setdefault(list_key(destination), set()).difference_update(members)
        else:
            statuses = site.statuses.setdefault(destination, {})
            statuses.update(dict.fromkeys(members, action["status"]))
