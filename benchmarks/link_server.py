"""A loopback stand-in for Eloqua's data endpoint behind an emulated network link.

It reads every request body at a capped rate (``--rate`` MB/s, 10^6 bytes; 0 = uncapped) and
waits a fixed round-trip time (``--rtt-ms``) after the last body byte before it answers, as a
client on a link of that bandwidth and latency would see it. ``POST`` and ``DELETE`` of
``.../data`` answer ``204 No Content`` as Eloqua's staging endpoint does; ``GET /id`` answers
a minimal Eloqua discovery document; ``GET /_stats`` (``/_stats/reset``) reports and resets
the counts of data POSTs: requests, body bytes, and rows (newlines minus the header line for
``text/csv`` bodies, ``{`` for JSON bodies: the benchmark's rows hold neither inside values).
Bodies may be sent with ``Content-Length`` or ``Transfer-Encoding: chunked``.

For the operators, it also serves the definition calls of an upload with ``start_sync=False``:
``GET`` of a definition URI answers an import definition of ``--fields`` (the first is the
identifier), ``POST`` of a definition collection answers the created copy with a new URI,
``DELETE`` answers ``204``, ``POST /syncs`` answers a ``pending`` sync of the definition it names (the
import operators' ``wait=False`` ends there). ``GET /_log`` (``/_log/reset``) lists every request but the
``/_…`` ones, in order, with server-side wall-clock times (``time.time()``): ``start`` when
its first byte arrived, ``end`` when its answer was sent.

For exports (``--export-dir``, written by ``benchmarks.exports``): ``POST …/exports`` answers the
created definition, ``POST /syncs`` a sync, ``GET /syncs/N`` its ``success``, ``GET /syncs/N/logs``
an ELQ-00102 entry counting every row, and ``GET /syncs/N/data?offset=&limit=`` (or a definition's
``/data``) that page of the rows, as Eloqua's JSON page or, for ``Accept: text/csv``, CSV. Answers are sent at the capped rate too
(the link carries a page's bytes to the client), after the RTT.

The link is shared by all connections: a byte cannot arrive before the link has carried the
bytes before it, and an idle link banks no credit (``next_free`` never lags behind now).

Run it as a script: it prints its port on the first line of stdout and serves until killed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

_BUF = 1 << 16  # 64 KiB per recv: 2.6 ms of a 25 MB/s link, so pacing stays fine-grained
_NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"


class Link:
    """Paces received bytes to ``rate`` bytes/s across every connection."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._next_free = 0.0

    def carry(self, nbytes: int) -> None:
        """Block until a link of this rate could have delivered ``nbytes`` more bytes."""
        if not self.rate:
            return
        with self._lock:
            now = time.perf_counter()
            self._next_free = max(self._next_free, now) + nbytes / self.rate
            due = self._next_free
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> dict[str, int]:
        old = dict(getattr(self, "counts", {}))
        self.counts = {"requests": 0, "body_bytes": 0, "rows": 0}
        return old

    def add(self, nbytes: int, rows: int) -> None:
        with self._lock:
            self.counts["requests"] += 1
            self.counts["body_bytes"] += nbytes
            self.counts["rows"] += rows

    def snapshot(self, reset: bool) -> dict[str, int]:
        with self._lock:
            return self.reset() if reset else dict(self.counts)


_NEW_IDS = itertools.count(1000)


