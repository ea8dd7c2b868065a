"""A loopback Eloqua stand-in that counts: requests by kind and TCP connections, for the trigger benchmark.

Only what a waiting trigger touches: ``GET /id`` (pod discovery), ``POST /auth/oauth2/token``
(password and rotating refresh-token grants), ``GET /API/Bulk/2.0/syncs/<n>`` (a sync is
``pending`` at its first look, ``active`` at the second, ``success`` from the ``polls``-th on).
HTTP/1.1 keep-alive with no idle timeout, one asyncio loop, so it is never the bottleneck the
benchmark measures. It runs in its own process:

    python -m benchmarks.trigger_server [--polls 3]      # prints "PORT <n>" once listening

It exits when its standard input closes, so it never outlives the benchmark that started it
(even one killed by a timeout).

Control (not counted): ``GET /__stats``; ``POST /__reset`` with a JSON body of settings
(``polls``, ``expire_after``: expire every access token once, after that many status looks).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import sys
import threading
from typing import Any

SITE, USER, PASSWORD = "BenchSite", "bench.user", "bench-password"
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"
SEED_REFRESH_TOKEN = "bench-refresh-seed"
_SYNC = re.compile(r"^/API/Bulk/2\.0/syncs/(\d+)$")
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Site:
    """Counters and auth state, reset between runs."""

    def __init__(self) -> None:
        self.url = ""
        self.reset({})

    def reset(self, settings: dict[str, Any]) -> None:
        self.polls_to_end = int(settings.get("polls", 3))
        self.expire_after = settings.get("expire_after")
        self.counts = {
            "connections": 0,
            "id": 0,
            "token": 0,
            "token_refused": 0,
            "status": 0,
            "status_401": 0,
            "other": 0,
        }
        self.looks: dict[str, int] = {}
        self.access_tokens: set[str] = set()
        self.refresh_token = SEED_REFRESH_TOKEN
        self.issued = 0

    def authorized(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:] in self.access_tokens
        return auth == basic(f"{SITE}\\{USER}", PASSWORD)

    def grant(self, body: bytes) -> tuple[int, Any]:
        self.counts["token"] += 1
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        kind = params.get("grant_type")
        ok = (kind == "password" and params.get("password") == PASSWORD) or (
            kind == "refresh_token" and params.get("refresh_token") == self.refresh_token
        )
        if not ok:
            self.counts["token_refused"] += 1
            return 400, {"error": "invalid_grant", "error_description": "refused"}
        self.issued += 1
        access = f"access-{self.issued}"
        self.access_tokens.add(access)
        self.refresh_token = f"refresh-{self.issued}"
        return 200, {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": 28800,
            "refresh_token": self.refresh_token,
        }

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if path == "/__stats":
            return 200, {**self.counts, "issued": self.issued, "refresh_token": self.refresh_token}
        if path == "/__reset" and method == "POST":
            self.reset(json.loads(body or b"{}"))
            return 200, {}
        if path == "/auth/oauth2/token" and method == "POST":
            return self.grant(body)
        if path == "/id" and method == "GET":
            self.counts["id"] += 1
            if not self.authorized(headers):
                return 401, None
            return 200, {
                "site": {"id": 1, "name": SITE},
                "urls": {"apis": {"rest": {"bulk": self.url + "/API/Bulk/{version}/"}}},
            }
        match = _SYNC.match(path)
        if match and method == "GET":
            self.counts["status"] += 1
            if self.expire_after is not None and self.counts["status"] > int(self.expire_after):
                self.access_tokens.clear()
                self.expire_after = None
            if not self.authorized(headers):
                self.counts["status_401"] += 1
                return 401, None
            uri = f"/syncs/{match[1]}"
            looks = self.looks[uri] = self.looks.get(uri, 0) + 1
            status = "success" if looks >= self.polls_to_end else ("active" if looks > 1 else "pending")
            return 200, {"uri": uri, "status": status, "syncedInstanceUri": "/contacts/imports/1"}
        self.counts["other"] += 1
        return 404, {"failures": []}


class Connection(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and Content-Length bodies: all a trigger sends."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.site.counts["connections"] += 1
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, target, _ = head[0].split(" ", 2)
            status, payload = self.site.answer(method, target.split("?")[0], headers, body)
            raw = b"" if payload is None else json.dumps(payload).encode()
            assert self.transport is not None
            self.transport.write(
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Other')}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(raw)}\r\n\r\n".encode()
                + raw
            )


async def serve(polls: int) -> None:
    site = Site()
    site.reset({"polls": polls})
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(site), "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    site.url = f"http://127.0.0.1:{port}"
    print(f"PORT {port}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=3)
    args = parser.parse_args(argv)

    def exit_with_parent() -> None:
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    asyncio.run(serve(args.polls))


if __name__ == "__main__":
    main()
