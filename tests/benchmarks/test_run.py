"""The upload benchmark runs end to end at its smallest size (no timing assertions).

Runs ``benchmarks.run`` exactly as ``python -m benchmarks.run --smoke`` does: the link server in
its own process (fast link, tiny rows), the CSV limit, every input format through
``staging.stage_input`` and the hook, the pyeloqua peer when it is installed, and one fresh
subprocess per format and row count for the peak RSS. Checks that every path sent every row,
and that the server counted exactly the requests, bytes and rows each path says it sent.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import socket
import threading
import time

import pytest

from benchmarks import link_server
from benchmarks import run as bench

pytestmark = pytest.mark.timeout(600)


def test_benchmark_smoke(capsys):
    results = bench.main(["--smoke"])
    out = capsys.readouterr().out
    assert "ratio = limit time / path time" in out

    n = bench.SMOKE["rows"]
    peer_n = bench.SMOKE["peer_rows"]
    paths = [r.path for r in results]
    expected = ["limit", *bench.FORMATS, "limit@peer", "json-rows@peer"]
    if bench.pyeloqua_version():
        expected.append("pyeloqua")
    else:
        assert "pyeloqua: not installed" in out
    assert paths == expected

    by_path = {r.path: r for r in results}
    limit = by_path["limit"]
    for r in results:
        assert r.rows == (peer_n if r.path.endswith("@peer") or r.path == "pyeloqua" else n)
        # The server's own counts, over every run of the path.
        assert r.server == {"requests": r.posts * r.runs, "body_bytes": r.wire_bytes * r.runs, "rows": r.rows * r.runs}
        assert r.seconds > 0 and r.limit_seconds > 0
    # The limit is the CSV file itself, in one chunk at this size.
    assert limit.posts == 1
    assert by_path["csv"].wire_bytes == limit.wire_bytes  # a CSV file goes byte for byte
    rows = list(bench.contact_rows(n))
    header = (",".join(bench.FIELDS) + "\n").encode()
    body = io.StringIO(newline="")
    csv.writer(body, lineterminator="\n").writerows([r[k] for k in bench.FIELDS] for r in rows)
    assert limit.wire_bytes == len(header) + len(body.getvalue().encode())
    if "pyeloqua" in by_path:
        assert by_path["pyeloqua"].wire_bytes == len(json.dumps(rows[:peer_n], ensure_ascii=False).encode())
    # Peak RSS: one fresh process per format and row count, each sent every row.
    rss = [r for r in results if r.rss]
    assert [r.path for r in rss] == list(bench.FORMATS)
    for r in rss:
        assert sorted(r.rss) == sorted(bench.SMOKE["rss_rows"])
        for size, got in r.rss.items():
            assert got["rows"] == size
            assert got["peak_mb"] >= got["before_mb"] > 0


def test_benchmark_inputs_match(tmp_path):
    inputs = bench.write_inputs(tmp_path, 250)
    expected = list(bench.contact_rows(250))
    text = inputs.paths["csv"].read_text(encoding="utf-8")
    assert list(csv.DictReader(io.StringIO(text, newline=""))) == expected
    assert json.loads(inputs.paths["json-file"].read_text(encoding="utf-8")) == expected
    ndjson = inputs.paths["ndjson"].read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in ndjson] == expected
    quoted = sum(1 for line in text.splitlines()[1:] if '"' in line)
    assert 20 <= quoted <= 35  # about 1 row in 10 needs CSV quoting
    assert any(not line.isascii() for line in text.splitlines())


@pytest.fixture
def link():
    """A link server thread at 10 MB/s and 50 ms RTT on loopback."""
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
            handler = link_server._Conn(conn, line, 0.05, stats, port)
            threading.Thread(target=handler.serve, daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield port, stats
    server.close()


def _post(port: int, head: bytes, body: bytes) -> tuple[bytes, float]:
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head + body)
        answer = sock.recv(1024)
    return answer, time.perf_counter() - start


def test_link_server_paces_counts_and_answers_like_eloqua(link):
    port, stats = link
    rows = b"Email,Name\n" + b"".join(b"a%d@example.com,N\n" % i for i in range(50_000))
    head = b"POST /api/bulk/2.0/contacts/imports/1/data HTTP/1.1\r\nContent-Type: text/csv\r\n"
    answer, seconds = _post(port, head + b"Content-Length: %d\r\n\r\n" % len(rows), rows)
    assert answer.startswith(b"HTTP/1.1 204 No Content")
    # A lower bound only: the body cannot cross a 10 MB/s link faster, and the answer waits the RTT.
    assert seconds >= len(rows) / 10e6 + 0.05
    assert stats.snapshot(reset=True) == {"requests": 1, "body_bytes": len(rows), "rows": 50_000}

    body = json.dumps([{"Email": "a@example.com"}, {"Email": "b@example.com"}]).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:10], body[10:])) + b"0\r\n\r\n"
    head = b"POST /x/data HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer, _ = _post(port, head, chunked)
    assert answer.startswith(b"HTTP/1.1 204 No Content")
    assert stats.snapshot(reset=False) == {"requests": 1, "body_bytes": len(body), "rows": 2}


def test_limit_bodies_are_the_csv_file_in_the_fewest_chunks(tmp_path, monkeypatch):
    import airflow_provider_eloqua.chunking as chunking

    monkeypatch.setattr(chunking, "DEFAULT_CHUNK_BYTES", 4096)
    path = bench.write_inputs(tmp_path, 2000).paths["csv"]
    data = path.read_bytes()
    header = data[: data.index(b"\n") + 1]
    bodies = bench.limit_bodies(path)
    assert all(b.startswith(header) and len(b) <= 4096 for b in bodies)
    assert b"".join(b[len(header) :] for b in bodies) == data[len(header) :]
    # Fewest: the next record would not have fitted in any body but the last.
    for body, nxt in itertools.pairwise(bodies):
        assert len(body) + nxt.index(b"\n", len(header)) + 1 - len(header) > 4096


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


def test_operator_benchmark_smoke():
    """The operator benchmark end to end at its smallest size: DAG runs of every input, checked
    against the server's counts by the harness itself (no timing assertions)."""
    from benchmarks import operators

    results = operators.main(["--smoke"])

    assert [r.path for r in results] == list(operators.PATHS)
    for r in results:
        assert r.rows == (operators.SMOKE["xcom_rows"] if r.path == "xcom-rows" else operators.SMOKE["rows"])
        assert r.posts >= 1
        assert len(r.calls) == operators.SMOKE["repeat"] and all(calls > 0 for calls, _ in r.calls)
        for figure in (r.limit, r.stage_input, r.window, r.task):
            assert len(figure.seconds) == operators.SMOKE["repeat"] and figure.best > 0
        assert (r.pulled is not None) == (r.argument is not None) == (r.path == "xcom-rows")


def test_export_benchmark_smoke():
    """The export benchmark end to end at its smallest size: the operator wrote every row in both
    formats (the harness checks each run's count), the limit and decoders read every row."""
    from benchmarks import exports

    results = exports.main(["--smoke"])

    paths = [r.path for r in results]
    expected = ["limit", "json decode", "csv parse", *exports.OUTPUTS, "limit@peer"]
    assert paths == expected + (["pyeloqua"] if bench.pyeloqua_version() else [])
    for r in results:
        peer = r.path in ("limit@peer", "pyeloqua")
        assert r.rows == exports.SMOKE["peer_rows" if peer else "rows"]
        assert len(r.time.seconds) == exports.SMOKE["repeat"] and r.time.best > 0
        assert (r.task is not None) == (r.path in exports.OUTPUTS)
    by_path = {r.path: r for r in results}
    assert by_path["csv parse"].wire_bytes < by_path["json decode"].wire_bytes == by_path["limit"].wire_bytes


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
        start = time.perf_counter()
        body = requests.get(base + "/syncs/5/data?offset=0&limit=2500", timeout=30).content
        # A lower bound only: the page cannot reach the client faster than the 10 MB/s link carries it.
        assert time.perf_counter() - start >= len(body) / 10e6
