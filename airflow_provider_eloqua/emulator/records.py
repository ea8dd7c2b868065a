"""What the emulated site keeps on each record besides its field values: an Eloqua id and the system
timestamps Oracle exports (docs/eloqua-behaviour.md, "Exports (the emulator)").

A record is a dict of statement -> value. Three reserved keys, which no markup statement can be,
hold the system values: ``@id`` (int), ``@createdAt`` and ``@updatedAt`` (aware UTC datetimes).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_eloqua.emulator.resources import Collection

ID = "@id"
CREATED = "@createdAt"
UPDATED = "@updatedAt"
SYSTEM_KEYS = (ID, CREATED, UPDATED)
#: Eloqua's servers run on US Eastern time unless a site is set otherwise (Oracle, "Time zones across Eloqua").
DEFAULT_SITE_ZONE = "America/New_York"

_DATE_TIME = re.compile(
    r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d{1,6}))?)?)?"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)


def parse_instant(text: Any, zone: ZoneInfo | None = None) -> datetime | None:
    """``YYYY-MM-DD[ HH:MM[:SS[.fff]]]`` (a ``T`` also accepted, an offset or ``Z`` honoured) as an
    aware UTC datetime; text without an offset is read in ``zone`` (UTC when None). None if unreadable."""
    if isinstance(text, datetime):
        return text.astimezone(UTC) if text.tzinfo else text.replace(tzinfo=zone or UTC).astimezone(UTC)
    if not isinstance(text, str):
        return None
    match = _DATE_TIME.match(text.strip())
    if not match:
        return None
    try:
        value = datetime(
            int(match["y"]),
            int(match["m"]),
            int(match["d"]),
            int(match["H"] or 0),
            int(match["M"] or 0),
            int(match["S"] or 0),
            int((match["f"] or "0").ljust(6, "0")),
        )
    except ValueError:
        return None
    offset = match["tz"]
    if offset is None:
        return value.replace(tzinfo=zone or UTC).astimezone(UTC)
    if offset == "Z":
        return value.replace(tzinfo=UTC)
    sign = 1 if offset[0] == "+" else -1
    digits = offset[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (value - sign * delta).replace(tzinfo=UTC)


@lru_cache(maxsize=65536)
def format_timestamp(instant: datetime, zone_name: str) -> str:
    """A system timestamp as an export writes it: ``YYYY-MM-DD HH:MM:SS.fff`` in ``zone_name``.

    Cached: a bulk-seeded million records share a handful of instants.
    """
    local = instant.astimezone(ZoneInfo(zone_name))
    return local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d}"


@lru_cache(maxsize=4096)  # the records a sync wrote share its instant
def iso_z(instant: datetime) -> str:
    """An instant as the control API shows it: ISO-8601 UTC with a ``Z``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A record for the control API: the reserved keys as ``id``, ``createdAt``, ``updatedAt``."""
    shown = {key: value for key, value in record.items() if key not in SYSTEM_KEYS}
    if ID in record:
        shown["id"] = record[ID]
    for key, name in ((CREATED, "createdAt"), (UPDATED, "updatedAt")):
        if record.get(key) is not None:
            shown[name] = iso_z(record[key])
    return shown


def system_statements(collection: Collection) -> dict[str, str]:
    """Statement -> reserved record key (records.ID/CREATED/UPDATED) of the collection's entity."""
    entity = collection.entity
    if entity in ("contacts", "accounts"):
        name, prefix = ("Contact", "C_") if entity == "contacts" else ("Account", "M_")
        return {
            f"{{{{{name}.Id}}}}": ID,
            f"{{{{{name}.CreatedAt}}}}": CREATED,
            f"{{{{{name}.Field({prefix}DateCreated)}}}}": CREATED,
            f"{{{{{name}.UpdatedAt}}}}": UPDATED,
            f"{{{{{name}.Field({prefix}DateModified)}}}}": UPDATED,
        }
    if entity == "activities":
        return {"{{Activity.Id}}": ID, "{{Activity.CreatedAt}}": CREATED}
    name = "CustomObject" if entity == "customObjects" else "Event"
    prefix = f"{{{{{name}[{collection.parent_id}]"
    return {prefix + ".Id}}": ID, prefix + ".CreatedAt}}": CREATED, prefix + ".UpdatedAt}}": UPDATED}
