"""A tiny loopback HTTP server that records request headers and answers canned routes.

The emulator's request log keeps method, path and status but not headers; the few tests that
must see what the hook sends on the wire (User-Agent, Authorization, redirects) use this server.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = tuple[int, dict[str, str], Any]


class RecordingServer:
    """Answers ``routes[(method, path)] = (status, headers, json_body)``; 404 otherwise."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.seen: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                server.seen.append(
                    {
                        "method": self.command,
                        "path": path,
                        "headers": dict(self.headers.items()),
                        "body": body,
                        "peer_port": self.client_address[1],
                    }
                )
                status, headers, payload = server.routes.get((self.command, path), (404, {}, {"failures": []}))
                raw = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            # A client that does not trust the certificate fails its handshake in accept(): the
            # server drops that connection (an OSError) and serves on.
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.bulk = self.url + "/API/Bulk/2.0"
        self.routes[("GET", "/id")] = (
            200,
            {},
            {
                "site": {"id": 1, "name": "AcmeCorp"},
                "urls": {"apis": {"rest": {"bulk": self.url + "/API/Bulk/{version}/"}}},
            },
        )

    def route(self, method: str, path: str, status: int = 200, body: Any = None, **headers: str) -> None:
        self.routes[(method, path)] = (status, headers, body)

    def requests_to(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.seen if r["path"] == path]


@contextmanager
def serving(httpd: ThreadingHTTPServer) -> Iterator[None]:
    """Serve ``httpd`` in a thread for the block's duration, then stop and close it."""
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@contextmanager
def recording_server(tls: ssl.SSLContext | None = None) -> Iterator[RecordingServer]:
    """The server on a loopback port; with ``tls`` (a server-side context) it speaks https."""
    server = RecordingServer(tls)
    with serving(server.httpd):
        yield server
