"""Every Eloqua URL and Bulk API path the provider uses, built in this one module.

Paths returned here are relative to the Bulk API base (``https://secure.pNN.eloqua.com/api/bulk/2.0``),
exactly as Eloqua spells them in the ``uri`` fields it returns (``/contacts/imports/30``), so a
definition or sync URI read from Eloqua can be passed straight back to the hook.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from airflow_provider_eloqua.exceptions import EloquaInputError

DEFAULT_LOGIN_URL = "https://login.eloqua.com"
BULK_API_VERSION = "2.0"
BULK_API_PATH = f"/api/bulk/{BULK_API_VERSION}"

#: Entities that have Bulk API import definitions. ``customObjects`` and ``events`` need a parent id.
IMPORT_ENTITIES = (
    "contacts",
    "accounts",
    "activities",
    "opportunities",
    "opportunities/contacts",
    "customObjects",
    "events",
    "emailAddresses",
    "phoneNumbers",
    "campaignResponses",
)
PARENTED_ENTITIES = frozenset({"customObjects", "events"})
#: Entities with sync-action definitions (``/<entity>/syncActions``).
SYNC_ACTION_ENTITIES = ("contacts", "accounts", "customObjects")
#: Entities with export definitions (``/<entity>/exports``).
EXPORT_ENTITIES = ("contacts", "accounts", "activities", "customObjects", "events")
#: Entities whose fields can be listed (``/<entity>/fields``).
FIELD_ENTITIES = ("contacts", "accounts", "activities", "opportunities", "customObjects", "events")

#: The entities of each definition kind (the collection a definition of that kind lives in).
KIND_ENTITIES = {"imports": IMPORT_ENTITIES, "exports": EXPORT_ENTITIES, "syncActions": SYNC_ACTION_ENTITIES}
DEFINITION_KINDS = tuple(KIND_ENTITIES)

_DEFINITION_URI = re.compile(
    r"^/(?P<root>contacts|accounts|activities|opportunities/contacts|opportunities|emailAddresses|phoneNumbers"
    r"|campaignResponses"
    r"|customObjects/(?P<co>\d+)|events/(?P<ev>\d+))/(?P<kind>imports|exports|syncActions)/(?P<id>\d+)$"
)
_SYNC_URI = re.compile(r"^/syncs/\d+$")


def token_url(login_url: str) -> str:
    """OAuth2 token endpoint for a login host (``https://login.eloqua.com/auth/oauth2/token``)."""
    return login_url.rstrip("/") + "/auth/oauth2/token"


def id_url(login_url: str) -> str:
    """Pod discovery endpoint (``https://login.eloqua.com/id``)."""
    return login_url.rstrip("/") + "/id"


def bulk_base_from_discovery(body: dict) -> str:
    """Bulk API 2.0 base URL from a ``/id`` answer (``urls.apis.rest.bulk`` with ``{version}`` filled)."""
    try:
        template = body["urls"]["apis"]["rest"]["bulk"]
    except (KeyError, TypeError) as exc:
        raise ValueError("Eloqua /id answer has no urls.apis.rest.bulk template") from exc
    return template.replace("{version}", BULK_API_VERSION).rstrip("/")


def bulk_base_from_host(host: str) -> str:
    """Bulk API base URL from a connection host override.

    Accepts a pod root (``https://secure.p03.eloqua.com``) or a full Bulk base
    (``https://secure.p03.eloqua.com/api/bulk/2.0``); a host without a scheme is taken as https.
    """
    host = host.strip().rstrip("/")
    if "://" not in host:
        host = "https://" + host
    if urlsplit(host).path.lower().rstrip("/").endswith(BULK_API_PATH):
        return host
    return host + BULK_API_PATH


def entity_root(entity: str, parent_id: int | str | None = None) -> str:
    """``/contacts`` or ``/customObjects/12``; raises ValueError naming a bad entity or parent id."""
    if entity not in IMPORT_ENTITIES:
        raise ValueError(f"entity must be one of {', '.join(IMPORT_ENTITIES)}; got {entity!r}")
    if entity in PARENTED_ENTITIES:
        if parent_id is None or not str(parent_id).isdigit() or int(parent_id) <= 0:
            raise ValueError(f"parent_id (a positive integer) is required for entity {entity!r}; got {parent_id!r}")
        return f"/{entity}/{int(parent_id)}"
    if parent_id is not None:
        raise ValueError(f"parent_id is only used with customObjects and events, not {entity!r}")
    return f"/{entity}"


def imports_path(entity: str, parent_id: int | str | None = None) -> str:
    return definitions_path(entity, parent_id, "imports")


def sync_actions_path(entity: str, parent_id: int | str | None = None) -> str:
    return definitions_path(entity, parent_id, "syncActions")


def definitions_path(entity: str, parent_id: int | str | None = None, kind: str = "imports") -> str:
    """``/contacts/imports``, ``/activities/exports``, ``/customObjects/12/syncActions``; raises
    ValueError naming a bad kind, an entity without definitions of that kind, or a bad parent id."""
    _check_kind_entity(kind, entity)
    return f"{entity_root(entity, parent_id)}/{kind}"


def _check_kind_entity(kind: str, entity: str) -> None:
    if kind not in KIND_ENTITIES:
        raise ValueError(f"definition kind must be one of {DEFINITION_KINDS}; got {kind!r}")
    if entity not in KIND_ENTITIES[kind]:
        what = "sync actions" if kind == "syncActions" else kind
        raise ValueError(f"entity must be one of {', '.join(KIND_ENTITIES[kind])} for {what}; got {entity!r}")


def fields_path(entity: str, parent_id: int | str | None = None) -> str:
    if entity not in FIELD_ENTITIES:
        raise ValueError(f"fields can be listed for {', '.join(FIELD_ENTITIES)}; got {entity!r}")
    return entity_root(entity, parent_id) + "/fields"


@dataclass(frozen=True)
class DefinitionUri:
    """A parsed definition URI such as ``/events/12/imports/14`` (``kind``: imports, exports or syncActions)."""

    uri: str
    entity: str
    parent_id: int | None
    kind: str
    id: int

    @property
    def data_path(self) -> str:
        return self.uri + "/data"

    def __str__(self) -> str:
        return self.uri


def parse_definition_uri(uri: object, what: str = "definition_uri") -> DefinitionUri:
    """Validate and split a definition URI; raises EloquaInputError (a ValueError) naming ``what``,
    the argument it came from, and the bad value (a template that rendered to a number included)."""
    match = _DEFINITION_URI.match(uri) if isinstance(uri, str) else None
    if not match:
        raise EloquaInputError(
            f"{what} must look like /contacts/imports/30, /events/12/imports/14, /activities/exports/8 "
            f"or /contacts/syncActions/5; got {uri!r}"
        )
    root = match["root"]
    parent = match["co"] or match["ev"]
    entity = root.split("/")[0] if parent else root
    try:
        _check_kind_entity(match["kind"], entity)
    except ValueError as exc:
        raise EloquaInputError(f"{what} {uri!r} names no definition Eloqua has: {exc}") from None
    return DefinitionUri(
        uri=match.string,
        entity=entity,
        parent_id=int(parent) if parent else None,
        kind=match["kind"],
        id=int(match["id"]),
    )


def as_definition_uri(definition: str | DefinitionUri) -> DefinitionUri:
    """``definition`` parsed, unless it already is: callers that hold a parsed URI pass it down as is."""
    return definition if isinstance(definition, DefinitionUri) else parse_definition_uri(definition)


def data_path(definition_uri: str | DefinitionUri) -> str:
    """Staging-data path of a definition (``/contacts/imports/30/data``)."""
    return as_definition_uri(definition_uri).data_path


SYNCS_PATH = "/syncs"
#: ``orderBy`` for a list, newest first (Oracle documents ``orderBy=term ASC | DESC`` on every list).
NEWEST_FIRST = "createdAt DESC"


def search_criterion(term: str, value: str) -> str:
    """A ``q`` criterion ``term='value'`` (Oracle: ``q`` is ``term operator value``, ``*`` a wildcard).

    Oracle documents no way to escape a quote inside the value, so a quote becomes the ``*``
    wildcard: the search then matches a little more, and callers compare the items they get back.
    """
    return f"{term}='{value.replace(chr(39), '*')}'"


def check_sync_uri(sync_uri: str, what: str = "sync_uri") -> str:
    """``sync_uri`` if it is a sync URI; raises EloquaInputError (a ValueError) naming ``what``."""
    if not (isinstance(sync_uri, str) and _SYNC_URI.match(sync_uri)):
        raise EloquaInputError(f"{what} must look like /syncs/123; got {sync_uri!r}")
    return sync_uri


def sync_logs_path(sync_uri: str) -> str:
    return check_sync_uri(sync_uri) + "/logs"


def sync_rejects_path(sync_uri: str) -> str:
    return check_sync_uri(sync_uri) + "/rejects"


def sync_data_path(sync_uri: str) -> str:
    """An export sync's rows: ``/syncs/66100/data``."""
    return check_sync_uri(sync_uri) + "/data"


def is_loopback(url: str) -> bool:
    """True when the URL's host is a loopback address (plain http is allowed only there)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:  # an IP literal; a name such as 127.0.0.1.evil.com is not loopback
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_safe_url(url: str, what: str) -> str:
    """Refuse a non-https URL unless it points at loopback (the emulator); names the setting."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https" or (scheme == "http" and is_loopback(url)):
        return url
    raise ValueError(f"{what} must be an https URL (plain http only for loopback addresses); got {url!r}")
