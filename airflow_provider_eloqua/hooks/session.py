"""One shared session per Eloqua connection per process: HTTP clients, pod discovery and OAuth tokens.

Every hook of the same connection in the same process shares one :class:`SiteSession` (why:
docs/internals.md, "One session per connection per process"):

* one ``requests.Session`` (worker threads) and, per event loop, one ``httpx.AsyncClient`` with a
  small bounded pool whose idle connections are kept longer than any sensible poll interval;
* one discovered Bulk API base URL and one OAuth token set (access token, rotated refresh token).

The base URL and the access token are :class:`Shared` values, produced by one caller at a time
("single flight") and renewed once for everyone: a caller that got a 401 with the value of
generation ``g`` asks for a value newer than ``g``. The first such caller renews; every other
caller that saw ``g`` fails gets the renewed value (or the renewal's error) without another
request. On the event loop the renewal runs in its own task, shielded from the callers, so a
cancelled trigger never leaves a refresh grant half done (its rotated token lost) or a lock held.

The key is the connection id plus everything that changes credentials or the endpoint, so a
changed connection gets a fresh session instead of a stale token or pod. Request timeouts and
retry policies stay per hook: they are passed with each request.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import fields
from typing import Any, TypeVar

import httpx
import requests
from requests.adapters import HTTPAdapter

from airflow_provider_eloqua import __version__
from airflow_provider_eloqua.content import JSON_CONTENT_TYPE
from airflow_provider_eloqua.settings import EloquaSettings

USER_AGENT = f"airflow-provider-eloqua/{__version__}"
#: TCP connections one session keeps to Eloqua (per event loop, and for the worker's threads).
#: Status polls are small and quick: ten connections serve a thousand waits polling together.
POOL_CONNECTIONS = 10
#: Idle connections are kept this long, longer than any sensible poll interval, so a poll reuses
#: the connection (and TLS session) of the previous one. A connection the server closed in the
#: meantime is noticed before reuse and replaced.
KEEPALIVE_SECONDS = 300.0


class TokenState:
    """OAuth tokens of one session: the access token and the newest (rotated) refresh token."""

    def __init__(self, refresh_token: str | None) -> None:
        self.access_token: str | None = None
        self.refresh_token = refresh_token
        #: True once Eloqua gave this session a refresh token (as opposed to one read from settings).
        self.issued_here = False


class Shared:
    """A value every hook of a session uses, produced by one caller at a time and renewed once for all.

    ``generation`` counts productions. Callers remember the generation of the value they used; after
    a 401 they ask for a value newer than it, so a burst of 401s for the same value renews it once.
    Threads single-flight through a lock (``get``), an event loop through a task (``aget``); a worker
    using both at the same moment could produce twice, which costs one grant, never a wrong value.
    """

    def __init__(self) -> None:
        self.value: str | None = None
        self.generation = 0
        self.failure: Exception | None = None
        self._lock = threading.Lock()
        self._task: asyncio.Task[tuple[str, int]] | None = None

    def _ready(self, stale: int | None) -> tuple[str, int] | None:
        """The value to use, or None when it must be produced; raises the failure a newer production met."""
        if stale is None or self.generation > stale:
            if self.value is not None:
                return self.value, self.generation
            if stale is not None and self.failure is not None:
                raise self.failure.with_traceback(None)
        return None

    def _start(self) -> int:
        self.generation += 1
        self.value = None
        self.failure = None
        return self.generation

    def _finish(self, generation: int, value: str | None, failure: BaseException | None) -> None:
        if generation != self.generation:  # a newer production replaced this one
            return
        if isinstance(failure, Exception):
            self.failure = failure
        elif failure is None:
            self.value = value

    def get(self, produce: Callable[[], str], stale: int | None = None) -> tuple[str, int]:
        """The value and its generation (thread-safe), producing it if missing or not newer than ``stale``.

        :param produce: makes the value (sends the request); runs under this value's lock.
        :param stale: the generation a 401 was answered to, or None for any current value.
        """
        ready = self._ready(stale)
        if ready is not None:
            return ready
        with self._lock:
            ready = self._ready(stale)
            if ready is not None:
                return ready
            generation = self._start()
            try:
                value = produce()
            except BaseException as exc:
                self._finish(generation, None, exc)
                raise
            self._finish(generation, value, None)
            return value, generation

    async def aget(self, produce: Callable[[], Awaitable[str]], stale: int | None = None) -> tuple[str, int]:
        """``get`` for the event loop: the production runs in its own task, shielded from the callers.

        :param produce: makes the value without blocking the loop.
        :param stale: the generation a 401 was answered to, or None for any current value.
        """
        loop = asyncio.get_running_loop()
        while True:
            ready = self._ready(stale)
            if ready is not None:
                return ready
            task = self._task
            if task is not None and not task.done() and task.get_loop() is loop:
                # Someone is producing it: wait for that (a cancelled waiter leaves it running).
                return await asyncio.shield(task)
            generation = self._start()
            self._task = loop.create_task(self._produce(produce, generation))
            self._task.add_done_callback(_consume_exception)

    async def _produce(self, produce: Callable[[], Awaitable[str]], generation: int) -> tuple[str, int]:
        try:
            value = await produce()
        except BaseException as exc:
            self._finish(generation, None, exc)
            raise
        self._finish(generation, value, None)
        return value, generation


def _consume_exception(task: asyncio.Task) -> None:
    """Every waiter may be gone when a production fails: mark its exception as seen, never "lost"."""
    if not task.cancelled():
        task.exception()


class _LoopClient:
    """The ``httpx.AsyncClient`` of one session on one event loop (a client is bound to its loop)."""

    def __init__(self) -> None:
        self.client: httpx.AsyncClient | None = None
        self.building: asyncio.Task[httpx.AsyncClient] | None = None
        self.holders = 0
        #: Admits as many requests into the client as it has connections. httpcore's pool re-scans
        #: every queued request whenever a connection frees up, so a thousand requests queued inside
        #: it cost quadratic CPU (seconds per round of polls, blocking the loop); queued here, in a
        #: FIFO semaphore, each costs O(1).
        self.gate = asyncio.Semaphore(POOL_CONNECTIONS)


class SiteSession:
    """Everything the hooks of one connection share in this process (see the module docstring).

    :param key: the fingerprint of the connection's credentials and endpoint (``session_key``).
    :param settings: the connection's settings (the first hook's; timeouts are passed per request).
    """

    def __init__(self, key: str, settings: EloquaSettings) -> None:
        self.key = key
        self.settings = settings
        self.base_url = Shared()
        self.access_token = Shared()
        #: Set by the first token production (it may read the token store).
        self.tokens: TokenState | None = None
        self._lock = threading.Lock()
        self._requests: requests.Session | None = None
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient] = weakref.WeakKeyDictionary()
        self._closing: set[asyncio.Task] = set()

    def __repr__(self) -> str:
        return f"SiteSession(site={self.settings.site!r}, login_url={self.settings.login_url!r})"

    # ------------------------------------------------------------------ worker threads

    @property
    def requests_session(self) -> requests.Session:
        """The process's ``requests.Session`` for this connection (thread-safe to share)."""
        with self._lock:
            if self._requests is None:
                session = requests.Session()
                adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_CONNECTIONS)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                session.headers.update({"User-Agent": USER_AGENT, "Accept": JSON_CONTENT_TYPE})
                session.verify = self.settings.verify_tls
                # Environment proxies/netrc must not receive or override Eloqua credentials: the
                # only proxy is the connection's own (https through it with CONNECT, verified end to end).
                session.trust_env = False
                if self.settings.proxy_url:
                    session.proxies = {"http": self.settings.proxy_url, "https": self.settings.proxy_url}
                self._requests = session
            return self._requests

    # ------------------------------------------------------------------ event loop

    def _loop_client(self) -> _LoopClient:
        loop = asyncio.get_running_loop()
        part = self._loops.get(loop)
        if part is None:
            part = self._loops[loop] = _LoopClient()
        return part

    async def acquire(self) -> httpx.AsyncClient:
        """This loop's client, built on first use; the caller must ``release`` it once (refcounted)."""
        part = self._loop_client()
        part.holders += 1
        try:
            return await self._aclient(part)
        except BaseException:
            await self.release()
            raise

    async def client(self) -> httpx.AsyncClient:
        """This loop's client for a holder (it is rebuilt if it was closed while idle)."""
        return await self._aclient(self._loop_client())

    def gate(self) -> asyncio.Semaphore:
        """Hold this while a request is in this loop's client: at most ``POOL_CONNECTIONS`` at once."""
        return self._loop_client().gate

    async def _aclient(self, part: _LoopClient) -> httpx.AsyncClient:
        if part.client is not None:
            return part.client
        if part.building is None or part.building.done():
            # Loading the CA bundle blocks for tens of milliseconds: built once, in a worker thread.
            part.building = asyncio.get_running_loop().create_task(asyncio.to_thread(async_client, self.settings))
            part.building.add_done_callback(_consume_exception)
        client = await asyncio.shield(part.building)
        if part.client is None:
            part.client = client
        return part.client

    async def release(self) -> None:
        """One holder is done. The last one closes the loop's client (in a task of its own, so a
        cancelled trigger cannot interrupt it); the pod and tokens are kept for the next hook."""
        part = self._loop_client()
        part.holders = max(0, part.holders - 1)
        if part.holders or part.client is None:
            return
        client, part.client = part.client, None
        closing = asyncio.get_running_loop().create_task(client.aclose())
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)


