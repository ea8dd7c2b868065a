"""EloquaHook: pod discovery, retries, request plumbing and every Bulk API 2.0 call the provider makes.

The hook owns HTTP. Operators, the sensor and the trigger never build a URL or a request
themselves: they call methods here, so retry policy, auth refresh and error shaping live in
one place (``retry.py`` decides what is transient; ``urls.py`` spells every path;
``hooks/auth.py`` decides the credentials and grants; ``hooks/session.py`` shares clients,
pod and tokens between hooks).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, BinaryIO

import httpx
import msgspec
import requests
from airflow.sdk import BaseHook

from airflow_provider_eloqua import urls
from airflow_provider_eloqua.content import CSV_CONTENT_TYPE, JSON_CONTENT_TYPE
from airflow_provider_eloqua.exceptions import (
    EloquaApiError,
    EloquaAuthError,
    EloquaDefinitionRefused,
    EloquaError,
    EloquaProxyError,
    EloquaTransportError,
)
from airflow_provider_eloqua.hooks.auth import AUTH_HINT, TOKEN_PATH, GrantRequest, OAuthGrants, amask, mask
from airflow_provider_eloqua.hooks.session import USER_AGENT as USER_AGENT
from airflow_provider_eloqua.hooks.session import SiteSession, TokenState, shared_lookup, site_session
from airflow_provider_eloqua.retry import RetryPolicy, is_retryable_status, parse_retry_after
from airflow_provider_eloqua.settings import EloquaSettings, settings_from_connection
from airflow_provider_eloqua.urls import DefinitionUri

PAGE_LIMIT = 1000
_decode_page = msgspec.json.Decoder().decode
#: The body of Eloqua's refusal of credentials (a 401's, and ``/id``'s 200).
NOT_AUTHENTICATED = "Not authenticated."
PROXY_AUTH_HINT = (
    "The proxy wants credentials it was not given, or refused them: put them in proxy_url as "
    "http://user:password@host:port (percent-encode special characters); not retried"
)
PROXY_REFUSED_HINT = "Nothing reached Eloqua: check that the proxy lets this host tunnel to the Eloqua hosts"
#: The proxy's answer to CONNECT, in requests' (urllib3's) and httpx's (httpcore's) error text.
_TUNNEL_STATUS = re.compile(r"(?:Tunnel connection failed: |^)(\d{3})\b")


def _decode_body(content: bytes, content_type: str | None) -> Any:
    if not content:
        return None
    if content_type and "json" in content_type:
        try:
            return json.loads(content)
        except ValueError:
            pass
    return content.decode("utf-8", errors="replace")


def _error_for(method: str, path: str, status: int, headers: Any, content: bytes) -> EloquaApiError:
    body = _decode_body(content, headers.get("content-type"))
    retry_after = parse_retry_after(headers.get("retry-after"))
    if status in (401, 403):
        return EloquaAuthError(method, path, status, body, hint=AUTH_HINT)
    if status == 407:  # Proxy Authentication Required: the proxy's answer, never Eloqua's
        return EloquaProxyError(method, path, status, hint=PROXY_AUTH_HINT)
    hint = None
    if status == 404 and path.endswith("/data") and method == "POST":
        hint = "Eloqua answers 404 to a data POST over 32 MB as well as to an unknown definition"
    elif status == 409 and path.endswith("/data"):
        hint = "A sync of this definition is still running; staging cannot change until it ends"
    elif status == 413:
        hint = "Eloqua's staging storage quota is exceeded: sync or clear staged data first"
    return EloquaApiError(method, path, status, body, retry_after=retry_after, hint=hint)


def _proxy_error(method: str, path: str, exc: Exception) -> EloquaError:
    """The error for a proxy failure: the proxy's refusal of the tunnel (its status), or, when it could
    not be reached, a transport error (retried: nothing was sent)."""
    found = _TUNNEL_STATUS.search(str(exc))
    if found is None:
        return EloquaTransportError(method, path, "the proxy could not be reached", connect_phase=True)
    status = int(found.group(1))
    return EloquaProxyError(method, path, status, hint=PROXY_AUTH_HINT if status == 407 else PROXY_REFUSED_HINT)


def _raise_if_redirect_or_transient(method: str, path: str, status: int, headers: Any, content: bytes) -> None:
    """Shared by the sync and async senders: refuse redirects, raise transient answers for retry."""
    if 300 <= status < 400:
        raise EloquaError(
            f"{method} {path} was redirected ({status}) to {headers.get('location', '?')}; credentials are "
            "only sent to the configured Eloqua host, so the redirect is not followed"
        )
    if is_retryable_status(status, parse_retry_after(headers.get("retry-after"))):
        raise _error_for(method, path, status, headers, content)


def _refused_by_id(url: str | None, response: requests.Response | httpx.Response) -> bool:
    """True for ``/id``'s answer to bad credentials: 200 with the body ``"Not authenticated."``.

    Oracle documents that ``GET https://login.eloqua.com/id`` answers a failure (wrong credentials,
    a disabled user, an IP outside the allow-list) with 200 OK and that JSON string, not a 401.
    ``url`` is only set for the ``/id`` call.
    """
    if url is None or response.status_code != 200:
        return False
    body = _decode_body(response.content, response.headers.get("content-type"))
    return isinstance(body, str) and body.strip().strip('"') == NOT_AUTHENTICATED


def _meaning(url: str | None, response: requests.Response | httpx.Response) -> int:
    """The status an answer stands for: ``/id``'s 200 "Not authenticated." is a 401 in all but name."""
    return 401 if _refused_by_id(url, response) else response.status_code


