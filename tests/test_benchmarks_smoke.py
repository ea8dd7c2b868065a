"""The upload benchmarks run end to end at their smallest size (no timing assertions).

Runs ``benchmarks.run`` exactly as ``python -m benchmarks.run --smoke`` does: the discard server
in its own process, the limit, the provider path through ``staging.stage_input`` and the hook,
and one fresh subprocess per format for the peak RSS. Checks that every run sent what the
input holds.
"""

from __future__ import annotations

import json

import pytest

from benchmarks import run as bench

pytestmark = pytest.mark.timeout(600)


def test_benchmarks_smoke(capsys):
    results = bench.main(["--smoke"])
    out = capsys.readouterr().out
    assert "target csv >= 0.9x limit" in out

    n = bench.SMOKE_SIZES[0]
    assert [(r.size, r.path) for r in results] == [(n, kind) for kind in bench.PROVIDER_FORMATS]
    rows = list(bench.contact_rows(n))
    json_body = json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()
    for r in results:
        assert r.rows == n
        assert r.chunks == 1
        # The discard server received every body the provider sent, every run.
        assert r.server_requests == r.chunks * r.runs
        assert r.server_bytes == r.body_bytes * r.runs
        if r.path == "csv":
            # CSV is sent byte for byte: the file, with the header repeated once per extra chunk.
            header = (",".join(bench.FIELDS) + "\n").encode()
            assert r.body_bytes == r.input_bytes + (r.chunks - 1) * len(header)
        else:
            assert r.body_bytes == len(json_body)
        assert r.limit_s > 0 and r.provider_s > 0 and r.chunk_only_s > 0
        # The fresh-process run sent the same rows and bytes.
        assert (r.rss["rows"], r.rss["bytes"], r.rss["chunks"]) == (n, r.body_bytes, r.chunks)
        assert r.rss["peak_mb"] >= r.rss["before_mb"] > 0


def test_benchmark_inputs_match(tmp_path):
    inputs = bench.write_inputs(tmp_path, 250)
    text = inputs.csv_path.read_text(encoding="utf-8")
    import csv
    import io

    parsed = list(csv.DictReader(io.StringIO(text, newline="")))
    expected = list(bench.contact_rows(250))
    assert parsed == expected
    assert json.loads(inputs.json_path.read_text(encoding="utf-8")) == expected
    assert any('"' in line for line in text.splitlines())  # some records need quoting
    assert any(not line.isascii() for line in text.splitlines())