def async_client(settings: EloquaSettings) -> httpx.AsyncClient:
    """A session's client for one loop; blocking (it loads CA certificates), so built in a worker thread."""
    verify: bool | ssl.SSLContext = (
        ssl.create_default_context(cafile=settings.verify_tls)
        if isinstance(settings.verify_tls, str)
        else settings.verify_tls
    )
    proxy: httpx.Proxy | None = None
    if settings.proxy_url:
        # httpx gives an https proxy no TLS context of its own: it would verify the proxy against
        # certifi whatever ``verify_tls`` says (and load that bundle on the event loop at each
        # connection). The proxy is verified as Eloqua is, and as requests does in the worker.
        https = settings.proxy_url.lower().startswith("https:")
        context = httpx.create_ssl_context(verify=verify, trust_env=False) if https else None  # as the client: no env
        proxy = httpx.Proxy(settings.proxy_url, ssl_context=context)
    return httpx.AsyncClient(
        headers={"User-Agent": USER_AGENT, "Accept": JSON_CONTENT_TYPE},
        timeout=httpx.Timeout(settings.timeout, connect=settings.timeouts[0]),
        limits=httpx.Limits(
            max_connections=POOL_CONNECTIONS,
            max_keepalive_connections=POOL_CONNECTIONS,
            keepalive_expiry=KEEPALIVE_SECONDS,
        ),
        verify=verify,
        proxy=proxy,
        trust_env=False,
        follow_redirects=False,
    )


