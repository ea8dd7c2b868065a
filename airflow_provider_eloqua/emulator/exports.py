"""Bulk API 2.0 exports: definition validation, the statements each entity exports, and the snapshot
a sync takes of the matching records (docs/eloqua-behaviour.md, "Exports (the emulator)").

A finished export sync holds a ``Snapshot``: the labels and one tuple of text values per exported
record, computed when the sync ran. Pages are cut from it, so records changed after the sync never
leak into its data, and every page of one sync agrees with every other.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from airflow_provider_eloqua.emulator import filters
from airflow_provider_eloqua.emulator.activities import (
    ACTIVITY_CONTACT_ID,
    ACTIVITY_STATEMENTS,
    CONTACT_FIELD_PREFIX,
    MAX_CONTACT_FIELDS,
    is_campaign_field,
)
from airflow_provider_eloqua.emulator.errors import failure
from airflow_provider_eloqua.emulator.fields import fields_for
from airflow_provider_eloqua.emulator.records import ID, format_timestamp, system_statements
from airflow_provider_eloqua.emulator.resources import Collection
from airflow_provider_eloqua.emulator.validation import (
    MARKUP,
    READ_ONLY,
    durations,
    is_boolean,
    named_fields_failures,
    sync_action_failures,
)

MAX_FIELDS = 250
MAX_FILTER = 1000
#: ``GET /syncs/{id}/data``: ``limit`` is 1..50,000, 1,000 when absent (Oracle's reference).
MAX_PAGE = 50_000
DEFAULT_PAGE = 1000
#: Oracle's 24A notice: an export definition without ``dataRetentionDuration`` keeps data 6 hours.
DEFAULT_RETENTION = "PT6H"
#: Contact exports may carry these beside the contact's fields (Oracle's FAQ, pyeloqua, tap-eloqua).
CONTACT_EXTRAS = ("{{Contact.Email.IsSubscribed}}", "{{Contact.Email.IsBounced}}", "{{Contact.Email.Format}}")


def exportable(collection: Collection, statement: str) -> bool:
    """Whether ``statement`` names a field the collection's records export."""
    if statement in system_statements(collection):
        return True
    entity = collection.entity
    if entity == "activities":
        if statement.startswith(CONTACT_FIELD_PREFIX):
            return "{{Contact." + statement[len("{{Activity.Contact.") :] in _statements("/contacts")
        return statement in ACTIVITY_STATEMENTS or is_campaign_field(statement)
    catalogue = {item["statement"] for item in fields_for(collection.root) or []}
    if statement in catalogue:
        return True
    if entity == "contacts":
        if statement in CONTACT_EXTRAS:
            return True
        account = statement.replace("{{Contact.Account.", "{{Account.", 1)
        return statement.startswith("{{Contact.Account.") and account in _statements("/accounts")
    return False


def _statements(root: str) -> set[str]:
    return {item["statement"] for item in fields_for(root) or []}


def validate_export(
    body: Any, collection: Collection, known: Callable[[str, int], bool], stored: set[str]
) -> list[dict[str, Any]]:
    """Every failure of an export definition body posted (or PUT) to ``collection``; ``known(kind, id)``
    says whether a list, segment or filter a filter's EXISTS names exists; ``stored`` holds the
    statements the entity's records were given values for (imported or seeded), which exist too."""
    if not isinstance(body, dict):
        return [failure("body", body, "Must be a JSON object.")]
    failures, fields = named_fields_failures(body, MAX_FIELDS)
    text = body.get("filter")
    # Oracle lists no fields for the SMS types (24C): any activity statement goes for an SMS export.
    sms = collection.entity == "activities" and isinstance(text, str) and filters.selects_sms(text)
    for label, statement in fields.items():
        if not isinstance(statement, str) or not MARKUP.match(statement):
            continue
        if statement in stored or (sms and statement.startswith("{{Activity.")):
            continue
        if not exportable(collection, statement):
            message = f"Must match an existing field of {collection.root.strip('/')}."
            failures.append(failure(f"fields.{label}", statement, message))
    if collection.entity == "activities":
        contact = [label for label, st in fields.items() if isinstance(st, str) and st.startswith(CONTACT_FIELD_PREFIX)]
        if len(contact) > MAX_CONTACT_FIELDS:
            message = f"An activity export may have at most {MAX_CONTACT_FIELDS} contact fields."
            failures.append(failure("fields", len(contact), message))

    if text is not None:
        if not isinstance(text, str):
            failures.append(failure("filter", text, "Must be a string."))
        elif len(text) > MAX_FILTER:
            failures.append(failure("filter", len(text), f"Must be at most {MAX_FILTER} characters long."))
        else:

            def has(statement: str) -> bool:
                return statement in stored or exportable(collection, statement)

            failures += filters.check(text, collection, has, known)
    if "areSystemTimestampsInUTC" in body and not is_boolean(body["areSystemTimestampsInUTC"]):
        failures.append(failure("areSystemTimestampsInUTC", body["areSystemTimestampsInUTC"], "Must be a boolean."))
    if "maxRecords" in body:
        value = body["maxRecords"]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            failures.append(failure("maxRecords", value, "Must be a positive integer."))
    failures += durations(body)
    failures += sync_action_failures(body.get("syncActions"))
    return failures


