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

import pytest

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
