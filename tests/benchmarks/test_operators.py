"""The operator benchmark (benchmarks/operators.py) runs end to end at its smallest size (no timing assertions)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(600)


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
