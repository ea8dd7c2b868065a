"""The emulated Eloqua site, in memory: credentials, definitions, staging, syncs and records.

Every public method takes the one ``threading.Lock``: handlers run on the server's event loop
while tests read and reset the state from other threads through the control API. The request log
has a lock of its own, so that logging a request (on the event loop) never waits for a long hold
of the site's lock (seeding a million records, an export sync taking its snapshot); whoever needs
both takes the site's first.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_eloqua.emulator import exports, filters, processing, seeding
from airflow_provider_eloqua.emulator.errors import (
    ApiError,
    failure,
    not_found,
    unauthorized,
    validation_error,
)
from airflow_provider_eloqua.emulator.faults import FaultBook
from airflow_provider_eloqua.emulator.query import filter_items, order_items
from airflow_provider_eloqua.emulator.records import (
    DEFAULT_SITE_ZONE,
    ID,
    iso_z,
    parse_instant,
    public,
    system_statements,
)
from airflow_provider_eloqua.emulator.resources import Collection, parse_collection
from airflow_provider_eloqua.emulator.validation import READ_ONLY, parse_duration, validate_definition

DEFAULT_SITE = "AcmeCorp"
DEFAULT_USER = "API.User"
DEFAULT_PASSWORD = "emulator-password"  # noqa: S105 - public emulator default, not a secret
DEFAULT_CLIENT_ID = "emulator-client"
DEFAULT_CLIENT_SECRET = "emulator-client-secret"  # noqa: S105 - public emulator default
DEFAULT_REFRESH_TOKEN = "emulator-refresh-token-0"  # noqa: S105 - public emulator default
#: The OAuth app's registered redirect URI; a grant that carries another one is refused.
DEFAULT_REDIRECT_URI = "https://localhost/eloqua-callback"
DEFAULT_MAX_POST_BYTES = 32 * 1024 * 1024
DEFAULT_STAGING_QUOTA_BYTES = 250 * 1024 * 1024
ACCESS_TOKEN_LIFETIME_SECONDS = 28800
SITE_ID = 42
USER_ID = 7
TERMINAL_STATUSES = ("success", "warning", "error", "errored")
REQUEST_LOG_LIMIT = 10_000
#: Oracle's FAQ: at most 5 million records per activity export sync.
ACTIVITY_SYNC_CAP = 5_000_000
#: The properties ``q`` and ``orderBy`` accept on ``GET /syncs`` (those of a sync item).
SYNC_TERMS = frozenset(
    {"uri", "status", "syncedInstanceUri", "createdAt", "createdBy", "syncStartedAt", "syncEndedAt", "callbackUrl"}
)
#: The properties ``q`` and ``orderBy`` accept on a definition list.
DEFINITION_TERMS = frozenset({"name", "uri", "createdAt", "createdBy", "updatedAt", "updatedBy"})


def now_iso(now: datetime | None = None) -> str:
    """Timestamps as Eloqua writes them: ISO-8601 UTC with a ``Z`` (of ``now``, else the real time)."""
    return iso_z(now or datetime.now(UTC))


@dataclass
class Definition:
    uri: str
    collection: Collection
    body: dict[str, Any]
    staged: list[dict[str, Any]] = field(default_factory=list)
    staged_bytes: int = 0
    uploads: int = 0
    deleted: bool = False

    @property
    def root(self) -> str:
        return self.collection.root

    @property
    def kind(self) -> str:
        return self.collection.kind


@dataclass
class Sync:
    uri: str
    definition: Definition
    rows: list[dict[str, Any]]
    created_at: str
    created_by: str
    callback_url: str | None
    forced: str | None
    polls: int = 0
    status: str = "pending"
    started_at: str | None = None
    ended_at: str | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    #: An export sync's data, from when it ran; None before that, for imports, and once deleted or expired.
    snapshot: exports.Snapshot | None = None
    #: When an export sync's data expires (its definition's dataRetentionDuration after it ran).
    expires_at: datetime | None = None
    expired: bool = False

    @property
    def running(self) -> bool:
        return self.status not in TERMINAL_STATUSES

    def as_json(self) -> dict[str, Any]:
        body = {
            "uri": self.uri,
            "status": self.status,
            "syncedInstanceUri": self.definition.uri,
            "createdAt": self.created_at,
            "createdBy": self.created_by,
        }
        if self.callback_url:
            body["callbackUrl"] = self.callback_url
        if self.started_at:
            body["syncStartedAt"] = self.started_at
        if self.ended_at:
            body["syncEndedAt"] = self.ended_at
        return body


def check_root(root: str, kind: str) -> Collection:
    """The collection at ``root``/``kind``; 404 unless Eloqua has it (``/events/3/imports``)."""
    collection = parse_collection(root, kind)
    if collection is None:
        raise not_found(f"{root}/{kind}")
    return collection


class EmulatorState:
    """One Eloqua site; the constructor's credentials are what ``reset()`` returns to."""

    def __init__(
        self,
        site: str = DEFAULT_SITE,
        user: str = DEFAULT_USER,
        password: str = DEFAULT_PASSWORD,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
    ) -> None:
        self._defaults = {"site": site, "user": user, "password": password}
        self.client_id = client_id
        self.client_secret = client_secret
        self.lock = threading.Lock()
        self._log_lock = threading.Lock()
        self.faults = FaultBook()
        #: Bumped by every reset: a request logs itself only into the generation it started in, so
        #: a late request of an earlier test never shows up in the next test's request log.
        self.generation = 0
        self._reset()

    def _reset(self) -> None:
        self.site = self._defaults["site"]
        self.user = self._defaults["user"]
        self.password = self._defaults["password"]
        self.pod = ""
        self.access_tokens: set[str] = set()
        self.refresh_token = DEFAULT_REFRESH_TOKEN
        self.redirect_uri = DEFAULT_REDIRECT_URI
        #: Every access and refresh token the token endpoint handed out since the last reset (for
        #: tests that look for leaked secrets; a rotated-away token is a secret all the same).
        self.issued_tokens: list[str] = []
        self.pending_polls = 1
        self.active_polls = 1
        self.max_post_bytes = DEFAULT_MAX_POST_BYTES
        self.staging_quota_bytes = DEFAULT_STAGING_QUOTA_BYTES
        self.forced: deque[str] = deque()
        self.definitions: dict[str, Definition] = {}
        self.syncs: dict[str, Sync] = {}
        self.data = processing.Site()
        self.uploads: list[dict[str, Any]] = []
        self.request_log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_LIMIT)
        self._next_definition_id = 1
        self._next_sync_id = 100
        #: The emulator's clock: None follows the real time, else it stands at this instant.
        self.fixed_now: datetime | None = None
        self.site_time_zone = DEFAULT_SITE_ZONE
        #: Records one activity export sync may hold (Oracle: 5 million), and what a sync matching more
        #: does: "truncate" (holds exactly the cap, success, as tap-eloqua saw) or "error".
        self.activity_sync_cap = ACTIVITY_SYNC_CAP
        self.activity_sync_cap_outcome = "truncate"
        #: The answer to GET /syncs/{id}/data once dataRetentionDuration has passed (404 or 410).
        self.expired_data_status = 410

    def now(self) -> datetime:
        """The emulator's clock (see ``set_clock``): stamps records, definitions and syncs."""
        return self.fixed_now or datetime.now(UTC)

    def reset(self) -> None:
        with self.lock, self._log_lock:
            self.generation += 1
            self._reset()
        self.faults.clear()

    def retire_requests(self) -> int:
        """Start a new request generation (what ``reset`` does first); returns the retired one."""
        with self.lock, self._log_lock:
            self.generation += 1
            return self.generation - 1

    # ---- authentication -------------------------------------------------------------------

    def authenticate(self, authorization: str | None, pod: str | None = None) -> None:
        """Raise 401 unless the header carries valid Basic or Bearer credentials.

        ``pod`` is the pod prefix the request came in on (None for ``/id``, which is not
        pod-scoped): after a pod move the old location answers 401, as Eloqua does.
        """
        with self.lock:
            if pod is not None and pod.lower() != self.pod.lower():
                raise unauthorized()
            if self._credentials_ok(authorization):
                return
        raise unauthorized()

    def _credentials_ok(self, authorization: str | None) -> bool:
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme.lower() == "bearer":
            return credentials.strip() in self.access_tokens
        return scheme.lower() == "basic" and _decode_basic(credentials) == (f"{self.site}\\{self.user}", self.password)

    def identity(self, authorization: str | None) -> dict[str, Any] | None:
        """The ``/id`` answer for these credentials, or None when they are not valid.

        ``/id`` is not pod-scoped, and Oracle documents that it answers bad credentials (also a
        disabled user or a blocked IP) with 200 and the body ``"Not authenticated."``, not a 401:
        the route turns None into that answer.
        """
        with self.lock:
            if not self._credentials_ok(authorization):
                return None
            return {
                "site": {"id": SITE_ID, "name": self.site},
                "user": {
                    "id": USER_ID,
                    "username": self.user,
                    "displayName": self.user.replace(".", " "),
                    "emailAddress": f"{self.user.lower()}@{self.site.lower()}.example.com",
                },
                "pod": self.pod,
            }

    def oauth_token(self, client_authorization: str | None, params: dict[str, Any]) -> dict[str, Any]:
        """The token endpoint: password and refresh_token grants; refresh tokens rotate."""
        scheme, _, credentials = (client_authorization or "").partition(" ")
        with self.lock:
            if scheme.lower() != "basic" or _decode_basic(credentials) != (self.client_id, self.client_secret):
                raise ApiError(401, {"error": "invalid_client", "error_description": "Client authentication failed."})
            grant = params.get("grant_type")
            if "redirect_uri" in params and params["redirect_uri"] != self.redirect_uri:
                # Oracle checks a grant's redirect_uri against the one registered for the app.
                raise _invalid_grant("The redirect_uri does not match the one registered for the client.")
            if grant == "password":
                if (params.get("username"), params.get("password")) != (f"{self.site}\\{self.user}", self.password):
                    raise _invalid_grant("The user name or password is incorrect.")
            elif grant == "refresh_token":
                if not params.get("refresh_token") or params.get("refresh_token") != self.refresh_token:
                    raise _invalid_grant("The refresh token is invalid, expired or already used.")
            else:
                raise ApiError(
                    400, {"error": "unsupported_grant_type", "error_description": f"Grant {grant!r} is not supported."}
                )
            access = secrets.token_urlsafe(32)
            self.access_tokens.add(access)
            self.refresh_token = secrets.token_urlsafe(32)
            self.issued_tokens += [access, self.refresh_token]
            return {
                "access_token": access,
                "token_type": "bearer",
                "expires_in": ACCESS_TOKEN_LIFETIME_SECONDS,
                "refresh_token": self.refresh_token,
            }

    # ---- definitions ----------------------------------------------------------------------

    def create_definition(self, root: str, kind: str, body: Any) -> dict[str, Any]:
        collection = check_root(root, kind)
        failures = self._validate(body, collection)
        if failures:
            raise validation_error(failures)
        with self.lock:
            uri = f"{root}/{kind}/{self._next_definition_id}"
            self._next_definition_id += 1
            stamp = now_iso(self.now())
            stored = _with_defaults(body, kind) | {
                "uri": uri,
                "createdAt": stamp,
                "createdBy": self.user,
                "updatedAt": stamp,
                "updatedBy": self.user,
            }
            self.definitions[uri] = Definition(uri=uri, collection=collection, body=stored)
            return dict(stored)

    def _validate(self, body: Any, collection: Collection) -> list[dict[str, Any]]:
        if collection.kind == "exports":
            with self.lock:
                stored = self.data.statements.get(collection.root, set())
                return exports.validate_export(body, collection, self._known, stored)
        return validate_definition(body, collection)

    def list_definitions(
        self, root: str, kind: str, q: str | None = None, order_by: str | None = None
    ) -> list[dict[str, Any]]:
        """Definitions of one collection, filtered by ``q`` (``name='X'``, ``*`` wildcards) and sorted by ``orderBy``."""
        collection = check_root(root, kind)
        with self.lock:
            items = [dict(d.body) for d in self.definitions.values() if d.collection == collection]
        return order_items(filter_items(items, q, DEFINITION_TERMS), order_by, DEFINITION_TERMS)

    def _definition(self, uri: str) -> Definition:
        definition = self.definitions.get(uri)
        if definition is None:
            raise not_found(uri)
        return definition

    def get_definition(self, uri: str) -> dict[str, Any]:
        with self.lock:
            return dict(self._definition(uri).body)

    def replace_definition(self, uri: str, body: Any) -> dict[str, Any]:
        """PUT: the body replaces the definition, so it must pass the same validation as a create."""
        with self.lock:
            definition = self._definition(uri)
        failures = self._validate(body, definition.collection)
        if failures:
            raise validation_error(failures)
        with self.lock:
            kept = {key: definition.body[key] for key in ("uri", "createdAt", "createdBy")}
            definition.body = (
                _with_defaults(body, definition.kind)
                | kept
                | {
                    "updatedAt": now_iso(self.now()),
                    "updatedBy": self.user,
                }
            )
            return dict(definition.body)

    def delete_definition(self, uri: str) -> None:
        """Delete at once; a sync still running on it ends in ``error`` (ELQ-00143) when it finishes."""
        with self.lock:
            definition = self._definition(uri)
            definition.deleted = True
            del self.definitions[uri]
            self._drop_data(definition)

    def _drop_data(self, definition: Definition) -> None:
        """The synced data of an export definition's syncs is gone (its syncs stay)."""
        for sync in self.syncs.values():
            if sync.definition is definition:
                sync.snapshot = None

    # ---- staging --------------------------------------------------------------------------

    def check_exists(self, uri: str) -> Definition:
        with self.lock:
            return self._definition(uri)

    def stage(self, uri: str, rows: list[dict[str, Any]], size: int, content_type: str) -> dict[str, Any] | None:
        """Append an upload to staging; returns the new sync when the definition syncs on import."""
        with self.lock:
            definition = self._definition(uri)
            if definition.kind == "exports":  # Oracle has no POST on an export's data
                raise not_found(uri + "/data")
            if definition.staged_bytes + size > self.staging_quota_bytes:
                raise ApiError(
                    413, {"failures": [failure("data", size, "Staging area quota for this definition exceeded.")]}
                )
            definition.staged.extend(rows)
            definition.staged_bytes += size
            definition.uploads += 1
            self.uploads.append(
                {
                    "definition": uri,
                    "bytes": size,
                    "rows": len(rows),
                    "content_type": content_type,
                    # CLOCK_MONOTONIC is one clock for every process on the host, so a test can order
                    # this upload against what another local server (a loopback S3) saw.
                    "staged_monotonic_ns": time.monotonic_ns(),
                }
            )
            if definition.body.get("isSyncTriggeredOnImport"):
                return self._start_sync(definition, None).as_json()
            return None

    def clear_staging(self, uri: str) -> None:
        with self.lock:
            definition = self._definition(uri)
            if any(s.running and s.definition is definition for s in self.syncs.values()):
                raise ApiError(
                    409,
                    {"failures": [failure("uri", uri, "Cannot delete staged data while a sync of it is running.")]},
                )
            definition.staged = []
            definition.staged_bytes = 0
            self._drop_data(definition)

    # ---- syncs ----------------------------------------------------------------------------

    def create_sync(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise validation_error([failure("body", body, "Must be a JSON object.")])
        instance = body.get("syncedInstanceUri")
        callback = body.get("callbackUrl", body.get("callbackURL"))
        with self.lock:
            definition = self.definitions.get(instance) if isinstance(instance, str) else None
            if definition is None:
                raise validation_error(
                    [
                        failure(
                            "syncedInstanceUri", instance, "Must reference an existing import, export or sync action."
                        )
                    ]
                )
            return self._start_sync(definition, callback).as_json()

    def _start_sync(self, definition: Definition, callback: str | None) -> Sync:
        sync = Sync(
            uri=f"/syncs/{self._next_sync_id}",
            definition=definition,
            rows=definition.staged,
            created_at=now_iso(self.now()),
            created_by=self.user,
            callback_url=callback,
            forced=self.forced.popleft() if self.forced else None,
        )
        self._next_sync_id += 1
        definition.staged = []
        definition.staged_bytes = 0
        self.syncs[sync.uri] = sync
        return sync

    def _sync(self, uri: str) -> Sync:
        sync = self.syncs.get(uri)
        if sync is None:
            raise not_found(uri)
        return sync

    def poll_sync(self, uri: str) -> dict[str, Any]:
        """A GET moves the sync along: ``pending_polls`` GETs pending, ``active_polls`` active, then done."""
        with self.lock:
            sync = self._sync(uri)
            if sync.running:
                sync.polls += 1
                if sync.polls > self.pending_polls and sync.started_at is None:
                    sync.started_at = now_iso(self.now())
                if sync.polls > self.pending_polls + self.active_polls:
                    self._finish(sync)
                elif sync.polls > self.pending_polls:
                    sync.status = "active"
            return sync.as_json()

    def _finish(self, sync: Sync) -> None:
        definition = sync.definition
        logs: list[dict[str, Any]]
        if definition.deleted:
            status = "error"
            logs = [
                {
                    "severity": "error",
                    "statusCode": "ELQ-00143",
                    "message": "Definition deleted before sync finished.",
                    "count": 0,
                }
            ]
        elif sync.forced in ("error", "errored"):
            status = sync.forced
            logs = []
        elif definition.kind == "exports":
            status, logs = self._run_export(sync)
            status = sync.forced or status
        else:
            zone = ZoneInfo(self.site_time_zone)
            outcome = processing.process(self.data, definition.collection, definition.body, sync.rows, self.now(), zone)
            status = sync.forced or outcome.status
            logs, sync.rejects = outcome.logs, outcome.rejects
        message = f"Sync processed for sync {sync.uri}, resulting in {status.capitalize()} status."
        severity = "error" if status in ("error", "errored") else "information"
        logs.append({"severity": severity, "statusCode": "ELQ-00101", "message": message, "count": 0})
        stamp = now_iso(self.now())
        sync.logs = [{"syncUri": sync.uri, **log, "createdAt": stamp} for log in logs]
        sync.status = status
        sync.ended_at = stamp

    def _run_export(self, sync: Sync) -> tuple[str, list[dict[str, Any]]]:
        """Take the export's snapshot now; the sync's status and logs."""
        definition = sync.definition
        collection, body = definition.collection, definition.body
        store = self.data.records.get(collection.root, {})
        text = body.get("filter")
        items: Iterable[tuple[str, dict[str, Any]]] = store.items()
        if text:
            zone = ZoneInfo("UTC" if exports.in_utc(body) else self.site_time_zone)
            timestamps = system_statements(collection)
            keep = filters.compile_filter(text, collection, timestamps, zone, self._members)
            items = [(key, record) for key, record in items if keep(key, record)]
        # In id order: a store keeps its records in creation order, and ids are given in that order.
        ordered = list(items)
        matching = [record for _, record in ordered]
        cap = body.get("maxRecords")
        if isinstance(cap, int) and not isinstance(cap, bool):
            matching = matching[:cap]
        if collection.entity == "activities" and len(matching) > self.activity_sync_cap:
            if self.activity_sync_cap_outcome == "error":
                return "error", [exports.too_many_log(len(matching), self.activity_sync_cap)]
            matching = matching[: self.activity_sync_cap]
        contacts = self.data.records.get("/contacts", {}) if collection.entity == "activities" else {}
        sync.snapshot = exports.take_snapshot(collection, body, matching, self.site_time_zone, contacts)
        exported_keys = [key for key, _ in ordered[: len(sync.snapshot)]]
        processing.apply_sync_actions(self.data, body.get("syncActions") or [], exported_keys)
        retention = parse_duration(body.get("dataRetentionDuration")) or parse_duration(exports.DEFAULT_RETENTION)
        sync.expires_at = self.now() + retention if retention else None
        return "success", exports.exported_log(len(sync.snapshot))

    def definition_data(self, uri: str, offset: int, limit: int, csv: bool = False, totals: bool = True) -> bytes:
        """``GET /<entity>/exports/{id}/data``: the data of the definition's latest finished sync."""
        with self.lock:
            definition = self._definition(uri)
            finished = [s for s in self.syncs.values() if s.definition is definition and not s.running]
            if not finished:
                raise not_found(uri + "/data")
            latest = finished[-1].uri
        return self.sync_data(latest, offset, limit, csv, totals)

    def sync_data(self, uri: str, offset: int, limit: int, csv: bool = False, totals: bool = True) -> bytes:
        """One page of an export sync's data (``GET /syncs/{id}/data``), encoded as JSON or CSV."""
        with self.lock:
            sync = self._sync(uri)
            if sync.definition.kind != "exports":
                message = "Data can only be retrieved for an export sync."
                raise validation_error([failure("uri", uri, message)])
            if sync.running:
                raise validation_error([failure("uri", uri, f"The sync is {sync.status}: it has no data yet.")])
            if sync.snapshot is not None and sync.expires_at is not None and self.now() >= sync.expires_at:
                sync.snapshot = None  # the retention has passed: the staged data is gone for good
                sync.expired = True
            snapshot = sync.snapshot
            if snapshot is None:
                if sync.expired:
                    message = "The sync's data has expired (dataRetentionDuration has passed)."
                    raise ApiError(self.expired_data_status, {"failures": [failure("uri", uri + "/data", message)]})
                raise not_found(uri + "/data")
        return snapshot.page_csv(offset, limit) if csv else snapshot.page_json(offset, limit, totals)

    # ---- lists, segments and filters -------------------------------------------------------

    def _known(self, kind: str, container_id: int) -> bool:
        return (
            f"{kind}[{container_id}]" in self.data.containers or _sync_action_key(kind, container_id) in self.data.lists
        )

    def _members(self, kind: str, container_id: int) -> set[str]:
        """Record keys in a list, segment or filter: the control API's members and sync actions' adds."""
        found = set(self.data.lists.get(_sync_action_key(kind, container_id), ()))
        container = self.data.containers.get(f"{kind}[{container_id}]")
        if container is not None:
            found |= container["members"]
            ids = container["ids"]
            if ids:
                root = "/" + filters.CONTAINERS[kind]
                found |= {key for key, record in self.data.records.get(root, {}).items() if record.get(ID) in ids}
        return found

    def define_container(self, spec: Any) -> dict[str, Any]:
        """Create or replace a contact list, segment or filter, or an account list (control API)."""
        with self.lock:
            kind, container_id = seeding.define_container(self.data, spec, now_iso(self.now()), self.user)
            return self._container(kind, container_id)

    def container(self, kind: str, container_id: int) -> dict[str, Any]:
        """``GET /contacts/lists|segments|filters/{id}``, ``GET /accounts/lists/{id}``."""
        with self.lock:
            if not self._known(kind, container_id):
                raise not_found(f"{kind}[{container_id}]")
            return self._container(kind, container_id)

    def containers(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            ids = {int(key[len(kind) + 1 : -1]) for key in self.data.containers if key.startswith(kind + "[")}
            return [self._container(kind, cid) for cid in sorted(ids)]

    def _container(self, kind: str, container_id: int) -> dict[str, Any]:
        stored = self.data.containers.get(f"{kind}[{container_id}]", {})
        entity = filters.CONTAINERS[kind]
        path = {
            "ContactList": "lists",
            "ContactSegment": "segments",
            "ContactFilter": "filters",
            "AccountList": "lists",
        }
        return {
            "name": stored.get("name", f"{kind} {container_id}"),
            "count": len(self._members(kind, container_id)),
            "statement": f"{{{{{kind}[{container_id}]}}}}",
            "uri": f"/{entity}/{path[kind]}/{container_id}",
            "createdAt": stored.get("createdAt"),
            "createdBy": stored.get("createdBy"),
            "updatedAt": stored.get("createdAt"),
            "updatedBy": stored.get("createdBy"),
        }

    def delete_sync_data(self, uri: str) -> None:
        """``DELETE /syncs/{id}/data``: the export sync's data is gone; its later GETs answer 404."""
        with self.lock:
            sync = self._sync(uri)
            if sync.definition.kind != "exports":
                raise validation_error([failure("uri", uri, "Data can only be deleted for an export sync.")])
            sync.snapshot = None

    def sync_logs(self, uri: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self._sync(uri).logs)

    def sync_rejects(self, uri: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self._sync(uri).rejects)

    def list_syncs(self, q: str | None = None, order_by: str | None = None) -> list[dict[str, Any]]:
        """Every sync of the site (creation order), filtered by ``q`` and sorted by ``orderBy``."""
        with self.lock:
            items = [sync.as_json() for sync in self.syncs.values()]
        return order_items(filter_items(items, q, SYNC_TERMS), order_by, SYNC_TERMS)

    # ---- control --------------------------------------------------------------------------

    def seed(self, spec: Any) -> dict[str, Any]:
        """Write records straight into the site (seeding.seed documents ``spec``)."""
        with self.lock:
            return seeding.seed(self.data, spec, self.now())

    def set_timestamps(self, spec: Any) -> dict[str, Any]:
        """Move one record's system timestamps (seeding.set_timestamps); the record as the control API shows it."""
        with self.lock:
            return public(seeding.set_timestamps(self.data, spec))

    def set_clock(self, spec: Any) -> dict[str, Any]:
        """``{"now": ISO-8601}`` stops the clock there, ``{"advance": seconds}`` moves a stopped clock
        on, ``{"now": null}`` lets it follow the real time again."""
        if not isinstance(spec, dict) or not set(spec) <= {"now", "advance"}:
            raise ApiError(400, {"error": "the clock body takes 'now' (ISO-8601 or null) and/or 'advance' (seconds)"})
        with self.lock:
            if "now" in spec:
                if spec["now"] is None:
                    self.fixed_now = None
                else:
                    instant = parse_instant(spec["now"])
                    if instant is None:
                        raise ApiError(400, {"error": f"now must be an ISO-8601 date and time; got {spec['now']!r}"})
                    self.fixed_now = instant
            if "advance" in spec:
                seconds = spec["advance"]
                if not isinstance(seconds, int | float) or isinstance(seconds, bool):
                    raise ApiError(400, {"error": f"advance must be a number of seconds; got {seconds!r}"})
                self.fixed_now = self.now() + timedelta(seconds=seconds)
            return self._clock()

    def clock(self) -> dict[str, Any]:
        with self.lock:
            return self._clock()

    def _clock(self) -> dict[str, Any]:
        return {"now": iso_z(self.now()), "fixed": self.fixed_now is not None}

    def configure(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Apply partial settings (see the control API in app.py); unknown keys are a 400."""
        handlers = {
            "pending_polls": lambda v: setattr(self, "pending_polls", _non_negative(v, "pending_polls")),
            "active_polls": lambda v: setattr(self, "active_polls", _non_negative(v, "active_polls")),
            "max_post_bytes": lambda v: setattr(self, "max_post_bytes", _non_negative(v, "max_post_bytes")),
            "staging_quota_bytes": lambda v: setattr(
                self, "staging_quota_bytes", _non_negative(v, "staging_quota_bytes")
            ),
            "force_status": self._force,
            "password": lambda v: setattr(self, "password", str(v)),
            "expire_access_tokens": lambda v: self.access_tokens.clear() if v else None,
            "pod": lambda v: setattr(self, "pod", (v or "").strip("/")),
            "refresh_token": lambda v: setattr(self, "refresh_token", str(v)),
            "redirect_uri": lambda v: setattr(self, "redirect_uri", str(v)),
            "site_time_zone": self._set_zone,
            "activity_sync_cap": lambda v: setattr(self, "activity_sync_cap", _non_negative(v, "activity_sync_cap")),
            "activity_sync_cap_outcome": lambda v: setattr(
                self, "activity_sync_cap_outcome", _one_of(v, "activity_sync_cap_outcome", ("truncate", "error"))
            ),
            "expired_data_status": lambda v: setattr(
                self, "expired_data_status", _one_of(v, "expired_data_status", (404, 410))
            ),
        }
        unknown = set(settings) - set(handlers)
        if unknown:
            raise ApiError(400, {"error": f"unknown settings: {sorted(unknown)}; known: {sorted(handlers)}"})
        with self.lock:
            for key, value in settings.items():
                handlers[key](value)
            return self._settings()

    def _set_zone(self, value: Any) -> None:
        try:
            ZoneInfo(str(value))
        except (ValueError, KeyError):
            raise ApiError(400, {"error": f"site_time_zone must be an IANA zone name; got {value!r}"}) from None
        self.site_time_zone = str(value)

    def _force(self, value: Any) -> None:
        values = [value] if isinstance(value, str) else list(value or [])
        allowed = ("success", "warning", "error", "errored")
        if any(v not in allowed for v in values):
            raise ApiError(400, {"error": f"force_status values must be in {allowed}; got {values}"})
        self.forced.extend(values)

    def _settings(self) -> dict[str, Any]:
        return {
            "pending_polls": self.pending_polls,
            "active_polls": self.active_polls,
            "max_post_bytes": self.max_post_bytes,
            "staging_quota_bytes": self.staging_quota_bytes,
            "force_status": list(self.forced),
            "pod": self.pod,
            "redirect_uri": self.redirect_uri,
            "site_time_zone": self.site_time_zone,
            "activity_sync_cap": self.activity_sync_cap,
            "activity_sync_cap_outcome": self.activity_sync_cap_outcome,
            "expired_data_status": self.expired_data_status,
        }

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {
                "settings": self._settings(),
                "definitions": [
                    {
                        "uri": d.uri,
                        "name": d.body["name"],
                        "fields": d.body["fields"],
                        "staged_rows": len(d.staged),
                        "uploads": d.uploads,
                    }
                    for d in self.definitions.values()
                ],
                "syncs": [
                    {"uri": s.uri, "status": s.status, "syncedInstanceUri": s.definition.uri, "rows": len(s.rows)}
                    for s in self.syncs.values()
                ],
                "records": {root: len(store) for root, store in self.data.records.items()},
                "lists": self._lists(),
                "uploads": list(self.uploads),
            }

    def records(self, root: str) -> list[dict[str, Any]]:
        with self.lock:
            store = self.data.records.get(root, {})
            return [{**public(values), "identifier": key} for key, values in store.items()]

    def _lists(self) -> dict[str, list[str]]:
        return {key: sorted(members) for key, members in self.data.lists.items()}

    def memberships(self) -> dict[str, Any]:
        with self.lock:
            return {
                "lists": self._lists(),
                "statuses": {dest: dict(by_id) for dest, by_id in self.data.statuses.items()},
            }

    def log_request(self, entry: dict[str, Any], generation: int | None = None) -> None:
        """Append ``entry`` unless the site was reset since its request began (``generation``)."""
        with self._log_lock:
            if generation is None or generation == self.generation:
                self.request_log.append(entry)

    def requests(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return list(self.request_log)

    def clear_requests(self) -> None:
        with self._log_lock:
            self.request_log.clear()


def _decode_basic(credentials: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, secret = decoded.partition(":")
    return (name, secret) if sep else None


def _invalid_grant(description: str) -> ApiError:
    return ApiError(400, {"error": "invalid_grant", "error_description": description})


def _one_of(value: Any, name: str, allowed: tuple[Any, ...]) -> Any:
    if value not in allowed or isinstance(value, bool):
        raise ApiError(400, {"error": f"{name} must be one of {allowed}; got {value!r}"})
    return value


def _non_negative(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ApiError(400, {"error": f"{name} must be a non-negative integer; got {value!r}"})
    return value


def _sync_action_key(kind: str, container_id: int) -> str:
    """Where sync actions keep a list's members (processing.list_key): contact lists by id."""
    return str(container_id) if kind == "ContactList" else f"{{{{{kind}[{container_id}]}}}}"


def _with_defaults(body: dict[str, Any], kind: str) -> dict[str, Any]:
    """The client's properties (read-only ones dropped) over Eloqua's defaults."""
    if kind == "exports":
        return exports.with_export_defaults(body)
    defaults: dict[str, Any] = {
        "isSyncTriggeredOnImport": False,
        "dataRetentionDuration": "P7D",
        "isUpdatingMultipleMatchedRecords": False,
    }
    if kind == "imports":
        defaults["updateRule"] = "always"
    return defaults | {key: value for key, value in body.items() if key not in READ_ONLY}
