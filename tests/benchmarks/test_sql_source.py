"""The SQL source benchmark runs end to end at its smallest size (no timing assertions): a private
PostgreSQL server, the link server, the CSV limit, the query's rows staged as the operator stages
them, and a fresh process per row count for rows/s and peak RSS. Checks that every path sent every
row and that the server counted exactly what each path says it sent."""

from __future__ import annotations

import pytest

from benchmarks import sql_source as bench

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]


def test_sql_benchmark_smoke(capsys):
    results = bench.main(["--smoke"])
    out = capsys.readouterr().out
    assert "ratio = limit time / sql time" in out

    n = bench.SMOKE["rows"]
    limit, sql = results["limit"], results["sql"]
    assert limit.rows == sql.rows == n
    for row in (limit, sql):
        assert row.server == {
            "requests": row.posts * row.runs,
            "body_bytes": row.wire_bytes * row.runs,
            "rows": row.rows * row.runs,
        }
    assert sql.wire_bytes == limit.wire_bytes  # text rows go as CSV: the same bytes as the limit
    assert sorted(results["rss"]) == sorted(bench.SMOKE["rss_rows"])
    for size, got in results["rss"].items():
        assert got["rows"] == size and got["seconds"] > 0
        assert got["peak_mb"] >= got["before_mb"] > 0
