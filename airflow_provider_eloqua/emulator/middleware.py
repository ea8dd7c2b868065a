"""Outermost ASGI layer: routes the pod-prefixed, case-insensitive Bulk prefix, fires fault
rules, and keeps the request log.

It runs ahead of Starlette's own middleware (see app.EmulatorApp): dropping a connection needs
uvicorn's ``send`` (a bound method of its request cycle, which holds the socket transport), and
only the outermost layer receives it unwrapped.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from airflow_provider_eloqua.emulator.faults import FaultRule
from airflow_provider_eloqua.emulator.state import EmulatorState
from airflow_provider_eloqua.urls import BULK_API_PATH

CONTROL_PREFIX = "/_emulator"
#: ``[/<pod>]/api/bulk/2.0[/rest]`` in any letter case (``/id`` advertises ``/API/Bulk/``).
_BULK = re.compile(r"^(?:/(?P<pod>[A-Za-z0-9._-]+))?" + re.escape(BULK_API_PATH) + r"(?P<rest>/.*)?$", re.IGNORECASE)
#: Scope key holding the pod prefix a Bulk request arrived on ("" for the root).
POD_SCOPE_KEY = "eloqua.pod"


class EmulatorMiddleware:
    def __init__(self, app: Any, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
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
            "status": None,
            "content_length": _content_length(scope),
            "ts": time.time(),
        }

        async def recording_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            await send(message)

        rule = self.state.faults.take(scope["method"], fault_path)
        try:
            if rule is None:
                await self.app(scope, receive, recording_send)
            else:
                entry["fault"] = rule.action
                await self._apply(rule, scope, receive, send, recording_send)
        finally:
            self.state.log_request(entry)

    async def _apply(self, rule: FaultRule, scope: Any, receive: Any, send: Any, recording_send: Any) -> None:
        if rule.action == "status":
            await _answer(rule, recording_send)
        elif rule.action == "delay":
            await asyncio.sleep(rule.delay)
            await self.app(scope, receive, recording_send)
        elif rule.action == "drop":
            await _drop(send)
        else:  # drop_after: the request takes effect, the client never learns of it

            async def discard(message: dict[str, Any]) -> None:
                return None

            await self.app(scope, receive, discard)
            await _drop(send)


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
    if transport is None:
        raise RuntimeError("drop faults need the emulator app to be served directly by uvicorn")
    transport.close()
    for _ in range(100):  # uvicorn learns of the close on a later loop turn
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0.001)
    cycle.disconnected = True