def session_key(conn_id: str, settings: EloquaSettings) -> str:
    """A digest of the connection id and every setting but the timeout (so no secret sits in a key)."""
    parts = [conn_id] + [repr(getattr(settings, f.name)) for f in fields(settings) if f.name != "timeout"]
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


T = TypeVar("T")
_lookups: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Task]] = weakref.WeakKeyDictionary()


async def shared_lookup(conn_id: str, fetch: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Concurrent lookups of one connection on one loop share one call of ``fetch``.

    A thousand triggers started together (a triggerer restart) would otherwise make a thousand
    secrets-backend calls, each a hop to a worker thread. Only lookups in flight are shared: a hook
    created later looks the connection up again, so a changed connection is seen.

    :param conn_id: the Airflow connection id.
    :param fetch: looks the connection up without blocking the loop.
    """
    loop = asyncio.get_running_loop()
    flights = _lookups.setdefault(loop, {})
    task = flights.get(conn_id)
    if task is None:
        task = flights[conn_id] = loop.create_task(fetch())
        task.add_done_callback(_consume_exception)
        task.add_done_callback(lambda done: flights.pop(conn_id) if flights.get(conn_id) is done else None)
    return await asyncio.shield(task)


_registry: dict[str, SiteSession] = {}
_registry_lock = threading.Lock()


def site_session(conn_id: str, settings: EloquaSettings) -> SiteSession:
    """The process's session for this connection as configured now.

    A changed connection (password, client secret, refresh token, host, login URL, TLS, proxy, ...) gets a
    new session; hooks still holding the old one keep it until they are done.

    :param conn_id: the Airflow connection id.
    :param settings: the connection's current settings.
    """
    key = session_key(conn_id, settings)
    with _registry_lock:
        session = _registry.get(conn_id)
        if session is None or session.key != key:
            session = _registry[conn_id] = SiteSession(key, settings)
        return session


def forget_sessions() -> None:
    """Drop every shared session (tests: a fresh emulator per test; hooks holding one keep it)."""
    with _registry_lock:
        _registry.clear()


def registered_sessions() -> dict[str, Any]:
    """The registry by connection id (for tests and benchmarks that count sessions)."""
    with _registry_lock:
        return dict(_registry)
