"""What a finished sync does to the in-memory site: upsert records, link opportunities, apply sync
actions, and produce the logs and rejects Eloqua would report.

Log codes follow Oracle's status-code list (docs/eloqua-behaviour.md, "Sync logs"). Created/updated
per entity: contacts ELQ-00004/00022, accounts ELQ-00005/00023, custom objects ELQ-00007/00012,
events ELQ-00077/00079, activities ELQ-00069 (they never update), opportunities ELQ-00049 "Total new
records." (Oracle lists no "updated" code for them, so updates are not logged), e-mail addresses
ELQ-00033/00035 (addresses, not records). Opportunity links that find no opportunity or contact are
rejected with ELQ-00084/00085. The emulator's own choices, where Oracle is silent: a row without an
identifier value is rejected with ELQ-00061 "Rejected records (missing fields).", a date value Eloqua
would not read with ELQ-00032 "Malformed records."; phone-number and campaign-response imports log
no created/updated counts (Oracle lists no codes for them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_eloqua.emulator.dates import is_accepted_date
from airflow_provider_eloqua.emulator.fields import date_statements
from airflow_provider_eloqua.emulator.records import CREATED, ID, UPDATED, parse_instant
from airflow_provider_eloqua.emulator.resources import Collection

EMAIL_STATEMENT = "{{Contact.Field(C_EmailAddress)}}"
EMAIL_ADDRESS_STATEMENT = "{{EmailAddress.Field(EmailAddress)}}"
ACTIVITY_CREATED_AT = "{{Activity.CreatedAt}}"
#: Statements holding an e-mail address: checked for plausibility, matched case-insensitively.
EMAIL_STATEMENTS = frozenset({EMAIL_STATEMENT, EMAIL_ADDRESS_STATEMENT})
_PLAUSIBLE_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTACT_LIST = re.compile(r"^\{\{ContactList\[(\d+)\]\}\}$")
#: Oracle's "Creating new custom object records": a blank record Id or ExternalId creates a record.
_NEW_RECORD_IDENTIFIER = re.compile(r"^\{\{CustomObject\[\d+\]\.(?:Id|ExternalId)\}\}$")

_CREATED_UPDATED: dict[str, tuple[tuple[str, str], tuple[str, str] | None]] = {
    "contacts": (("ELQ-00004", "Contacts created."), ("ELQ-00022", "Contacts updated.")),
    "accounts": (("ELQ-00005", "Accounts created."), ("ELQ-00023", "Accounts updated.")),
    "customObjects": (("ELQ-00007", "CustomObject data created."), ("ELQ-00012", "CustomObject data updated.")),
    "events": (("ELQ-00077", "Event data created."), ("ELQ-00079", "Event data updated.")),
    "activities": (("ELQ-00069", "Activities created."), None),
    "opportunities": (("ELQ-00049", "Total new records."), None),
    "emailAddresses": (("ELQ-00033", "Email addresses created."), ("ELQ-00035", "Email addresses updated.")),
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
    #: ``"ContactSegment[5]"`` -> {"name", "members" (record keys), "ids" (Eloqua ids), "createdAt", "createdBy"}
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: entity root -> the statements its records were given values for (the site's fields beyond the
    #: catalogue: Eloqua has hundreds, the emulator's catalogue a few)
    statements: dict[str, set[str]] = field(default_factory=dict)
    #: entity root -> the Eloqua id the next new record gets
    next_ids: dict[str, int] = field(default_factory=dict)

    def create(self, root: str, values: dict[str, Any], now: datetime, key: str | None = None) -> dict[str, Any]:
        """Store a new record under ``key`` (``#<id>`` when None) with its id and system timestamps."""
        record_id = self.next_ids.get(root, 1)
        self.next_ids[root] = record_id + 1
        values[ID] = record_id
        values.setdefault(CREATED, now)
        values.setdefault(UPDATED, values[CREATED])
        self.records.setdefault(root, {})[f"#{record_id}" if key is None else key] = values
        return values


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
    return text.casefold() if statement in EMAIL_STATEMENTS else text


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


@dataclass
class _Run:
    """One sync's pass over its rows: what it counted and rejected."""

    collection: Collection
    definition: dict[str, Any]
    now: datetime
    zone: ZoneInfo
    rejects: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def fields(self) -> dict[str, str]:
        return self.definition["fields"]

    def count(self, code: str, by: int = 1) -> None:
        self.counts[code] = self.counts.get(code, 0) + by

    def reject(self, row: dict[str, Any], index: int, invalid: list[str], code: str, message: str) -> None:
        self.rejects.append(_reject(row, index, invalid, code, message))

    def invalid_value(self, row: dict[str, Any], index: int, dates: frozenset[str]) -> bool:
        """Reject a row with an implausible e-mail address or a date Eloqua would not read."""
        bad_emails = [
            col
            for col, statement in self.fields.items()
            if statement in EMAIL_STATEMENTS and not _empty(row.get(col)) and not _PLAUSIBLE_EMAIL.match(str(row[col]))
        ]
        if bad_emails:
            self.count("ELQ-00002")
            self.reject(row, index, bad_emails, "ELQ-00002", "Invalid email address.")
            return True
        bad_dates = [col for col, st in self.fields.items() if st in dates and not is_accepted_date(row.get(col))]
        if bad_dates:
            self.count("ELQ-00032")
            self.reject(row, index, bad_dates, "ELQ-00032", "Invalid date value.")
            return True
        return False


def process(
    site: Site,
    collection: Collection,
    definition: dict[str, Any],
    rows: list[dict[str, Any]],
    now: datetime,
    zone: ZoneInfo,
) -> Outcome:
    """Apply ``rows`` staged for a definition of ``collection`` at ``now`` (records created or updated
    get it as their system timestamp); ``recordIndex`` in rejects is 1-based."""
    run = _Run(collection, definition, now, zone)
    dates = date_statements(collection.root)
    if collection.kind == "imports":
        site.statements.setdefault(collection.root, set()).update(definition["fields"].values())
    for index, row in enumerate(rows, start=1):
        run.unknown.update(str(key) for key in row if key not in run.fields)
        run.missing.update(col for col in run.fields if col not in row)
        if run.invalid_value(row, index, dates):
            continue
        if collection.entity == "opportunities/contacts":
            _link_opportunity(site, run, row, index)
        else:
            _upsert(site, run, row, index)
    apply_sync_actions(site, definition.get("syncActions") or [], run.accepted)
    return _outcome(run, len(rows))


def _upsert(site: Site, run: _Run, row: dict[str, Any], index: int) -> None:
    """Create or update one record (or, for a sync action, only note its identifier)."""
    fields, id_column = run.fields, run.definition["identifierFieldName"]
    root = run.collection.root
    store = site.records.setdefault(root, {})
    values = {fields[col]: row[col] for col in fields if col in row}
    created_code = _CREATED_UPDATED.get(run.collection.entity, (("", ""), None))[0][0]
    if run.collection.entity == "activities":
        # An activity's CreatedAt is the activity's date, read in the site's zone; else the import's time.
        values[CREATED] = parse_instant(values.get(ACTIVITY_CREATED_AT), run.zone) or run.now
        site.create(root, values, run.now)  # activities never update
        run.count(created_code)
        return
    if _empty(row.get(id_column)) and _NEW_RECORD_IDENTIFIER.match(fields[id_column]):
        site.create(root, values, run.now)  # a blank record id creates one
        run.count(created_code)
        return
    if _empty(row.get(id_column)):
        run.reject(row, index, [id_column], "ELQ-00061", "Identifier field value is missing.")
        return
    key = _identity(row[id_column], fields[id_column])
    run.accepted.append(key)
    if run.collection.kind == "syncActions":
        return
    if key in store:
        _merge(store[key], values, run.definition)
        store[key][UPDATED] = run.now
        run.count("updated")
    else:
        site.create(root, values, run.now, key)
        run.count(created_code)


def _link_opportunity(site: Site, run: _Run, row: dict[str, Any], index: int) -> None:
    """Link an opportunity to the contact (or account) the row names; reject what matches nothing."""
    definition = run.definition
    match_column = definition["linkOpportunitiesMatchFieldName"]
    source_column = definition["linkOpportunitiesSourceField"]
    target_root = "/accounts" if definition["linkOpportunitiesEntityType"] == "Account" else "/contacts"
    opportunity = str(row.get(match_column) or "").strip()
    source_statement = run.fields.get(source_column, "")
    target = _identity(row.get(source_column) or "", EMAIL_STATEMENT if "C_EmailAddress" in source_statement else "")
    if opportunity not in site.records.get("/opportunities", {}):
        run.count("ELQ-00084")
        run.reject(row, index, [match_column], "ELQ-00084", "Opportunity does not exist.")
    elif target not in site.records.get(target_root, {}):
        run.count("ELQ-00085")
        run.reject(row, index, [source_column], "ELQ-00085", "Contact does not exist.")
    else:
        site.records.setdefault("/opportunities/contacts", {})[f"{opportunity}|{target}"] = {
            "opportunity": opportunity,
            target_root.strip("/"): target,
        }


_WARNINGS = {
    "ELQ-00002": "Invalid email addresses.",
    "ELQ-00032": "Malformed records.",
    "ELQ-00084": "Opportunity does not exist.",
    "ELQ-00085": "Contact does not exist.",
}


def _outcome(run: _Run, total: int) -> Outcome:
    """The sync log Oracle's status codes describe, and the sync's status."""
    logs = [_log("information", "ELQ-00001", "Total records processed.", total)]
    if run.collection.kind == "imports" and run.collection.entity in _CREATED_UPDATED:
        created_code, updated_code = _CREATED_UPDATED[run.collection.entity]
        logs.append(_log("information", *created_code, run.counts.get(created_code[0], 0)))
        if updated_code:
            logs.append(_log("information", *updated_code, run.counts.get("updated", 0)))
    logs += [
        _log("warning", code, message, run.counts[code]) for code, message in _WARNINGS.items() if code in run.counts
    ]
    if run.rejects:
        logs.append(_log("warning", "ELQ-00060", "Total rejected records.", len(run.rejects)))
    if run.unknown:
        message = f"Fields not in the definition were ignored: {', '.join(sorted(run.unknown))}."
        logs.append(_log("warning", "ELQ-00111", message, len(run.unknown)))
    if run.missing:
        message = f"Definition fields missing from the data: {', '.join(sorted(run.missing))}."
        logs.append(_log("warning", "ELQ-00121", message, len(run.missing)))
    status = "warning" if run.rejects or run.unknown or run.missing else "success"
    return Outcome(status=status, logs=logs, rejects=run.rejects)


def apply_sync_actions(site: Site, actions: list[dict[str, Any]], members: list[str]) -> None:
    for action in actions:
        destination = action["destination"]
        if action["action"] == "add":
            site.lists.setdefault(list_key(destination), set()).update(members)
        elif action["action"] == "remove":
            site.lists.setdefault(list_key(destination), set()).difference_update(members)
        else:
            statuses = site.statuses.setdefault(destination, {})
            statuses.update(dict.fromkeys(members, action["status"]))
