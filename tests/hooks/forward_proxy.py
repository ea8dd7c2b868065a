"""A small HTTP forward proxy on loopback, as a company's egress proxy: ``CONNECT`` tunnels for https
and absolute-form forwarding for plain http (the emulator), optionally behind Basic proxy
credentials (407 without them). It records everything that passed through it, so a test can show
that every request the server saw came through the proxy.
"""

from __future__ import annotations

import base64
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.hooks.recording_server import serving

HOP_BY_HOP = {"proxy-authorization", "proxy-connection", "connection", "keep-alive"}


class ForwardProxy:
    """``seen``: one entry per request that reached the proxy: method, target (``host:port`` for
    CONNECT, the absolute URL otherwise), the Proxy-Authorization it carried and the status the proxy
    gave (407 when refused). ``upstream_ports``: the local ports of the proxy's connections to servers,
    so a server can tell that a connection came from the proxy."""

    def __init__(self, credentials: tuple[str, str] | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.seen: list[dict[str, Any]] = []
        #: Statuses to refuse the next ``CONNECT``s with (a proxy that cannot reach Eloqua: 502, 503).
        self.refuse_tunnels: list[int] = []
        self.upstream_ports: set[int] = set()
        self._lock = threading.Lock()
        expected = None
        if credentials is not None:
            expected = "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _admit(self, refusal: int | None = None) -> bool:
                auth = self.headers.get("Proxy-Authorization")
                refused = expected is not None and auth != expected
                proxy._record(
                    {"method": self.command, "target": self.path, "auth": auth, "status": 407 if refused else refusal}
                )
                if refused:
                    self.send_response(407)
                    self.send_header("Proxy-Authenticate", 'Basic realm="test proxy"')
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                return not refused

            def _upstream(self, host: str, port: int) -> socket.socket:
                upstream = socket.create_connection((host, port), timeout=30)
                with proxy._lock:
                    proxy.upstream_ports.add(upstream.getsockname()[1])
                return upstream

            def do_CONNECT(self) -> None:
                with proxy._lock:
                    refusal = proxy.refuse_tunnels.pop(0) if proxy.refuse_tunnels else None
                if not self._admit(refusal):
                    return
                if refusal is not None:
                    self.send_response(refusal)
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    return
                host, _, port = self.path.rpartition(":")
                upstream = self._upstream(host, int(port))
                self.send_response(200, "Connection established")
                self.end_headers()
                self.close_connection = True
                pump = threading.Thread(target=_pipe, args=(self.connection, upstream), daemon=True)
                pump.start()
                _pipe(upstream, self.connection)
                pump.join(30)
                upstream.close()

            def _forward(self) -> None:
                if not self._admit():
                    return
                url = urlsplit(self.path)
                if not url.hostname or url.scheme != "http":
                    self.send_error(400, "absolute http URL expected")
                    return
                upstream = self._upstream(url.hostname, url.port or 80)
                target = url.path + (f"?{url.query}" if url.query else "")
                head = [f"{self.command} {target} HTTP/1.1"]
                head += [f"{k}: {v}" for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
                head.append("Connection: close")
                upstream.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
                if self.headers.get("Content-Length"):
                    upstream.sendall(self.rfile.read(int(self.headers["Content-Length"])))
                elif "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    _relay_chunks(self.rfile, upstream)
                self.close_connection = True
                _pipe(upstream, self.connection)  # the answer, until the server closes
                upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

            def log_message(self, *args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:  # an https proxy: clients reach it over TLS (what they verify it against)
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = self.httpd.server_address[1]

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.seen.append(entry)

    def url(self, user: str | None = None, password: str | None = None) -> str:
        """The ``proxy_url`` for a connection, with credentials when given (already URL-safe)."""
        auth = f"{user}:{password}@" if user is not None else ""
        return f"{self.scheme}://{auth}127.0.0.1:{self.port}"

    def passed(self) -> list[dict[str, Any]]:
        """The requests the proxy let through (not refused)."""
        with self._lock:
            return [e for e in self.seen if e["status"] is None]

    def refused(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.seen if e["status"] == 407]


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes until ``source`` ends, then end ``sink``'s sending side."""
    with suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    with suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def _relay_chunks(rfile: Any, sink: socket.socket) -> None:
    """Copy one chunked request body as is, up to its last (empty) chunk and trailer."""
    while True:
        size_line = rfile.readline()
        sink.sendall(size_line)
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while (line := rfile.readline()) not in (b"\r\n", b"\n", b""):
                sink.sendall(line)
            sink.sendall(b"\r\n")
            return
        sink.sendall(rfile.read(size + 2))


@contextmanager
def forward_proxy(
    credentials: tuple[str, str] | None = None, tls: ssl.SSLContext | None = None
) -> Iterator[ForwardProxy]:
    """The proxy on a loopback port; with ``credentials`` (user, password) it answers 407 without them;
    with ``tls`` (a server-side context) clients reach it over https."""
    proxy = ForwardProxy(credentials, tls)
    with serving(proxy.httpd):
        yield proxy
