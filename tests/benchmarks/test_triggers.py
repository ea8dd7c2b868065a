"""Smoke run of the trigger benchmark (N triggers in one event loop against a counting loopback
server): it runs and its counts hold. Wall time, RSS and the loop's longest block are reported by
``make bench``; nothing here asserts speed."""

from __future__ import annotations

import pytest

from airflow_provider_eloqua.hooks.session import POOL_CONNECTIONS
from benchmarks import triggers as bench

pytestmark = pytest.mark.timeout(600)


def test_trigger_benchmark_smoke(airflow_db, monkeypatch, capsys):
    monkeypatch.setenv("ELOQUA_BENCH_DB_READY", "1")  # the token store lives in the session's test DB
    results = bench.main(["--smoke"])
    out = capsys.readouterr().out
    assert "target one status request per poll per trigger" in out

    assert [(r.n, r.auth) for r in results] == [(20, "basic"), (20, "oauth2"), (20, "refresh-401")]
    for r in results:
        assert r.events == {"success": 20}, r
        assert r.sessions == 1  # every trigger of the connection used one shared session
        # one discovery and one grant for all twenty; after the mid-wait expiry, one more of each
        assert r.id_requests == (2 if r.auth == "refresh-401" else 1), r
        assert r.token_requests == {"basic": 0, "oauth2": 1, "refresh-401": 2}[r.auth], r
        assert r.tokens_refused == 0, r
        assert 1 <= r.connections <= POOL_CONNECTIONS, r
        assert r.status_requests - r.status_401 == r.n * bench.POLLS, r  # exactly one per poll per trigger
        assert r.status_per_poll == 1.0
        if r.auth != "refresh-401":
            assert r.status_401 == 0, r
        assert r.heartbeats > 0 and r.loop_block_s >= 0  # the loop-lag probe ran alongside
        assert r.rss_peak_kb >= r.rss_before_kb > 0
    assert results[-1].status_401 >= 1  # the expiry really happened mid-wait
