"""The SQL source benchmark runs end to end at its smallest size (no timing assertions): a private
PostgreSQL server, the link server, the CSV limit, the query's rows staged directly, SqlToEloquaOperator
in DAG runs, and fresh processes per row count for rows/s and peak RSS. Checks that every path sent
every row and that the server counted exactly what each path says it sent (the harness raises if not)."""

from __future__ import annotations

import pytest

from benchmarks import sql_source as bench

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]


def test_sql_benchmark_smoke(capsys):
    results = bench.main(["--smoke"])
    out = capsys.readouterr().out
    assert "window = SqlToEloquaOperator in a DAG run" in out

    n, repeat = bench.SMOKE["rows"], bench.SMOKE["repeat"]
    row = results.operator
    assert row.rows == n and row.posts >= 1
    assert len(row.calls) == repeat and all(calls > 0 for calls, _ in row.calls)
    for figure in (row.limit, row.stage_input, row.window, row.task):
        assert len(figure.seconds) == repeat and figure.best > 0
    assert results.wire_bytes > 0 and results.cpu_seconds > 0
    assert sorted(results.rss) == sorted(bench.SMOKE["rss_rows"])
    for size, got in results.rss.items():
        assert got["stage"]["rows"] == size and got["stage"]["seconds"] > 0
        assert got["stage"]["peak_mb"] >= got["stage"]["before_mb"] > 0
        assert got["dag"]["peak_mb"] > 0 and got["dag"]["rows_per_s"] > 0