def _check_answer(method: str, path: str, response: requests.Response | httpx.Response, url: str | None = None) -> None:
    """Raise the error a final answer stands for, if any (shared by sync and async)."""
    if _refused_by_id(url, response):
        raise EloquaAuthError(method, path, response.status_code, NOT_AUTHENTICATED, hint=AUTH_HINT)
    if response.status_code >= 400:
        raise _error_for(method, path, response.status_code, response.headers, response.content)


def _answer(method: str, path: str, response: requests.Response | httpx.Response, url: str | None = None) -> Any:
    """The decoded body of a final answer, or the error it stands for (shared by sync and async)."""
    _check_answer(method, path, response, url)
    return _decode_body(response.content, response.headers.get("content-type"))


class EloquaHook(BaseHook):
    """Talks to Oracle Eloqua's Bulk API 2.0 for one ``eloqua`` connection: every call the provider makes.

    Pod discovery, OAuth2 token rotation, what the hook trusts and proxies: README, "Connection reference";
    every hook of a connection in one process shares one session (docs/internals.md, "One session per
    connection per process").

    :param eloqua_conn_id: the Airflow connection (type ``eloqua``).
    :param timeout: seconds one HTTP request may take (None: the connection's ``timeout`` extra).
    :param retry_policy: a :class:`~airflow_provider_eloqua.retry.RetryPolicy`, or its fields as a dict (None: default).
    """

    conn_name_attr = "eloqua_conn_id"
    default_conn_name = "eloqua_default"
    conn_type = "eloqua"
    hook_name = "Oracle Eloqua"

    def __init__(
        self,
        eloqua_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | dict | None = None,
    ) -> None:
        super().__init__()
        self.eloqua_conn_id = eloqua_conn_id
        #: The ``timeout`` argument (None: the connection's ``timeout`` extra decides).
        self.request_timeout = timeout
        self.retry_policy = RetryPolicy.from_setting(retry_policy)
        self._site: SiteSession | None = None
        #: True while this hook counts as a holder of its session's event-loop client.
        self._holding = False

    def __repr__(self) -> str:
        return f"EloquaHook(eloqua_conn_id={self.eloqua_conn_id!r})"

    # ------------------------------------------------------------------ settings and session

    @cached_property
    def settings(self) -> EloquaSettings:
        settings = settings_from_connection(self.get_connection(self.eloqua_conn_id), self.request_timeout)
        for secret in settings.secrets():
            mask(secret)
        return settings

    def _site_session(self) -> SiteSession:
        """This hook's shared session: chosen once, so a hook never switches sessions halfway."""
        if self._site is None:
            self._site = site_session(self.eloqua_conn_id, self.settings)
        return self._site

    @cached_property
    def session(self) -> requests.Session:
        """The process's ``requests.Session`` for this connection, shared with the other hooks."""
        return self._site_session().requests_session

    @property
    def _tokens(self) -> TokenState | None:
        """The shared OAuth tokens (None until the first grant)."""
        return self._site_session().tokens

    def get_conn(self) -> requests.Session:
        return self.session

    # ------------------------------------------------------------------ auth (hooks/auth.py decides)

    @cached_property
    def _grants(self) -> OAuthGrants:
        return OAuthGrants(self.settings, self.log)

    def _send_grant(self, request: GrantRequest) -> requests.Response:
        return self._send("POST", request.url, TOKEN_PATH, headers=request.headers, data=request.body, idempotent=False)

    def _auth(self, stale: int | None = None) -> tuple[str, int | None]:
        """The Authorization header and the generation of the token in it (None for basic auth).

        :param stale: the generation of a token Eloqua answered 401 to: a newer one is used.
        """
        return self._grants.header(self._site_session(), self._send_grant, stale)

    # ------------------------------------------------------------------ base URL

    @property
    def base_url(self) -> str:
        return self._bulk_base()[0]

    def _bulk_base(self, stale: int | None = None, *, renew_on_401: bool = True) -> tuple[str, int | None]:
        """The Bulk API base URL and its discovery generation (None for a configured host).

        :param stale: the generation of a base URL Eloqua answered 401 to: it is discovered again.
        :param renew_on_401: whether the discovery's own ``/id`` call may renew the token.
        """
        if self.settings.base_url:
            return self.settings.base_url, None
        return self._site_session().base_url.get(lambda: self.discover_base_url(renew_on_401=renew_on_401), stale)

    def discover_base_url(self, *, renew_on_401: bool = True) -> str:
        """Ask ``<login_url>/id`` which pod serves the site; return its Bulk API 2.0 base URL."""
        body = self._call("GET", "/id", url=urls.id_url(self.settings.login_url), renew_on_401=renew_on_401)
        if not isinstance(body, dict):
            raise EloquaError(f"Eloqua /id answered {body!r} instead of a site description")
        base = urls.bulk_base_from_discovery(body)
        return urls.require_safe_url(base, "discovered Bulk API base URL")

    # ------------------------------------------------------------------ HTTP core

    def _send(
        self,
        method: str,
        url: str,
        path: str,
        *,
        headers: dict[str, str],
        data: bytes | BinaryIO | None = None,
        params: dict[str, Any] | None = None,
        idempotent: bool = True,
        deadline: float | None = None,
    ) -> requests.Response:
        """One request with the retry policy; answers of a retryable status raise inside the loop.
        With ``deadline`` (seconds since the epoch), no retry sleeps past it."""
        for attempt in self.retry_policy.retrying(idempotent=idempotent, deadline=deadline):
            with attempt:
                rewind = getattr(data, "seek", None)
                if rewind is not None:
                    rewind(0)  # a file body is read again on each attempt
                try:
                    response = self.session.request(
                        method,
                        url,
                        headers=headers,
                        data=data,
                        params=params,
                        timeout=self.settings.timeouts,
                        allow_redirects=False,
                    )
                except requests.exceptions.ConnectTimeout as exc:
                    raise EloquaTransportError(method, path, "connect timeout", connect_phase=True) from exc
                except requests.exceptions.Timeout as exc:
                    raise EloquaTransportError(method, path, f"read timeout after {self.settings.timeout}s") from exc
                except requests.exceptions.ProxyError as exc:
                    raise _proxy_error(method, path, exc) from exc
                except requests.exceptions.ConnectionError as exc:
                    raise EloquaTransportError(
                        method, path, _connection_reason(exc), connect_phase=_never_connected(exc)
                    ) from exc
                except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
                    # The answer's body was cut off (the connection dropped after the headers).
                    raise EloquaTransportError(method, path, f"answer cut off ({type(exc).__name__})") from exc
                _raise_if_redirect_or_transient(method, path, response.status_code, response.headers, response.content)
                return response
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    def _renew_after_401(
        self, method: str, path: str, url: str | None, response: requests.Response | httpx.Response, renewed: bool
    ) -> bool:
        """True when this answer is a 401 (or ``/id``'s 200 "Not authenticated.") to renew after: once,
        with the token renewed and the pod re-discovered (tokens expire and sites move pods). Shared
        by ``_call`` and ``_acall``; the caller passes the generations it used, so a burst of 401s
        renews once for all hooks."""
        if _meaning(url, response) != 401 or renewed:
            return False
        answered = "401" if response.status_code == 401 else f'{response.status_code} "{NOT_AUTHENTICATED}"'
        self.log.info("Eloqua answered %s to %s %s; renewing authentication once", answered, method, path)
        return True

    def _call(
        self,
        method: str,
        path: str,
        *,
        url: str | None = None,
        json_body: Any = None,
        data: bytes | BinaryIO | None = None,
        content_type: str | None = None,
        params: dict[str, Any] | None = None,
        idempotent: bool = True,
        renew_on_401: bool = True,
        decode: bool = True,
        deadline: float | None = None,
    ) -> Any:
        """Send a request, renewing auth (and the pod) once on 401; return the decoded body.

        ``url`` is an absolute URL (the login host's ``/id``) used instead of base URL + ``path``.
        ``renew_on_401=False`` is for the ``/id`` call made while renewing: that call is the one
        renewal, so a 401 there fails at once instead of renewing a second time.
        ``decode=False`` returns the successful ``requests.Response`` itself (its body undecoded).
        ``deadline`` (seconds since the epoch) ends the request's retries before it.
        """
        if json_body is not None:
            data = json.dumps(json_body).encode("utf-8")
            content_type = JSON_CONTENT_TYPE
        renewed = not renew_on_401
        stale_token = stale_base = None
        while True:
            auth, token_generation = self._auth(stale_token)
            headers = {"Authorization": auth}
            if content_type:
                headers["Content-Type"] = content_type
            base_generation = None
            if url is None:
                base, base_generation = self._bulk_base(stale_base, renew_on_401=not renewed)
            target = url or base + path
            response = self._send(
                method,
                target,
                path,
                headers=headers,
                data=data,
                params=params,
                idempotent=idempotent,
                deadline=deadline,
            )
            if self._renew_after_401(method, path, url, response, renewed):
                renewed = True
                stale_token, stale_base = token_generation, base_generation
                continue
            if not decode:
                _check_answer(method, path, response, url)
                return response
            return _answer(method, path, response, url)

    def _iter_searched(self, path: str, *searches: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a list searched with the first of ``searches`` Eloqua accepts.

        Oracle documents ``q`` and ``orderBy`` on every list but not which terms each accepts; a
        search refused with 400 before its first item falls back to the next (the last is plain).
        Callers check the items themselves either way.
        """
        for search in searches:
            started = False
            try:
                for item in self._iter_items(path, search):
                    started = True
                    yield item
                return
            except EloquaApiError as exc:
                if started or exc.status != 400:
                    raise
                self.log.info("Eloqua refused the search %s on %s (%s); asking with less", search, path, exc)
        yield from self._iter_items(path)

    def _iter_items(
        self, path: str, params: dict[str, Any] | None = None, *, deadline: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paged list, following ``hasMore`` with ``limit``/``offset``.

        The listing ends at a page without ``hasMore``, at an empty page, or once ``totalResults``
        items are read, whichever comes first, so a server that answers ``hasMore: true`` forever
        cannot keep it going; past ``deadline`` (seconds since the epoch) it fails naming the list.
        """
        offset = 0
        while True:
            page = self._call(
                "GET", path, params={**(params or {}), "limit": PAGE_LIMIT, "offset": offset}, deadline=deadline
            )
            items = (page or {}).get("items") or []
            yield from items
            offset += len(items)
            total = page.get("totalResults") if isinstance(page, dict) else None
            if not page or not page.get("hasMore") or not items or (isinstance(total, int) and offset >= total):
                return
            if deadline is not None and time.time() >= deadline:
                raise EloquaError(
                    f"Eloqua's list {path} still answered hasMore after {offset} item(s) (totalResults: {total!r}) "
                    "when the deadline passed: the listing was abandoned"
                )

    # ------------------------------------------------------------------ definitions

    def create_definition(
        self, entity: str, body: dict[str, Any], parent_id: int | str | None = None, kind: str = "imports"
    ) -> dict[str, Any]:
        """Create a definition of ``kind``: ``imports``, ``exports`` or ``syncActions`` (see :data:`urls.KIND_ENTITIES`).

        A refusal of the definition itself (400 or 422, with Eloqua's ``failures``) is raised as
        :class:`EloquaDefinitionRefused`, which Airflow does not retry.
        """
        path = urls.definitions_path(entity, parent_id, kind)
        try:
            return self._call("POST", path, json_body=body, idempotent=False)
        except EloquaApiError as exc:
            if type(exc) is EloquaApiError and exc.status in (400, 422):
                raise EloquaDefinitionRefused.of(exc) from exc
            raise

    def create_import(self, entity: str, body: dict[str, Any], parent_id: int | str | None = None) -> dict[str, Any]:
        """Create an import definition (``POST /<entity>/imports``); return Eloqua's answer, its ``uri`` included."""
        return self.create_definition(entity, body, parent_id, "imports")

    def create_sync_action(
        self, entity: str, body: dict[str, Any], parent_id: int | str | None = None
    ) -> dict[str, Any]:
        """Create a sync-action definition (``POST /<entity>/syncActions``); return Eloqua's answer."""
        return self.create_definition(entity, body, parent_id, "syncActions")

    def list_definitions(
        self, entity: str, parent_id: int | str | None = None, kind: str = "imports", *, name: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Definitions of a collection; with ``name``, those Eloqua finds for ``q=name='<name>'``.

        The name search may return more than the exact name (quotes become wildcards, and a server
        refusing the search is asked for the whole list): callers compare names themselves.
        """
        path = urls.definitions_path(entity, parent_id, kind)
        if name is None:
            return self._iter_items(path)
        return self._iter_searched(path, {"q": urls.search_criterion("name", name)})

    def get_definition(self, definition_uri: str | DefinitionUri) -> dict[str, Any]:
        """Read a definition, e.g. ``/contacts/imports/30``."""
        return self._call("GET", urls.as_definition_uri(definition_uri).uri)

    def update_definition(self, definition_uri: str | DefinitionUri, body: dict[str, Any]) -> dict[str, Any]:
        """PUT a definition; Eloqua wants every required property, not just the changed ones."""
        return self._call("PUT", urls.as_definition_uri(definition_uri).uri, json_body=body)

    def delete_definition(self, definition_uri: str | DefinitionUri) -> None:
        """Delete a definition."""
        self._call("DELETE", urls.as_definition_uri(definition_uri).uri)

    def list_fields(self, entity: str, parent_id: int | str | None = None) -> Iterator[dict[str, Any]]:
        """The fields of an entity (``GET /<entity>/fields``), every page."""
        return self._iter_items(urls.fields_path(entity, parent_id))

    # ------------------------------------------------------------------ staging

    def upload_data(
        self, definition_uri: str | DefinitionUri, body: bytes | BinaryIO, content_type: str
    ) -> dict[str, Any] | None:
        """POST one chunk (< 32 MB) of rows to a definition's staging area.

        Returns the sync Eloqua started (201) when the definition has ``isSyncTriggeredOnImport``,
        else None (204). Not retried after an ambiguous failure: see ``retry.is_safe_to_resend``.
        """
        path = urls.data_path(definition_uri)
        answer = self._call("POST", path, data=body, content_type=content_type, idempotent=False)
        return answer if isinstance(answer, dict) else None

    def upload_rows(self, definition_uri: str | DefinitionUri, rows: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
        """POST rows as one JSON chunk (see :meth:`upload_data`)."""
        body = json.dumps(list(rows), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self.upload_data(definition_uri, body, JSON_CONTENT_TYPE)

    def upload_csv(self, definition_uri: str | DefinitionUri, body: bytes | BinaryIO) -> dict[str, Any] | None:
        """POST one CSV chunk, its header first (see :meth:`upload_data`)."""
        return self.upload_data(definition_uri, body, CSV_CONTENT_TYPE)

    def clear_staged_data(self, definition_uri: str | DefinitionUri) -> None:
        """DELETE staged rows; Eloqua answers 409 while a sync of the definition runs."""
        self._call("DELETE", urls.data_path(definition_uri))

    # ------------------------------------------------------------------ syncs

    def create_sync(self, synced_instance_uri: str | DefinitionUri, callback_url: str | None = None) -> dict[str, Any]:
        """Start a sync of a definition (``POST /syncs``); return it, its ``uri`` and ``status`` included."""
        body: dict[str, Any] = {"syncedInstanceUri": urls.as_definition_uri(synced_instance_uri).uri}
        if callback_url:
            body["callbackUrl"] = callback_url
        return self._call("POST", urls.SYNCS_PATH, json_body=body, idempotent=False)

    def get_sync(self, sync_uri: str, *, deadline: float | None = None) -> dict[str, Any]:
        """Read a sync; a waiting caller passes its ``deadline`` (seconds since the epoch), past which
        no retry of the read sleeps (the last failure is raised instead)."""
        return self._call("GET", urls.check_sync_uri(sync_uri), deadline=deadline)

    def iter_sync_logs(self, sync_uri: str, *, deadline: float | None = None) -> Iterator[dict[str, Any]]:
        """A sync's log entries; ``deadline`` bounds the listing (see ``_iter_items``)."""
        return self._iter_items(urls.sync_logs_path(sync_uri), deadline=deadline)

    def iter_sync_rejects(self, sync_uri: str, *, deadline: float | None = None) -> Iterator[dict[str, Any]]:
        """A sync's rejected rows; ``deadline`` bounds the listing (see ``_iter_items``)."""
        return self._iter_items(urls.sync_rejects_path(sync_uri), deadline=deadline)

    def get_sync_data(self, sync_uri: str, *, offset: int, limit: int) -> dict[str, Any]:
        """One page of an export sync's rows, ``GET /syncs/{id}/data?offset=&limit=`` (Oracle advises
        the sync's data over the definition's): ``{"items", "hasMore", "totalResults", ...}``.

        The page is decoded with msgspec (a page holds up to 50,000 rows). A 404 or 410 means the
        sync or its data is gone (expired, deleted).
        """
        path = urls.sync_data_path(sync_uri)
        response = self._call("GET", path, params={"offset": offset, "limit": limit}, decode=False)
        try:
            page = _decode_page(response.content)
        except msgspec.DecodeError as exc:
            raise EloquaError(f"Eloqua answered GET {path} with a body that is not JSON: {exc}") from None
        if not isinstance(page, dict):
            raise EloquaError(f"Eloqua answered GET {path} with {type(page).__name__} instead of a page of items")
        return page

    def find_syncs(self, synced_instance_uri: str, since: datetime) -> list[dict[str, Any]]:
        """The syncs of one definition created at or after ``since``, newest first.

        Used to recover a sync whose creation answer was lost. Eloqua is asked for that definition's
        syncs newest first (``q=syncedInstanceUri='…'``, ``orderBy=createdAt DESC``, both documented
        on ``GET /syncs``); the listing stops at an older sync once the answer has shown that order
        (every sync so far no newer than the one before it). A server that refuses the search is
        asked with less (see ``_iter_searched``), and every item is checked here, so a looser answer
        costs pages, never a wrong or missed sync.
        """
        criterion = urls.search_criterion("syncedInstanceUri", synced_instance_uri)
        searches = ({"q": criterion, "orderBy": urls.NEWEST_FIRST}, {"orderBy": urls.NEWEST_FIRST})
        found: list[tuple[datetime, dict[str, Any]]] = []
        previous: datetime | None = None
        in_order = True
        for sync in self._iter_searched(urls.SYNCS_PATH, *searches):
            created = _parse_time(sync.get("createdAt"))
            if created is None:
                continue
            if previous is not None:
                in_order = in_order and created <= previous
                if in_order and created < since:
                    break  # newest first, as asked: every sync after this one is older still
            previous = created
            if created >= since and sync.get("syncedInstanceUri") == synced_instance_uri:
                found.append((created, sync))
        return [sync for _, sync in sorted(found, key=lambda pair: pair[0], reverse=True)]

    # ------------------------------------------------------------------ connection test

    def test_connection(self) -> tuple[bool, str]:
        """Authenticate, discover the pod and make one cheap Bulk call (a one-item definitions list).

        A failure says which setting to fix: the login URL (extra ``login_url``) when the token
        endpoint or ``/id`` cannot be reached or is not Eloqua's, the Host (Bulk API base URL) when
        the Bulk API cannot be reached or answers 404 there, the credentials when they are refused.
        """
        try:
            self._call("GET", urls.imports_path("contacts"), params={"limit": 1})
        except Exception as exc:  # the UI shows the message; it never carries a secret
            return False, self._what_to_fix(exc)
        return True, f"Connected to Eloqua site {self.settings.site or '?'} at {self.base_url}"

    def _what_to_fix(self, exc: Exception) -> str:
        """The Test Connection message for a failure: what failed, and the setting to fix."""
        path = getattr(exc, "path", None)
        if path is None or isinstance(exc, EloquaAuthError | EloquaProxyError):
            return str(exc)  # settings, credentials and the proxy name their fix already
        settings = self.settings
        if path in ("/id", TOKEN_PATH):
            where = (
                f"The login URL {settings.login_url} (extra login_url"
                + ("" if settings.login_url != urls.DEFAULT_LOGIN_URL else ", the default when empty")
                + ")"
            )
            if isinstance(exc, EloquaTransportError):
                return (
                    f"{where} could not be reached ({exc.reason} on {path}). Check the login URL "
                    "(https://login.eloqua.com for Eloqua; the emulator's root URL for the emulator) and that "
                    "this machine can reach it, directly or through proxy_url"
                )
            return f"{where} did not answer as Eloqua's login host: {exc}. Check the login URL"
        if settings.base_url:
            where = f"The Bulk API base URL {settings.base_url} (the connection's Host)"
            fix = "Check the Host, or leave it empty to discover the site's pod from the login URL"
        else:
            where = f"The Bulk API base URL {self.base_url}, which {settings.login_url}/id named,"
            fix = "Check that this machine can reach the site's pod, or set the Host to its Bulk API base URL"
        if isinstance(exc, EloquaTransportError):
            return f"{where} could not be reached ({exc.reason} on {path}). {fix}"
        if isinstance(exc, EloquaApiError) and exc.status == 404:
            return f"{where} answered 404 to GET {path}: it is not a Bulk API 2.0 base URL. {fix}"
        return str(exc)

    # ------------------------------------------------------------------ async (triggers)
    # The trigger runs in the triggerer's event loop: nothing below may block it. The logic mirrors
    # the sync path and reuses its pieces (grants, error shaping, retry policy, URLs).

    async def _aprepare(self) -> httpx.AsyncClient:
        """The session's client on this loop; the first call makes this hook one of its holders."""
        if "settings" not in self.__dict__:
            conn, extra = await shared_lookup(self.eloqua_conn_id, self._alookup)
            self.__dict__["settings"] = settings_from_connection(conn, self.request_timeout, extra=extra)
        site = self._site_session()
        if self._holding:
            return await site.client()
        client = await site.acquire()
        self._holding = True
        return client

    async def _alookup(self) -> tuple[Any, dict[str, Any]]:
        """The connection and its decoded extra, its secrets masked (shared by concurrent hooks)."""
        from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

        conn = await get_async_connection(self.eloqua_conn_id, hook=self)
        # extra_dejson would mask the extra's secrets with a synchronous supervisor call.
        extra = await get_async_extra_dejson(conn)
        for secret in settings_from_connection(conn, None, extra=extra).secrets():
            await amask(secret)
        return conn, extra

    async def aclose(self) -> None:
        """Let go of the shared client: the last holder on the loop closes it; pod and tokens stay."""
        if self._holding:
            self._holding = False
            await self._site_session().release()

    async def _asend(
        self,
        method: str,
        url: str,
        path: str,
        *,
        headers: dict[str, str],
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        idempotent: bool = True,
        gated: bool = True,
        deadline: float | None = None,
    ) -> httpx.Response:
        """``_send`` for the event loop. ``gated=False`` is for the rare auth requests (a grant, ``/id``)
        that everyone is waiting for: they skip the session's queue of status requests."""
        client = await self._aprepare()
        gate = self._site_session().gate() if gated else contextlib.nullcontext()
        async for attempt in self.retry_policy.async_retrying(idempotent=idempotent, deadline=deadline):
            with attempt:
                try:
                    async with gate:
                        response = await client.request(
                            method, url, headers=headers, content=content, params=params, timeout=self._atimeout
                        )
                except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                    raise EloquaTransportError(method, path, type(exc).__name__, connect_phase=True) from exc
                except httpx.TimeoutException as exc:
                    raise EloquaTransportError(method, path, f"timeout ({type(exc).__name__})") from exc
                except httpx.ProxyError as exc:
                    raise _proxy_error(method, path, exc) from exc
                except httpx.TransportError as exc:
                    raise EloquaTransportError(method, path, f"connection error ({type(exc).__name__})") from exc
                _raise_if_redirect_or_transient(method, path, response.status_code, response.headers, response.content)
                return response
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    @cached_property
    def _atimeout(self) -> httpx.Timeout:
        """This hook's timeouts, sent with each request (the client is shared by hooks that differ)."""
        connect, read = self.settings.timeouts
        return httpx.Timeout(read, connect=connect)

    async def _asend_grant(self, request: GrantRequest) -> httpx.Response:
        # A grant skips the queue of status requests: every waiter needs it first.
        return await self._asend(
            "POST",
            request.url,
            TOKEN_PATH,
            headers=request.headers,
            content=request.body,
            idempotent=False,
            gated=False,
        )

    async def _aauth(self, stale: int | None = None) -> tuple[str, int | None]:
        """``_auth`` for the event loop: one grant at a time for every hook of the session."""
        return await self._grants.aheader(self._site_session(), self._asend_grant, stale)

    async def _abulk_base(self, stale: int | None = None, *, renew_on_401: bool = True) -> tuple[str, int | None]:
        """``_bulk_base`` for the event loop: one discovery at a time for every hook of the session."""
        if self.settings.base_url:
            return self.settings.base_url, None
        return await self._site_session().base_url.aget(
            lambda: self._adiscover_base_url(renew_on_401=renew_on_401), stale
        )

    async def _acall(
        self,
        method: str,
        path: str,
        *,
        url: str | None = None,
        renew_on_401: bool = True,
        deadline: float | None = None,
    ) -> Any:
        await self._aprepare()
        renewed = not renew_on_401
        stale_token = stale_base = None
        while True:
            auth, token_generation = await self._aauth(stale_token)
            base_generation = None
            if url is None:
                base, base_generation = await self._abulk_base(stale_base, renew_on_401=not renewed)
            target = url or base + path
            response = await self._asend(
                method, target, path, headers={"Authorization": auth}, gated=url is None, deadline=deadline
            )
            if self._renew_after_401(method, path, url, response, renewed):
                renewed = True
                stale_token, stale_base = token_generation, base_generation
                continue
            return _answer(method, path, response, url)

    async def _adiscover_base_url(self, *, renew_on_401: bool = True) -> str:
        body = await self._acall("GET", "/id", url=urls.id_url(self.settings.login_url), renew_on_401=renew_on_401)
        if not isinstance(body, dict):
            raise EloquaError(f"Eloqua /id answered {body!r} instead of a site description")
        return urls.require_safe_url(urls.bulk_base_from_discovery(body), "discovered Bulk API base URL")

    async def aget_sync(self, sync_uri: str, *, deadline: float | None = None) -> dict[str, Any]:
        """Read a sync without blocking the event loop (for the deferrable trigger); ``deadline`` as
        for :meth:`get_sync`."""
        return await self._acall("GET", urls.check_sync_uri(sync_uri), deadline=deadline)


def _parse_time(value: Any) -> datetime | None:
    """An Eloqua timestamp (ISO-8601, e.g. ``2026-11-29T15:04:05.123Z``) as an aware datetime; None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _connection_reason(exc: requests.exceptions.ConnectionError) -> str:
    reason = exc.args[0] if exc.args else exc
    inner = getattr(reason, "reason", None) or reason
    return f"connection error ({type(inner).__name__})"


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """True for failures before the request could reach the server (refused, DNS, no route)."""
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    reason = exc.args[0] if exc.args else None
    inner = getattr(reason, "reason", None)
    return isinstance(inner, NewConnectionError | NameResolutionError) or isinstance(
        reason, NewConnectionError | NameResolutionError
    )
