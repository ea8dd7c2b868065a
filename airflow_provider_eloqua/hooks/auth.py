"""Eloqua authentication: the basic header, the OAuth2 grants and the refresh-token store.

Why a module of its own: the hook has two ways to send a request (``requests`` in worker threads,
``httpx`` on the triggerer's event loop) but one set of decisions about credentials: which grant to
ask for, when a refused refresh token may be retried (with the token store's newer one, or with the
password grant), what to keep from the answer. Those decisions live once, in :meth:`OAuthGrants.steps`,
a generator that yields what it needs done (a token request, a read of the token store) and never
does I/O itself; :meth:`OAuthGrants.obtain` and :meth:`OAuthGrants.aobtain` only carry out its steps,
the first blocking, the second without blocking the loop. The hook passes in how to send.

Secrets: every token is masked as soon as it is known, and no error, log line or repr here carries
one (``EloquaAuthError`` gets the OAuth error code and description, never the request).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests
from asgiref.sync import sync_to_async

from airflow_provider_eloqua import urls
from airflow_provider_eloqua.content import JSON_CONTENT_TYPE
from airflow_provider_eloqua.exceptions import EloquaAuthError
from airflow_provider_eloqua.hooks.session import SiteSession, TokenState
from airflow_provider_eloqua.settings import EloquaSettings

TOKEN_PATH = "/auth/oauth2/token"  # noqa: S105 - a URL path, not a secret

AUTH_HINT = (
    "Check the user and password (changed or rotated?), the site name, the OAuth client and tokens, "
    "the site's IP allow-list, and that the user is enabled; not retried"
)


def mask(value: str | None) -> None:
    """Tell Airflow's log masker about a secret (no-op for an empty value)."""
    if not value:
        return
    from airflow.sdk.log import mask_secret

    mask_secret(value)


async def amask(value: str | None) -> None:
    """``mask`` for the event loop: the triggerer's supervisor is told without a blocking send."""
    if not value:
        return
    from airflow.sdk.log import amask_secret

    await amask_secret(value)


def in_task_context() -> bool:
    """True inside a task or the triggerer, where the Task SDK talks to a supervisor."""
    from airflow.sdk.execution_time import task_runner

    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


def read_token_store(name: str | None) -> str | None:
    """The refresh token kept in the Airflow Variable ``name`` (None without a store), masked.

    :param name: the connection's ``token_store_variable``, or None.
    """
    if not name:
        return None
    if in_task_context():
        from airflow.sdk import Variable

        token = Variable.get(name, default=None)
    else:
        # Outside a task (UI/CLI connection test, scripts) the Task SDK cannot read metadata-DB
        # Variables: read it directly, as write_token_store writes it.
        from airflow.models import Variable as CoreVariable

        token = CoreVariable.get(name, default_var=None)
    mask(token)
    return token


def write_token_store(name: str | None, token: str) -> None:
    """Keep the newest refresh token in the Airflow Variable ``name`` (nothing without a store).

    :param name: the connection's ``token_store_variable``, or None.
    :param token: the rotated refresh token Eloqua just issued (already masked).
    """
    if not name:
        return
    description = "Newest Eloqua OAuth refresh token (rotates on use)"
    if in_task_context():
        from airflow.sdk import Variable

        Variable.set(name, token, description=description)
    else:
        # The UI/CLI connection test and scripts run outside a task, where the Task SDK cannot
        # write a Variable; the old refresh token is already spent, so the new one must be kept.
        from airflow.models import Variable as CoreVariable

        CoreVariable.set(name, token, description=description)


def _decode_json(content: bytes, content_type: str | None) -> Any:
    if content and content_type and "json" in content_type:
        try:
            return json.loads(content)
        except ValueError:
            return None
    return None


def token_refusal(grant: dict[str, str], status: int, headers: Any, content: bytes) -> EloquaAuthError | None:
    """The error for a refused grant, or None when the token endpoint issued tokens.

    :param grant: the grant that was asked for (only its ``grant_type`` reaches the error).
    :param status: the token endpoint's HTTP status.
    :param headers: its headers.
    :param content: its body (only the OAuth ``error`` and ``error_description`` reach the error).
    """
    if status < 400:
        return None
    parsed = _decode_json(content, headers.get("content-type"))
    description = None
    if isinstance(parsed, dict):
        description = f"{parsed.get('error')}: {parsed.get('error_description')}"
    return EloquaAuthError(
        "POST", TOKEN_PATH, status, description, hint=f"The {grant['grant_type']} grant was refused. {AUTH_HINT}"
    )


