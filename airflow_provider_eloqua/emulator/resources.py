"""The Bulk API 2.0 resources the emulator serves, read from Oracle's reference on their own.

The emulator deliberately imports nothing from the provider's client modules (``urls.py`` and
friends): it parses what it receives from Oracle's documented shapes, so that a parsing bug in the
client is caught by the emulator instead of being mirrored by it. Sources are listed in
``docs/eloqua-behaviour.md`` ("Import kinds").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BULK_API_PATH = "/api/bulk/2.0"

#: Import collections without a parent (``/<entity>/imports``), per Oracle's Bulk 2.0 reference.
IMPORT_ENTITIES = frozenset(
    {
        "contacts",
        "accounts",
        "activities",
        "opportunities",
        "opportunities/contacts",
        "emailAddresses",
        "phoneNumbers",
        "campaignResponses",
    }
)
#: Import collections under a parent id (``/customObjects/{parentId}/imports``, ``/events/{parentId}/imports``).
PARENTED_ENTITIES = frozenset({"customObjects", "events"})
#: Export collections without a parent (``/<entity>/exports``); custom objects and events export under
#: their parent. Oracle also has campaign-response exports, for AppCloud services only: not emulated.
EXPORT_ENTITIES = frozenset({"contacts", "accounts", "activities"})
#: Sync-action collections (``/contacts/syncActions``, ``/accounts/syncActions``, ``/customObjects/{id}/syncActions``).
SYNC_ACTION_ENTITIES = frozenset({"contacts", "accounts", "customObjects"})
#: Entities whose fields can be listed (``GET /<root>/fields``) in the emulator's small catalogue.
FIELD_ENTITIES = frozenset({"contacts", "accounts", "activities", "opportunities", "customObjects", "events"})

_ROOT = re.compile(r"^/(?P<entity>[A-Za-z]+(?:/contacts)?)(?:/(?P<parent>[1-9]\d*))?$")


@dataclass(frozen=True)
class Collection:
    """A definition collection such as ``/events/12/imports``: its root, entity, parent and kind."""

    root: str
    entity: str
    parent_id: int | None
    kind: str

    @property
    def path(self) -> str:
        return f"{self.root}/{self.kind}"


def parse_collection(root: str, kind: str) -> Collection | None:
    """The collection at ``<root>/<kind>`` (``"/customObjects/5"``, ``"imports"``); None if Eloqua has none."""
    match = _ROOT.match(root)
    if not match or kind not in ("imports", "syncActions", "exports"):
        return None
    entity, parent = match["entity"], match["parent"]
    if (entity in PARENTED_ENTITIES) != (parent is not None):
        return None
    allowed = {
        "imports": IMPORT_ENTITIES | PARENTED_ENTITIES,
        "syncActions": SYNC_ACTION_ENTITIES,
        "exports": EXPORT_ENTITIES | PARENTED_ENTITIES,
    }[kind]
    if entity not in allowed:
        return None
    return Collection(root=root, entity=entity, parent_id=int(parent) if parent else None, kind=kind)


def entity_of(root: str) -> str:
    """``"customObjects"`` for ``/customObjects/5``, ``"opportunities/contacts"`` for that root."""
    match = _ROOT.match(root)
    return match["entity"] if match else root.strip("/").split("/")[0]
