"""The benchmarks' link server: paced like a link, counting what it receives, answering like Eloqua.
Its pacing runs on a fake clock (the server's ``time``): a sleep advances it at once, so what the
link holds back is the code's own arithmetic, never how fast the machine is."""

from __future__ import annotations

import csv
import io
import json
import socket
import threading

import pytest

from benchmarks import link_server
from benchmarks import run as bench


class FakeClock:
    """``link_server``'s ``time``: ``perf_counter`` and ``time`` (the request log's stamps) read it,
    ``sleep`` advances it and is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def perf_counter(self) -> float:
        return self.now

    time = perf_counter

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(link_server, "time", fake)
    return fake


def serve_link(export: link_server.ExportPages | None = None):
    """A link server thread at 10 MB/s and 50 ms RTT on loopback; returns its port, stats and closer."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    line = link_server.Link(10e6)
    stats = link_server.Stats()

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            handler = link_server._Conn(conn, line, 0.05, stats, port, export=export)
            threading.Thread(target=handler.serve, daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return port, stats, server.close


@pytest.fixture
def link(clock: FakeClock):
    port, stats, close = serve_link()
    yield port, stats
    close()


def test_the_link_holds_bytes_back_to_its_rate_across_calls(clock):
    line = link_server.Link(10e6)
    line.carry(1_000_000)  # 0.1 s of this link
    line.carry(500_000)  # queued behind the first: due 0.15 s after the start
    assert clock.slept == [pytest.approx(0.1), pytest.approx(0.05)]
    clock.now += 1.0  # an idle link carries the next bytes from now, not from the last due time
    line.carry(10_000)
    assert clock.slept[-1] == pytest.approx(0.001)
    link_server.Link(0).carry(10**9)  # uncapped: never held back
    assert len(clock.slept) == 3


def _post(port: int, head: bytes, body: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head + body)
        return sock.recv(1024)


def test_link_server_paces_counts_and_answers_like_eloqua(link, clock):
    port, stats = link
    rows = b"Email,Name\n" + b"".join(b"a%d@example.com,N\n" % i for i in range(50_000))
    head = b"POST /api/bulk/2.0/contacts/imports/1/data HTTP/1.1\r\nContent-Type: text/csv\r\n"
    answer = _post(port, head + b"Content-Length: %d\r\n\r\n" % len(rows), rows)
    assert answer.startswith(b"HTTP/1.1 204 No Content")
    # The body is held back as a 10 MB/s link would carry it, and the answer waits the RTT.
    assert sum(clock.slept) >= len(rows) / 10e6 + 0.05
    assert 0.05 in clock.slept
    assert stats.snapshot(reset=True) == {"requests": 1, "body_bytes": len(rows), "rows": 50_000}

    body = json.dumps([{"Email": "a@example.com"}, {"Email": "b@example.com"}]).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:10], body[10:])) + b"0\r\n\r\n"
    head = b"POST /x/data HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer = _post(port, head, chunked)
    assert answer.startswith(b"HTTP/1.1 204 No Content")
    assert stats.snapshot(reset=False) == {"requests": 1, "body_bytes": len(body), "rows": 2}


def test_link_server_exits_when_its_parent_goes_away():
    import subprocess
    import sys

    script = bench.Path(bench.__file__).with_name("link_server.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), "--rate", "0", "--with-parent"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert int(proc.stdout.readline()) > 0  # serving
    proc.stdin.close()  # what the parent's death does to the pipe
    assert proc.wait(timeout=60) == 0
    proc.stdout.close()


def test_link_server_serves_an_uploads_definition_calls_and_logs_every_request():
    """What the operators need of it with start_sync=False: the template, its copy, and server times."""
    import requests

    with bench.LinkServer(0, 0) as server:
        base = server.url + "/api/bulk/2.0"
        template = requests.get(base + "/contacts/imports/1", timeout=30).json()
        assert template["fields"] == {name: f"{{{{Contact.Field(C_{name})}}}}" for name in bench.FIELDS}
        assert template["identifierFieldName"] == "Email" and template["isSyncTriggeredOnImport"] is False
        created = requests.post(base + "/contacts/imports", json={**template, "name": "copy"}, timeout=30)
        assert created.status_code == 201
        copy = created.json()
        assert (
            copy["name"] == "copy" and copy["uri"].startswith("/contacts/imports/") and copy["uri"] != template["uri"]
        )
        body = b"Email\na@example.com\nb@example.com\n"
        posted = requests.post(
            base + copy["uri"] + "/data", data=body, headers={"Content-Type": "text/csv"}, timeout=30
        )
        assert posted.status_code == 204
        assert server.stats() == {"requests": 1, "body_bytes": len(body), "rows": 2}  # data POSTs only
        log = server.log(reset=True)
        assert [(e["method"], e["path"]) for e in log] == [
            ("GET", "/api/bulk/2.0/contacts/imports/1"),
            ("POST", "/api/bulk/2.0/contacts/imports"),
            ("POST", f"/api/bulk/2.0{copy['uri']}/data"),
        ]
        assert all(e["start"] <= e["end"] for e in log) and log[-1]["bytes"] == len(body)
        assert server.log() == []


def test_link_server_serves_an_exports_pages_at_the_links_rate(tmp_path):
    import requests

    from benchmarks import exports

    n = 2_500
    directory = exports.write_export(tmp_path / "export", n)
    rows = list(bench.contact_rows(n))
    with bench.LinkServer(10, 0, export_dir=directory) as server:
        base = server.url + "/api/bulk/2.0"
        assert (
            requests.post(base + "/syncs", json={"syncedInstanceUri": "/contacts/exports/1"}, timeout=30).status_code
            == 201
        )
        assert requests.get(base + "/syncs/5", timeout=30).json()["status"] == "success"
        log = requests.get(base + "/syncs/5/logs", timeout=30).json()["items"]
        assert [(e["statusCode"], e["count"]) for e in log] == [("ELQ-00102", n)]
        first = requests.get(base + "/syncs/5/data?offset=0&limit=2000", timeout=30).json()
        last = requests.get(base + "/syncs/5/data?offset=2000&limit=2000", timeout=30).json()
        assert first["items"] + last["items"] == rows
        assert (first["hasMore"], last["hasMore"], first["totalResults"], last["count"]) == (True, False, n, 500)
        answer = requests.get(base + "/syncs/5/data?offset=0&limit=2000", headers={"Accept": "text/csv"}, timeout=30)
        records = list(csv.DictReader(io.StringIO(answer.text, newline="")))
        assert answer.headers["Content-Type"].startswith("text/csv") and records == rows[:2000]


def test_an_exports_page_is_sent_at_the_links_rate(tmp_path, clock):
    import requests

    from benchmarks import exports

    port, _, close = serve_link(link_server.ExportPages(str(exports.write_export(tmp_path / "export", 2_500))))
    try:
        body = requests.get(
            f"http://127.0.0.1:{port}/api/bulk/2.0/syncs/5/data?offset=0&limit=2500", timeout=30
        ).content
    finally:
        close()
    assert len(json.loads(body)["items"]) == 2_500
    # The page is held back as a 10 MB/s link would carry it, after the RTT.
    assert sum(clock.slept) >= len(body) / 10e6 + 0.05