#: An HTTP answer: the drivers need its status, headers and body, whichever client sent it.
Answer = requests.Response | httpx.Response


@dataclass(frozen=True)
class GrantRequest:
    """One token request to send: a step of :meth:`OAuthGrants.steps`. Its repr shows no secret."""

    grant: dict[str, str] = field(repr=False)
    url: str
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)


class ReadStore:
    """A step of :meth:`OAuthGrants.steps`: read the token store once more (another task may have rotated it)."""


@dataclass(frozen=True)
class Done:
    """The end of :meth:`OAuthGrants.steps`: tokens were issued; ``rotated`` is the new refresh token, if any."""

    rotated: str | None = field(repr=False)


#: What the grant steps ask for: a request to send (answered with the response) or a store read
#: (answered with the stored refresh token or None); they return the rotated refresh token, if any.
GrantSteps = Generator[GrantRequest | ReadStore, Any, str | None]


def _advance(steps: GrantSteps, result: Any) -> GrantRequest | ReadStore | Done:
    """Send a step's result into the token loop; its next step, or ``Done`` when it has finished."""
    try:
        return steps.send(result)
    except StopIteration as finished:
        return Done(finished.value)


class OAuthGrants:
    """The credentials of one connection: the Authorization header, and the grants behind a bearer token.

    :param settings: the connection's settings (auth type, client, user/password, refresh token, store).
    :param log: the hook's logger, so auth messages appear under the hook's name.
    """

    def __init__(self, settings: EloquaSettings, log: logging.Logger | Any) -> None:
        self.settings = settings
        self.log = log

    def __repr__(self) -> str:
        return f"OAuthGrants(site={self.settings.site!r}, auth_type={self.settings.auth_type!r})"

    # ------------------------------------------------------------------ decisions (no I/O)

    def request_body(self, tokens: TokenState) -> dict[str, str]:
        """The grant to ask for.

        With a user and password the first token comes from the password grant (nothing to keep
        between runs); later renewals in the same hook use the refresh token that answer carried.
        Without a password, the refresh-token grant uses the stored or configured refresh token.

        :param tokens: the session's tokens.
        """
        s = self.settings
        if tokens.refresh_token and (tokens.issued_here or not s.has_password_grant):
            grant = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token, "scope": "full"}
            if s.redirect_uri:
                grant["redirect_uri"] = s.redirect_uri  # must match the app's registered redirect URI
            return grant
        if not s.has_password_grant:
            raise EloquaAuthError(
                "POST", TOKEN_PATH, 401, None, hint="no refresh token and no user/password to obtain one"
            )
        password = s.password or ""  # has_password_grant: set
        return {"grant_type": "password", "scope": "full", "username": s.site_user, "password": password}

    @staticmethod
    def accept_answer(tokens: TokenState, answer: dict[str, Any]) -> str | None:
        """Keep the new access token and the rotated refresh token; return the latter if it changed.

        The caller masks both (``mask`` or, on the event loop, ``amask``).

        :param tokens: the session's tokens, updated in place.
        :param answer: the token endpoint's decoded answer.
        """
        access = answer.get("access_token")
        if not access:
            raise EloquaAuthError("POST", TOKEN_PATH, 401, None, hint="the token answer had no access_token")
        tokens.access_token = access
        new_refresh = answer.get("refresh_token")
        if new_refresh and new_refresh != tokens.refresh_token:
            tokens.refresh_token = new_refresh
            tokens.issued_here = True
            return new_refresh
        return None

    def _retry_after_refusal(self, tokens: TokenState, refused: dict[str, str], stored: str | None) -> bool:
        """After a refused grant: True to ask again, with the store's newer refresh token or the password grant.

        ``stored`` is the token store's value re-read after the refusal (None when not re-read). Another
        task sharing the store may have rotated the token this hook still held: then the store has the
        newer one.
        """
        if refused["grant_type"] != "refresh_token":
            return False
        if stored and stored != refused["refresh_token"]:
            self.log.info("Eloqua refused the refresh token; retrying once with the newer one in the token store")
            tokens.refresh_token = stored
            return True
        if not self.settings.has_password_grant:
            return False
        self.log.warning("Eloqua refused the refresh token; obtaining a new token with the password grant")
        tokens.refresh_token = None
        tokens.issued_here = False
        return True

    def steps(self, tokens: TokenState) -> GrantSteps:
        """The token loop, shared by the sync and async drivers: yields each step, gets its result sent back.

        A refused refresh token is retried once with a newer one from the token store (read again
        once), else with the password grant when the connection has one; any other refusal raises.

        :param tokens: the session's tokens, updated in place.
        """
        reread = False
        while True:
            grant = self.request_body(tokens)
            headers = {"Authorization": self.settings.client_basic_header(), "Content-Type": JSON_CONTENT_TYPE}
            request = GrantRequest(grant, urls.token_url(self.settings.login_url), headers, json.dumps(grant).encode())
            response: Answer = yield request
            refusal = token_refusal(grant, response.status_code, response.headers, response.content)
            if refusal is None:
                return self.accept_answer(tokens, json.loads(response.content))
            stored = None
            if grant["grant_type"] == "refresh_token" and self.settings.token_store_variable and not reread:
                reread = True
                stored = yield ReadStore()
            if not self._retry_after_refusal(tokens, grant, stored):
                raise refusal

    # ------------------------------------------------------------------ drivers

    def obtain(self, tokens: TokenState, send: Callable[[GrantRequest], Answer]) -> None:
        """Run the token loop in this thread.

        :param tokens: the session's tokens, updated in place.
        :param send: sends a token request (with the hook's retry policy) and returns the answer.
        """
        steps = self.steps(tokens)
        step = _advance(steps, None)
        while not isinstance(step, Done):
            store = self.settings.token_store_variable
            step = _advance(steps, send(step) if isinstance(step, GrantRequest) else read_token_store(store))
        rotated = step.rotated
        mask(tokens.access_token)
        if rotated:
            mask(rotated)
            write_token_store(self.settings.token_store_variable, rotated)

    async def aobtain(self, tokens: TokenState, send: Callable[[GrantRequest], Awaitable[Answer]]) -> None:
        """``obtain`` for the event loop: the same steps; the token store is used in a worker thread.

        :param tokens: the session's tokens, updated in place.
        :param send: sends a token request without blocking the loop and returns the answer.
        """
        steps = self.steps(tokens)
        step = _advance(steps, None)
        while not isinstance(step, Done):
            if isinstance(step, GrantRequest):
                step = _advance(steps, await send(step))
            else:
                step = _advance(steps, await sync_to_async(read_token_store)(self.settings.token_store_variable))
        rotated = step.rotated
        await amask(tokens.access_token)
        if rotated:
            await amask(rotated)
            await sync_to_async(write_token_store)(self.settings.token_store_variable, rotated)

    def _initial_tokens(self, site: SiteSession, stored: str | None) -> TokenState:
        if site.tokens is None:
            site.tokens = TokenState(stored or self.settings.refresh_token)
        site.tokens.access_token = None
        return site.tokens

    def header(
        self, site: SiteSession, send: Callable[[GrantRequest], Answer], stale: int | None = None
    ) -> tuple[str, int | None]:
        """The Authorization header and the generation of the token in it (None for basic auth).

        One grant at a time for every hook of the session (its single flight).

        :param site: the hook's shared session (its tokens and access-token flight).
        :param send: sends a token request, as for ``obtain``.
        :param stale: the generation of a token Eloqua answered 401 to: a newer one is used.
        """
        if self.settings.auth_type == "basic":
            return self.settings.basic_header(), None

        def produce() -> str:
            stored = read_token_store(self.settings.token_store_variable) if site.tokens is None else None
            tokens = self._initial_tokens(site, stored)
            self.obtain(tokens, send)
            return str(tokens.access_token)

        token, generation = site.access_token.get(produce, stale)
        return f"Bearer {token}", generation

    async def aheader(
        self, site: SiteSession, send: Callable[[GrantRequest], Awaitable[Answer]], stale: int | None = None
    ) -> tuple[str, int | None]:
        """``header`` for the event loop: one grant at a time for every hook of the session.

        :param site: the hook's shared session (its tokens and access-token flight).
        :param send: sends a token request without blocking the loop, as for ``aobtain``.
        :param stale: the generation of a token Eloqua answered 401 to: a newer one is used.
        """
        if self.settings.auth_type == "basic":
            return self.settings.basic_header(), None

        async def produce() -> str:
            stored = None
            if site.tokens is None:
                stored = await sync_to_async(read_token_store)(self.settings.token_store_variable)
            tokens = self._initial_tokens(site, stored)
            await self.aobtain(tokens, send)
            return str(tokens.access_token)

        token, generation = await site.access_token.aget(produce, stale)
        return f"Bearer {token}", generation
