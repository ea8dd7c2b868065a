"""Connection settings: one parse of an Airflow ``eloqua`` connection, shared by the hook and the trigger.

Secrets are kept out of ``repr`` so a settings object can be logged or shown in a traceback safely.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.retry import RetryPolicy
from airflow_provider_eloqua.urls import DEFAULT_LOGIN_URL, bulk_base_from_host, require_safe_url

AUTH_TYPES = ("basic", "oauth2")
DEFAULT_TIMEOUT = 60.0
#: Connect timeout is kept short: an unreachable pod should fail fast and be retried.
CONNECT_TIMEOUT = 10.0


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise EloquaInputError(f"connection extra {name!r} must be true or false; got {value!r}")


def _verify_setting(conn_id: str, value: Any) -> bool | str:
    """``verify_tls``: true/false, or the path of a PEM CA bundle (a corporate CA) to verify against."""
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip()
    if not text:
        return True
    try:
        return _as_bool(text, "verify_tls")
    except EloquaInputError:
        pass
    if os.path.isfile(os.path.expanduser(text)):
        return os.path.expanduser(text)
    raise EloquaInputError(
        f"connection {conn_id!r}: extra 'verify_tls' must be true, false or the path of a PEM CA bundle file; "
        f"got {value!r}, which is neither a boolean nor an existing file"
    )


def task_http_settings(
    request_timeout: float | None, http_retry_policy: dict[str, Any] | None
) -> tuple[float | None, dict[str, Any]]:
    """A task's own ``request_timeout`` and ``http_retry_policy``, checked when the task is defined
    (a bad one fails the DAG file, naming the argument, before anything is sent to Eloqua); the
    policy as plain JSON types, as the trigger carries it."""
    if request_timeout is not None and (
        isinstance(request_timeout, bool)
        or not isinstance(request_timeout, int | float)
        or not 0 < request_timeout <= 3600
    ):
        raise EloquaInputError(f"request_timeout must be seconds in (0, 3600], or None; got {request_timeout!r}")
    policy = RetryPolicy.from_setting(http_retry_policy, "http_retry_policy").to_dict()
    return (None if request_timeout is None else float(request_timeout)), policy


PROXY_SCHEMES = ("http", "https")


def _redacted(url: str) -> str:
    """``url`` with anything that may be credentials (all before the last ``@``, after any
    ``scheme://``) replaced, for error text. Textual, not parsed: a mistyped URL (``user:pw@host``
    without a scheme, ``http//...``) must not show its password either."""
    if "@" not in url:
        return url
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    return f"{scheme}{sep}***@{rest.rsplit('@', 1)[1]}"


def _proxy_setting(conn_id: str, value: Any) -> str | None:
    """``proxy_url``: the HTTP(S) forward proxy every request goes through, or None to connect directly.

    Checked here, once, so a typo fails before any request instead of as a connection error that is
    retried; the error shows the URL without its credentials.
    """
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    problem = None
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in 0-65535
    except ValueError as exc:
        problem = str(exc)
    else:
        if parts.scheme.lower() not in PROXY_SCHEMES:
            problem = "the scheme must be http or https (SOCKS is not supported)"
        elif not parts.hostname:
            problem = "it has no host"
        elif parts.path not in ("", "/") or parts.query or parts.fragment:
            problem = "it must be scheme://[user:password@]host[:port] with no path"
    if problem:
        raise EloquaInputError(
            f"connection {conn_id!r}: extra 'proxy_url' must look like http://proxy.example.com:3128; "
            f"got {_redacted(text)!r}: {problem}"
        )
    return text.rstrip("/")


@dataclass(frozen=True)
class EloquaSettings:
    """What the hook needs to talk to one Eloqua site."""

    site: str
    user: str
    password: str | None = field(default=None, repr=False)
    auth_type: str = "basic"
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    token_store_variable: str | None = None
    #: The OAuth app's registered redirect URI, sent with the refresh-token grant when set.
    redirect_uri: str | None = None
    login_url: str = DEFAULT_LOGIN_URL
    base_url: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    #: True/False, or the path of a PEM CA bundle to verify Eloqua's certificate against.
    verify_tls: bool | str = True
    #: The forward proxy for every request (``http://[user:password@]host:port``), or None: direct.
    #: Out of the repr: it may carry the proxy's credentials.
    proxy_url: str | None = field(default=None, repr=False)

    @property
    def has_password_grant(self) -> bool:
        return bool(self.site and self.user and self.password)

    @property
    def site_user(self) -> str:
        return f"{self.site}\\{self.user}"

    def _user_credentials(self) -> str:
        return base64.b64encode(f"{self.site_user}:{self.password}".encode()).decode("ascii")

    def _client_credentials(self) -> str:
        return base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode("ascii")

    def basic_header(self) -> str:
        return "Basic " + self._user_credentials()

    def client_basic_header(self) -> str:
        return "Basic " + self._client_credentials()

    def secrets(self) -> list[str]:
        """Every secret value, for the secret masker and for tests that grep for leaks: the secrets
        themselves and the Basic credentials that carry them (base64 hides nothing)."""
        encoded = [
            self._user_credentials() if self.password else "",
            self._client_credentials() if self.client_secret else "",
        ]
        found = (self.password, self.client_secret, self.refresh_token, *encoded, *self._proxy_secrets())
        return [s for s in found if s]

    def _proxy_secrets(self) -> list[str]:
        """The proxy's password as written (percent-encoded) and decoded, and the Proxy-Authorization
        credentials both clients derive from it; for a URL with a user name only, that name."""
        if not self.proxy_url:
            return []
        parts = urlsplit(self.proxy_url)
        if parts.username is None:
            return []
        if parts.password is None:  # a token as the user name: that is the secret
            return [s for s in dict.fromkeys((parts.username, unquote(parts.username))) if s]
        user, password = unquote(parts.username), unquote(parts.password)
        proxy_basic = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return [s for s in dict.fromkeys((parts.password, password, proxy_basic)) if s]

    @property
    def timeouts(self) -> tuple[float, float]:
        return (min(CONNECT_TIMEOUT, self.timeout), self.timeout)


def _safe_url(conn_id: str, url: str, what: str) -> str:
    try:
        return require_safe_url(url, what)
    except ValueError as exc:
        raise EloquaInputError(f"connection {conn_id!r}: {exc}") from None


def settings_from_connection(
    conn: Any, timeout: float | None = None, *, extra: dict[str, Any] | None = None
) -> EloquaSettings:
    """Build settings from an Airflow Connection; raise EloquaInputError naming the bad setting.

    ``extra``: the connection's extra, already decoded (the async path decodes it without blocking).
    """
    conn_id = getattr(conn, "conn_id", None) or "?"
    extra = dict(extra if extra is not None else conn.extra_dejson or {})
    login = (conn.login or "").strip()
    site = (extra.get("site") or "").strip()
    if "\\" in login:
        login_site, login = login.split("\\", 1)
        site = site or login_site
    auth_type = (extra.get("auth_type") or "basic").strip().lower()
    if auth_type not in AUTH_TYPES:
        raise EloquaInputError(f"connection {conn_id!r}: extra 'auth_type' must be basic or oauth2; got {auth_type!r}")
    refresh_token = extra.get("refresh_token") or None
    token_store_variable = extra.get("token_store_variable") or None
    if auth_type == "basic":
        missing = [n for n, v in (("site", site), ("login", login), ("password", conn.password)) if not v]
    else:
        missing = [n for n in ("client_id", "client_secret") if not extra.get(n)]
        has_password_grant = bool(site and login and conn.password)
        if not (has_password_grant or refresh_token or token_store_variable):
            missing.append("login/password (password grant) or refresh_token")
        elif not has_password_grant and not token_store_variable:
            # Eloqua refresh tokens are single use: without somewhere to keep the rotated one, the
            # next task (or the triggerer) would present a spent token and fail.
            missing.append("token_store_variable (refresh tokens rotate on every use; or give login/password)")
    if missing:
        raise EloquaInputError(f"connection {conn_id!r} ({auth_type} auth) is missing: {', '.join(missing)}")
    login_url = _safe_url(conn_id, (extra.get("login_url") or DEFAULT_LOGIN_URL).rstrip("/"), "login_url")
    base_url = None
    if conn.host:
        base_url = _safe_url(conn_id, bulk_base_from_host(conn.host), "connection host (Bulk API base URL)")
    raw_timeout = timeout if timeout is not None else extra.get("timeout")
    if raw_timeout is None or raw_timeout == "":
        raw_timeout = DEFAULT_TIMEOUT
    try:
        timeout_s = float(raw_timeout)
    except (TypeError, ValueError):
        raise EloquaInputError(f"connection {conn_id!r}: 'timeout' must be a number of seconds") from None
    if not 0 < timeout_s <= 3600:
        raise EloquaInputError(f"connection {conn_id!r}: 'timeout' must be in (0, 3600] seconds; got {timeout_s}")
    verify = _verify_setting(conn_id, extra.get("verify_tls", True))
    proxy_url = _proxy_setting(conn_id, extra.get("proxy_url"))
    return EloquaSettings(
        site=site,
        user=login,
        password=conn.password or None,
        auth_type=auth_type,
        client_id=extra.get("client_id") or None,
        client_secret=extra.get("client_secret") or None,
        refresh_token=refresh_token,
        token_store_variable=token_store_variable,
        redirect_uri=(extra.get("redirect_uri") or "").strip() or None,
        login_url=login_url,
        base_url=base_url,
        timeout=timeout_s,
        verify_tls=verify,
        proxy_url=proxy_url,
    )
