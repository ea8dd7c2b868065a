"""Records written straight into the emulated site by the control API (``POST /_emulator/seed``), for
export tests and benchmarks: no staging, no sync, a million contacts in a few seconds.

The body (every key but ``entity`` optional):

- ``entity``: the entity root, ``/contacts``, ``/accounts``, ``/activities``, ``/customObjects/7``,
  ``/events/3``.
- ``records``: a list of records, each a dict of markup statement -> value, plus optional
  ``createdAt`` / ``updatedAt`` (ISO-8601; without an offset, UTC) for that record.
- ``count`` and ``template``: ``count`` more records whose values are the ``template``'s
  (statement -> text), with every ``{n}`` replaced by the record's number (1..count, plus ``start``
  - 1 when ``start`` is given).
- ``createdAt`` / ``updatedAt``: the system timestamps of every record that does not carry its own
  (default: the emulator's clock; ``updatedAt`` defaults to ``createdAt``); ``stepSeconds``: record
  ``i`` (0-based, in the order given) gets both moved on by ``i * stepSeconds``.
- ``identifier``: the statement whose value keys the record (imports then update it, matching it as
  an import with that identifier would; a seeded record with a key already there updates that
  record, keeping its id and creation time). Default for contacts: the e-mail address; else none
  (each record is new).
- ``activityType``: for ``/activities``, the type of every record; the type's other fields get
  plausible values (activities.default_values) unless a record or the template sets them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow_provider_eloqua.emulator.activities import ACTIVITY_TYPE, ACTIVITY_TYPE_FIELDS, default_values
from airflow_provider_eloqua.emulator.errors import ApiError
from airflow_provider_eloqua.emulator.filters import CONTAINERS
from airflow_provider_eloqua.emulator.processing import EMAIL_STATEMENTS, Site
from airflow_provider_eloqua.emulator.records import CREATED, UPDATED, parse_instant
from airflow_provider_eloqua.emulator.resources import entity_of, parse_collection
from airflow_provider_eloqua.emulator.validation import MARKUP

SEED_KEYS = frozenset(
    {
        "entity",
        "records",
        "count",
        "start",
        "template",
        "createdAt",
        "updatedAt",
        "stepSeconds",
        "identifier",
        "activityType",
    }
)
_RECORD_META = ("createdAt", "updatedAt")
CONTACT_EMAIL = "{{Contact.Field(C_EmailAddress)}}"


def _bad(message: str) -> ApiError:
    return ApiError(400, {"error": message})


def _instant(value: Any, name: str, default: datetime) -> datetime:
    if value is None:
        return default
    instant = parse_instant(value)
    if instant is None:
        raise _bad(f"{name} must be an ISO-8601 date and time; got {value!r}")
    return instant


def seed(site: Site, spec: Any, now: datetime) -> dict[str, Any]:
    """Write the records ``spec`` describes (module docstring) into ``site``; a summary of what it did."""
    if not isinstance(spec, dict):
        raise _bad("the seed body must be a JSON object")
    unknown = set(spec) - SEED_KEYS
    if unknown:
        raise _bad(f"unknown seed keys: {sorted(unknown)}; known: {sorted(SEED_KEYS)}")
    root = spec.get("entity")
    if not isinstance(root, str) or parse_collection(root, "exports") is None:
        raise _bad(f"entity must be an exportable entity root such as /contacts or /customObjects/7; got {root!r}")
    activity_type = spec.get("activityType")
    if activity_type is not None and (entity_of(root) != "activities" or activity_type not in ACTIVITY_TYPE_FIELDS):
        raise _bad(f"activityType must be one of {sorted(ACTIVITY_TYPE_FIELDS)}, for /activities only")
    records = spec.get("records") or []
    count = spec.get("count") or 0
    template = spec.get("template") or {}
    start = spec.get("start", 1)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise _bad("records must be a list of objects")
    if not isinstance(count, int) or count < 0 or not isinstance(start, int):
        raise _bad("count and start must be integers, count at least 0")
    if not isinstance(template, dict) or not all(isinstance(v, str) for v in template.values()):
        raise _bad("template must map statements to text")
    keys = set(template).union(*(set(record) - set(_RECORD_META) for record in records))
    odd = sorted(key for key in keys if not MARKUP.match(key))
    if odd:
        raise _bad(f"record keys must be markup statements such as {CONTACT_EMAIL} (or createdAt/updatedAt); got {odd}")
    created = _instant(spec.get("createdAt"), "createdAt", now)
    updated = _instant(spec.get("updatedAt"), "updatedAt", created)
    step_seconds = spec.get("stepSeconds") or 0
    if not isinstance(step_seconds, int | float) or isinstance(step_seconds, bool):
        raise _bad(f"stepSeconds must be a number of seconds; got {step_seconds!r}")
    step = timedelta(seconds=step_seconds)
    identifier = spec.get("identifier", CONTACT_EMAIL if entity_of(root) == "contacts" else None)

    first_id = site.next_ids.get(root, 1)
    index = 0
    updates = 0

    def store(values: dict[str, Any], number: int, own_created: Any = None, own_updated: Any = None) -> None:
        nonlocal index, updates
        if activity_type is not None:
            values = default_values(activity_type, number) | values
            values[ACTIVITY_TYPE] = activity_type
        # Without a step every record shares the two instants: a million records, two datetimes.
        shift = step * index if step else None
        values[CREATED] = _instant(own_created, "createdAt", created if shift is None else created + shift)
        values[UPDATED] = _instant(own_updated, "updatedAt", updated if shift is None else updated + shift)
        key = None
        if identifier is not None and values.get(identifier) not in (None, ""):
            text = str(values[identifier]).strip()
            key = text.casefold() if identifier in EMAIL_STATEMENTS else text
        existing = site.records.get(root, {}).get(key) if key is not None else None
        if existing is not None:  # the same identifier again updates the record, as an import would
            values.pop(CREATED)
            existing.update(values)
            updates += 1
        else:
            site.create(root, values, now, key)
        index += 1

    known = site.statements.setdefault(root, set())
    known.update(template)
    for number, record in enumerate(records, start=1):
        values = {k: v for k, v in record.items() if k not in _RECORD_META}
        known.update(values)
        store(values, number, record.get("createdAt"), record.get("updatedAt"))
    items = list(template.items())
    for number in range(start, start + count):
        text = str(number)
        store({statement: value.replace("{n}", text) for statement, value in items}, number)
    return {
        "entity": root,
        "created": index - updates,
        "updated": updates,
        "total": len(site.records.get(root, {})),
        "firstId": first_id,
        "lastId": site.next_ids.get(root, 1) - 1,
    }


def define_container(site: Site, spec: Any, stamp: str, user: str) -> tuple[str, int]:
    """``{"kind": "ContactSegment", "id": 5, "name"?, "members": [...]}``: a contact list, segment or
    filter, or an account list, whose members are record identifiers (contacts: e-mail addresses, as
    ``records()`` shows them) or Eloqua ids (integers). Replaces one of the same kind and id."""
    if not isinstance(spec, dict) or not set(spec) <= {"kind", "id", "name", "members"}:
        raise _bad("the body takes kind, id, name and members")
    kind, container_id, members = spec.get("kind"), spec.get("id"), spec.get("members") or []
    if kind not in CONTAINERS:
        raise _bad(f"kind must be one of {sorted(CONTAINERS)}; got {kind!r}")
    if not isinstance(container_id, int) or isinstance(container_id, bool) or container_id < 1:
        raise _bad(f"id must be a positive integer; got {container_id!r}")
    if not isinstance(members, list):
        raise _bad("members must be a list of identifiers or ids")
    ids = {member for member in members if isinstance(member, int) and not isinstance(member, bool)}
    keys = {str(member).strip() for member in members if member not in ids}
    if CONTAINERS[kind] == "contacts":
        keys = {key.casefold() for key in keys}
    site.containers[f"{kind}[{container_id}]"] = {
        "name": str(spec.get("name") or f"{kind} {container_id}"),
        "members": keys,
        "ids": ids,
        "createdAt": stamp,
        "createdBy": user,
    }
    return kind, container_id


def set_timestamps(site: Site, spec: Any) -> dict[str, Any]:
    """Move one record's system timestamps: ``{"entity", "identifier" | "id", "createdAt"?, "updatedAt"?}``."""
    if not isinstance(spec, dict) or not isinstance(spec.get("entity"), str):
        raise _bad("the body must be a JSON object with an entity")
    store = site.records.get(spec["entity"], {})
    record = None
    if "identifier" in spec:
        record = store.get(str(spec["identifier"])) or store.get(str(spec["identifier"]).casefold())
    elif "id" in spec:
        record = next((r for r in store.values() if r.get("@id") == spec["id"]), None)
    if record is None:
        raise ApiError(404, {"error": f"no record {spec.get('identifier', spec.get('id'))!r} in {spec['entity']}"})
    for name, key in (("createdAt", CREATED), ("updatedAt", UPDATED)):
        if name in spec:
            record[key] = _instant(spec[name], name, record[key])
    return record