def with_export_defaults(body: dict[str, Any]) -> dict[str, Any]:
    """The client's properties (read-only ones dropped) over Eloqua's export defaults."""
    defaults = {"areSystemTimestampsInUTC": False, "dataRetentionDuration": DEFAULT_RETENTION}
    return defaults | {key: value for key, value in body.items() if key not in READ_ONLY}


def in_utc(body: dict[str, Any]) -> bool:
    value = body.get("areSystemTimestampsInUTC", False)
    return value is True or (isinstance(value, str) and value.lower() == "true")


class Snapshot:
    """What one export sync exported: column labels and one tuple of text values per record.

    A page is encoded from the tuples when asked for: JSON through a msgspec Struct whose fields are
    renamed to the labels (faster than building dicts; dicts when a label has a character msgspec will
    not rename to), CSV through ``csv.writer``.
    """

    def __init__(self, labels: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
        self.labels = labels
        self.rows = rows
        fields = [(f"f{index}", str) for index in range(len(labels))]
        rename = {f"f{index}": label for index, label in enumerate(labels)}
        self._item: Callable[..., Any]
        try:
            self._item = msgspec.defstruct("ExportItem", fields, rename=rename, gc=False)
        except ValueError:  # msgspec refuses labels with a quote, backslash or control character
            self._item = lambda *values: dict(zip(labels, values, strict=True))
        self._encoder = msgspec.json.Encoder()

    def __len__(self) -> int:
        return len(self.rows)

    def page_csv(self, offset: int, limit: int) -> bytes:
        """The page as ``Accept: text/csv`` gets it: a header row of the labels, then one row per record,
        quoted as ``csv.writer`` quotes (only values with a comma, quote or line break)."""
        rows = self.rows[offset : offset + limit]
        width = len(self.labels)
        if width > 1 and rows:
            # Joined plainly, then checked: no quote, and exactly the commas and line ends the joins
            # put there, means no value needed quoting, which is the common case and ten times faster.
            text = "\r\n".join(map(",".join, rows))
            if (
                '"' not in text
                and text.count(",") == len(rows) * (width - 1)
                and text.count("\n") == text.count("\r") == len(rows) - 1
            ):
                return (_csv_line(self.labels) + text + "\r\n").encode("utf-8")
        return (_csv_line(self.labels) + _csv_text(rows)).encode("utf-8")

    def page_json(self, offset: int, limit: int, totals: bool = True) -> bytes:
        """The ``GET /syncs/{id}/data`` answer for ``offset``/``limit``, encoded. Without ``totals``
        (``?totalResults=false``) it has no ``totalResults`` and ``hasMore`` is whether the page is full."""
        rows = self.rows[offset : offset + limit]
        item = self._item
        items = self._encoder.encode([item(*row) for row in rows])
        total = len(self.rows)
        more = offset + len(rows) < total if totals else len(rows) == limit
        head = f'"limit":{limit},"offset":{offset},"count":{len(rows)},"hasMore":{"true" if more else "false"},"items":'
        if totals:
            head = f'"totalResults":{total},' + head
        return b"{" + head.encode() + items + b"}"


def _csv_text(rows: Iterable[tuple[str, ...]]) -> str:
    out = io.StringIO(newline="")
    csv.writer(out).writerows(rows)
    return out.getvalue()


def _csv_line(values: tuple[str, ...]) -> str:
    return _csv_text([values])


def take_snapshot(
    collection: Collection,
    body: dict[str, Any],
    records: Iterable[dict[str, Any]],
    zone_name: str,
    contacts: dict[str, dict[str, Any]],
) -> Snapshot:
    """Project ``records`` (already filtered and ordered) onto the definition's fields; an activity's
    ``{{Activity.Contact.Field(X)}}`` is read from the contact whose id is its ``{{Activity.Contact.Id}}``
    (``contacts``: the site's contacts)."""
    fields: dict[str, str] = body["fields"]
    system = system_statements(collection)
    zone = "UTC" if in_utc(body) else zone_name
    by_id: dict[str, dict[str, Any]] = {}
    if any(statement.startswith(CONTACT_FIELD_PREFIX) for statement in fields.values()):
        by_id = {str(contact[ID]): contact for contact in contacts.values()}
    project = _projector(list(fields.values()), system, zone, by_id)
    return Snapshot(tuple(fields), list(map(project, records)))


def _projector(
    statements: list[str], system: dict[str, str], zone: str, contacts: dict[str, dict[str, Any]]
) -> Callable[[dict[str, Any]], tuple[str, ...]]:
    """One function turning a record into its row of text values.

    Generated (as ``collections.namedtuple`` generates its classes) so that a million records cost
    one call each rather than one per field; statements and keys reach it as names bound in its
    namespace, never as source text.
    """
    namespace: dict[str, Any] = {"timestamp": lambda value: format_timestamp(value, zone)}
    parts = []
    for index, statement in enumerate(statements):
        name = f"s{index}"
        key = system.get(statement)
        if statement.startswith(CONTACT_FIELD_PREFIX):
            namespace[name] = _contact_getter(statement, contacts)
            parts.append(f"{name}(r)")
        elif key == ID:
            namespace[name] = key
            parts.append(f"str(get({name}))")
        elif key is not None:
            namespace[name] = key
            parts.append(f'("" if (v := get({name})) is None else timestamp(v))')
        else:
            namespace[name] = statement
            parts.append(f'("" if (v := get({name})) is None else v if v.__class__ is str else str(v))')
    source = "def project(r):\n    get = r.get\n    return (" + ", ".join(parts) + ",)\n"
    exec(source, namespace)  # noqa: S102 - generated from indices only (see the docstring)
    project: Callable[[dict[str, Any]], tuple[str, ...]] = namespace["project"]
    return project


def _contact_getter(statement: str, contacts: dict[str, dict[str, Any]]) -> Callable[[dict[str, Any]], str]:
    """``{{Activity.Contact.Field(X)}}``: the field of the contact whose id is the activity's contact id."""
    contact_statement = "{{Contact." + statement[len("{{Activity.Contact.") :]

    def contact_value(record: dict[str, Any]) -> str:
        found = contacts.get(str(record.get(ACTIVITY_CONTACT_ID)), {}).get(contact_statement)
        return "" if found is None else str(found)

    return contact_value


def too_many_log(count: int, cap: int) -> dict[str, Any]:
    """The emulator's log of an activity export sync over the cap: Oracle documents neither a code
    nor a wording for it, so the status code is left empty and the message says what happened."""
    return {
        "severity": "error",
        "statusCode": "",
        "message": f"Too many records: the export matches {count:,}, more than the {cap:,} an activity export sync may hold.",
        "count": count,
    }


def exported_log(count: int) -> list[dict[str, Any]]:
    """The logs of a successful export sync, worded as Oracle's troubleshooting page shows them."""
    return [
        {
            "severity": "information",
            "statusCode": "ELQ-00102",
            "message": "Successfully exported members to csv file.",
            "count": count,
        },
        {
            "severity": "information",
            "statusCode": "ELQ-00131",
            "message": "Deleted internal staging for data transfer.",
            "count": 0,
        },
    ]
