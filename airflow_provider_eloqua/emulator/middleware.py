"""Outermost ASGI layer: routes the pod-prefixed, case-insensitive Bulk prefix, fires fault
rules, and keeps the request log.

Tests share one emulator and reset it between tests, so the log must never carry a request of an
earlier test into the next one. A request is logged before its last response byte is sent (a
client that has its answer finds it logged) and only into the generation it began in; a reset
first waits for the requests still in flight (ending pending delay faults with a dropped
connection), so none of them changes the fresh site either.

It runs ahead of Starlette's own middleware (see app.EmulatorApp): dropping a connection needs
uvicorn's ``send`` (a bound method of its request cycle, which holds the socket transport), and
only the outermost layer receives it unwrapped.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from typing import Any

from airflow_provider_eloqua.emulator.faults import FaultRule
from airflow_provider_eloqua.emulator.resources import BULK_API_PATH
from airflow_provider_eloqua.emulator.state import EmulatorState

CONTROL_PREFIX = "/_emulator"
#: ``[/<pod>]/api/bulk/2.0[/rest]`` in any letter case (``/id`` advertises ``/API/Bulk/``).
_BULK = re.compile(r"^(?:/(?P<pod>[A-Za-z0-9._-]+))?" + re.escape(BULK_API_PATH) + r"(?P<rest>/.*)?$", re.IGNORECASE)
#: Scope key holding the pod prefix a Bulk request arrived on ("" for the root).
POD_SCOPE_KEY = "eloqua.pod"
#: How long a reset waits for requests still in flight; later ones are neither logged nor waited for.
RESET_DRAIN_SECONDS = 30.0


class EmulatorMiddleware:
    def __init__(self, app: Any, state: EmulatorState) -> None:
        self.app = app
        self.state = state
        #: Requests still being answered, by the generation they began in.
        self._in_flight: Counter[int] = Counter()
        #: Set (and replaced) by a reset: wakes the delay faults of the requests it retires. Made in
        #: the serving loop (a restarted EmulatorServer serves the same app from a new loop).
        self._retired: asyncio.Event | None = None
        self._retired_loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == CONTROL_PREFIX + "/reset":
                await self._drain()
            await self.app(scope, receive, send)
            return
        generation = self.state.generation
        self._in_flight[generation] += 1
        try:
            await self._serve(scope, receive, send, generation)
        finally:
            self._in_flight[generation] -= 1

    async def _drain(self) -> None:
        """Retire the requests in flight: none logs from now on, their delays end, and the reset
        goes ahead once they are done (at most ``RESET_DRAIN_SECONDS``)."""
        retired = self.state.retire_requests()
        self._retired_event().set()
        self._retired = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RESET_DRAIN_SECONDS
        while self._in_flight[retired] > 0 and loop.time() < deadline:
            await asyncio.sleep(0.005)
        for generation in [g for g, count in self._in_flight.items() if count <= 0]:
            del self._in_flight[generation]

    def _retired_event(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self._retired is None or self._retired_loop is not loop:
            self._retired, self._retired_loop = asyncio.Event(), loop
        return self._retired

    async def _serve(self, scope: dict[str, Any], receive: Any, send: Any, generation: int) -> None:
        original_path = scope["path"]
        fault_path = original_path
        match = _BULK.match(original_path)
        if match:
            rest = match["rest"] or ""
            fault_path = rest
            path = BULK_API_PATH + rest
            scope = {**scope, "path": path, "raw_path": path.encode(), POD_SCOPE_KEY: match["pod"] or ""}

        entry = {
            "method": scope["method"],
            "path": original_path,
            "query": scope.get("query_string", b"").decode("latin-1"),
            "status": None,
            "content_length": _content_length(scope),
            "ts": time.time(),
        }

        logged = False

        def log() -> None:
            nonlocal logged
            if not logged:
                logged = True
                self.state.log_request(entry, generation)

        async def recording_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                log()  # before the client can have its answer
            await send(message)

        async def drop() -> None:
            log()
            await _drop(send)

        rule = self.state.faults.take(scope["method"], fault_path, entry["query"])
        try:
            if rule is None:
                await self.app(scope, receive, recording_send)
            else:
                entry["fault"] = rule.action
                await self._apply(rule, scope, receive, recording_send, drop)
        finally:
            log()

    async def _apply(self, rule: FaultRule, scope: Any, receive: Any, recording_send: Any, drop: Any) -> None:
        if rule.action == "status":
            await _answer(rule, recording_send)
        elif rule.action == "delay":
            retired = self._retired_event()
            try:
                await asyncio.wait_for(retired.wait(), timeout=rule.delay)
            except TimeoutError:
                await self.app(scope, receive, recording_send)
            else:  # the emulator was reset meanwhile: the request belongs to a finished test
                await drop()
        elif rule.action == "hold":
            if await self._held_until_released():
                await self.app(scope, receive, recording_send)
            else:
                await drop()
        elif rule.action == "drop":
            await drop()
        elif rule.action == "truncate":
            await self._truncated(scope, receive, recording_send, drop)
        else:  # drop_after: the request takes effect, the client never learns of it

            async def discard(message: dict[str, Any]) -> None:
                return None

            await self.app(scope, receive, discard)
            await drop()

    async def _truncated(self, scope: Any, receive: Any, recording_send: Any, drop: Any) -> None:
        """The real answer's status and headers and the first half of its body, then a dropped connection."""
        start: dict[str, Any] | None = None
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        if start is not None:
            await recording_send(start)
            await recording_send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        await drop()

    async def _held_until_released(self) -> bool:
        """Park a ``hold`` request until the control API releases it (True) or a reset retires it (False)."""
        faults = self.state.faults
        releases = faults.releases
        retired = self._retired_event()
        faults.held += 1
        try:
            while faults.releases == releases:
                if retired.is_set():
                    return False
                await asyncio.sleep(0.01)
            return True
        finally:
            faults.held -= 1


def _content_length(scope: dict[str, Any]) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length" and value.isdigit():
            return int(value)
    return 0


async def _answer(rule: FaultRule, send: Any) -> None:
    if rule.body is None:
        body, content_type = b"", None
    elif isinstance(rule.body, str):
        body, content_type = rule.body.encode(), b"text/plain; charset=utf-8"
    else:
        body, content_type = json.dumps(rule.body).encode(), b"application/json"
    headers = [(k.lower().encode(), str(v).encode()) for k, v in rule.headers.items()]
    headers.append((b"content-length", str(len(body)).encode()))
    if content_type:
        headers.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": rule.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _drop(send: Any) -> None:
    """Close the socket without any HTTP response, so clients see a connection error.

    Uses the transport of uvicorn's request cycle (``send.__self__``); uvicorn then ignores the
    app's unanswered request because it sees the client as disconnected.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is None or transport is None:
        raise RuntimeError("drop faults need the emulator app to be served directly by uvicorn")
    transport.close()
    for _ in range(100):  # uvicorn learns of the close on a later loop turn
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0.001)
    if cycle is not None:
        cycle.disconnected = True
