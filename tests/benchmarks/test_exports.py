"""The export benchmark (benchmarks/exports.py) runs end to end at its smallest size (no timing assertions)."""

from __future__ import annotations

import pytest

from benchmarks import run as bench

pytestmark = pytest.mark.timeout(600)


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