def _json_answer(obj: object, status: str = "200 OK") -> bytes:
    body = json.dumps(obj).encode()
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class Log:
    """Every request the server answered, with when its first byte arrived and when it was answered, in
    the order they arrived (an entry is added once its answer is sent, so a request answered right after
    another's answer can be added first).

    A request counts as open from its head to its entry: a snapshot waits until none is, so that a
    client that reads the log right after its last answer arrived finds that answer's entry too.
    """

    def __init__(self) -> None:
        self._done = threading.Condition()
        self._open = 0
        self.entries: list[dict[str, object]] = []

    def opened(self) -> None:
        with self._done:
            self._open += 1

    def closed(self, entry: dict[str, object] | None) -> None:
        """The request ended: answered (its entry), or its connection dropped (None)."""
        with self._done:
            self._open -= 1
            if entry is not None:
                self.entries.append(entry)
            self._done.notify_all()

    def snapshot(self, reset: bool) -> list[dict[str, object]]:
        with self._done:
            self._done.wait_for(lambda: self._open == 0, timeout=60)
            entries = self.entries
            if reset:
                self.entries = []
            return sorted(entries, key=lambda entry: entry["start"])


class ExportPages:
    """An export's rows, written by ``benchmarks.exports``: ``rows.ndjson`` (one compact JSON object
    a line) and ``rows.csv`` (a header, then one record a line); any page is cut from them."""

    def __init__(self, directory: str) -> None:
        root = Path(directory)
        self.json_lines = (root / "rows.ndjson").read_bytes().split(b"\n")[:-1]
        header, _, records = (root / "rows.csv").read_bytes().partition(b"\n")
        self.csv_header = header + b"\n"
        self.csv_lines = records.split(b"\n")[:-1]
        self.rows = len(self.json_lines)

    def page(self, offset: int, limit: int, kind: str) -> bytes:
        """Rows ``offset`` to ``offset + limit`` as Eloqua's JSON page, or as CSV with a header."""
        end = min(offset + limit, self.rows)
        if kind == "csv":
            return self.csv_header + b"".join(line + b"\n" for line in self.csv_lines[offset:end])
        head = {"totalResults": self.rows, "limit": limit, "offset": offset, "count": max(end - offset, 0)}
        head["hasMore"] = end < self.rows
        return json.dumps(head).encode()[:-1] + b',"items":[' + b",".join(self.json_lines[offset:end]) + b"]}"


class _Conn:
    """One client connection: reads requests, paces their bodies, answers after the RTT."""

    def __init__(
        self,
        sock: socket.socket,
        link: Link,
        rtt: float,
        stats: Stats,
        port: int,
        log: Log | None = None,
        fields: tuple[str, ...] = (),
        export: ExportPages | None = None,
    ) -> None:
        self.sock = sock
        self.link = link
        self.rtt = rtt
        self.stats = stats
        self.port = port
        self.log = log or Log()
        self.fields = fields
        self.export = export
        self.accept = b""
        self.pending = b""
        self.buf = bytearray(_BUF)
        self.view = memoryview(self.buf)

    def _fill(self) -> bool:
        data = self.sock.recv(_BUF)
        if not data:
            return False
        self.link.carry(len(data))
        self.pending += data
        return True

    def _line(self) -> bytes | None:
        while b"\r\n" not in self.pending:
            if not self._fill():
                return None
        line, _, self.pending = self.pending.partition(b"\r\n")
        return line

    def _body(self, length: int, marker: bytes, keep: bytearray | None = None) -> tuple[int, int] | None:
        """Read ``length`` body bytes; return (bytes, count of ``marker``). ``keep`` gets the bytes."""
        taken = min(length, len(self.pending))
        count = self.pending.count(marker, 0, taken)
        if keep is not None:
            keep += self.pending[:taken]
        self.pending = self.pending[taken:]
        left = length - taken
        while left:
            got = self.sock.recv_into(self.view, min(left, _BUF))
            if not got:
                return None
            self.link.carry(got)
            count += self.buf.count(marker, 0, got)
            if keep is not None:
                keep += self.view[:got]
            left -= got
        return length, count

    def _chunked(self, marker: bytes, keep: bytearray | None = None) -> tuple[int, int] | None:
        total = count = 0
        while True:
            line = self._line()
            if line is None:
                return None
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while (line := self._line()) not in (b"", None):  # trailers
                    pass
                return total, count
            got = self._body(size, marker, keep)
            if got is None or self._line() is None:  # the CRLF after the chunk
                return None
            total += got[0]
            count += got[1]

    def serve(self) -> None:
        with self.sock:
            while True:
                start = time.time()
                if not self.pending:
                    first = self.sock.recv(_BUF)
                    if not first:
                        return
                    start = time.time()  # the request's first byte arrived
                    self.link.carry(len(first))
                    self.pending = first
                while b"\r\n\r\n" not in self.pending:
                    if not self._fill():
                        return
                head, _, self.pending = self.pending.partition(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                method, path = lines[0].split(b" ")[:2]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    headers[name.strip().lower()] = value.strip()
                self.accept = headers.get(b"accept", b"")
                logged = not path.startswith(b"/_")
                if logged:
                    self.log.opened()
                entry = None
                try:
                    nbytes = self._serve_one(method, path, headers)
                    if nbytes is None:
                        return
                    entry = {"method": method.decode(), "path": path.decode(), "start": start, "end": time.time()}
                    entry["bytes"] = nbytes
                finally:
                    if logged:
                        self.log.closed(entry)

    def _serve_one(self, method: bytes, path: bytes, headers: dict[bytes, bytes]) -> int | None:
        """Read one request's body and answer it; the body's size, or None if the connection dropped."""
        csv_body = headers.get(b"content-type", b"").startswith(b"text/csv")
        marker = b"\n" if csv_body else b"{"
        keep = None if path.endswith(b"/data") else bytearray()
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            got = self._chunked(marker, keep)
        else:
            got = self._body(int(headers.get(b"content-length", b"0")), marker, keep)
        if got is None:
            return None
        answer = self._answer(method, path, got, csv_body, bytes(keep or b""))
        if self.rtt:
            time.sleep(self.rtt)
        self._send(answer)
        return got[0]

    def _send(self, answer: bytes) -> None:
        """Send at the link's rate: a piece may not leave before the link has carried the ones before."""
        view = memoryview(answer)
        for start in range(0, len(view), _BUF):
            piece = view[start : start + _BUF]
            self.link.carry(len(piece))
            self.sock.sendall(piece)

    def _answer(self, method: bytes, path: bytes, got: tuple[int, int], csv_body: bool, body: bytes) -> bytes:
        if path.startswith(b"/_stats"):
            return _json_answer(self.stats.snapshot(reset=path.startswith(b"/_stats/reset")))
        if path.startswith(b"/_log"):
            return _json_answer(self.log.snapshot(reset=path.startswith(b"/_log/reset")))
        if method == b"GET" and path.split(b"?")[0] == b"/id":
            base = f"http://127.0.0.1:{self.port}"
            return _json_answer(
                {
                    "site": {"id": 1, "name": "Bench"},
                    "user": {"id": 1, "username": "Bench.User", "displayName": "Bench User"},
                    "urls": {
                        "base": base,
                        "apis": {
                            "rest": {"standard": base + "/api/REST/{version}/", "bulk": base + "/api/bulk/{version}/"}
                        },
                    },
                }
            )
        if path.endswith(b"/data") and method != b"GET":
            if method == b"POST":
                nbytes, marks = got
                self.stats.add(nbytes, marks - 1 if csv_body and marks else marks)
            return _NO_CONTENT
        bare, _, query = path.decode().partition("?")
        exported = self._export_answer(method, bare, query, self.accept)
        if exported is not None:
            return exported
        return self._definition_answer(method, bare, body)

    def _export_answer(self, method: bytes, path: str, query: str, accept: bytes) -> bytes | None:
        """An export's sync calls and data pages, or None for any other request."""
        export = self.export
        if export is None:
            return None
        if method == b"POST" and path.endswith("/syncs"):
            sync = f"/syncs/{next(_NEW_IDS)}"
            return _json_answer(
                {"uri": sync, "status": "pending", "syncedInstanceUri": "/contacts/exports/1"}, "201 Created"
            )
        parts = path.partition("/api/bulk/2.0")[2].split("/")
        if method == b"GET" and path.endswith("/data") and "exports" in parts:  # a definition's latest sync
            parts = ["", "syncs", "1", "data"]
        if method != b"GET" or len(parts) < 3 or parts[1] != "syncs":
            return None
        sync = f"/syncs/{parts[2]}"
        if len(parts) == 3:
            return _json_answer({"uri": sync, "status": "success", "syncedInstanceUri": "/contacts/exports/1"})
        if parts[3] == "logs":
            entry = {"statusCode": "ELQ-00102", "count": export.rows, "severity": "information", "message": "exported"}
            return _json_answer({"items": [entry], "hasMore": False, "totalResults": 1, "offset": 0, "limit": 1000})
        if parts[3] == "data":
            args = dict(item.partition("=")[::2] for item in query.split("&") if item)
            kind = "csv" if accept.startswith(b"text/csv") else "json"
            body = export.page(int(args.get("offset", 0)), int(args.get("limit", 1000)), kind)
            content_type = "text/csv; charset=utf-8" if kind == "csv" else "application/json"
            head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
            return head.encode() + body
        return None

    def _definition_answer(self, method: bytes, path: str, body: bytes) -> bytes:
        """An import definition of ``fields`` (``GET``), its created copy (``POST``), or ``204``."""
        uri = path.partition("/api/bulk/2.0")[2]
        if method == b"GET" and uri.rsplit("/", 1)[-1].isdigit():
            return _json_answer(
                {
                    "uri": uri,
                    "name": "Bench template",
                    "fields": {name: f"{{{{Contact.Field(C_{name})}}}}" for name in self.fields},
                    "identifierFieldName": self.fields[0] if self.fields else "",
                    "isSyncTriggeredOnImport": False,
                    "updateRule": "always",
                }
            )
        if method == b"POST" and (uri.endswith("/imports") or uri.endswith("/exports")):
            created = {**json.loads(body or b"{}"), "uri": f"{uri}/{next(_NEW_IDS)}"}
            return _json_answer(created, status="201 Created")
        if method == b"POST" and uri == "/syncs":
            synced = json.loads(body or b"{}").get("syncedInstanceUri")
            sync = {"uri": f"/syncs/{next(_NEW_IDS)}", "status": "pending", "syncedInstanceUri": synced}
            return _json_answer(sync, status="201 Created")
        return _NO_CONTENT


def _exit_when_stdin_closes() -> None:
    """Exit as soon as the parent's end of our stdin closes: a killed benchmark leaves no server."""
    sys.stdin.buffer.read()
    os._exit(0)


def serve(
    rate_mb: float,
    rtt_ms: float,
    port: int = 0,
    with_parent: bool = False,
    fields: tuple[str, ...] = (),
    export_dir: str | None = None,
) -> None:
    if with_parent:
        threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
    link = Link(rate_mb * 1e6)
    stats = Stats()
    log = Log()
    export = ExportPages(export_dir) if export_dir else None
    server = socket.create_server(("127.0.0.1", port), backlog=64)
    port = server.getsockname()[1]
    print(port, flush=True)
    while True:
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        handler = _Conn(conn, link, rtt_ms / 1000, stats, port, log, fields, export)
        threading.Thread(target=handler.serve, daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=25.0, help="link bandwidth in MB/s (10^6 bytes); 0 = uncapped")
    parser.add_argument("--rtt-ms", type=float, default=40.0, help="round-trip time waited before each answer")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--with-parent", action="store_true", help="exit when stdin closes (the parent died)")
    parser.add_argument("--fields", default="", help="comma-separated columns of the definitions it serves")
    parser.add_argument("--export-dir", default=None, help="an export's pre-built pages (benchmarks.exports)")
    args = parser.parse_args(argv)
    fields = tuple(filter(None, args.fields.split(",")))
    serve(args.rate, args.rtt_ms, args.port, args.with_parent, fields, args.export_dir)


if __name__ == "__main__":
    main()
