"""Smoke run of the deferred-wait benchmark (real `airflow standalone`), so it cannot rot. No timing asserts."""

from __future__ import annotations

from benchmarks.deferred_wait import run


def test_deferred_wait_benchmark_smoke():
    # Long enough a deferral (about ten seconds) for the probe task to start and finish inside it.
    result = run(polls=10, poll_seconds=1.0, limit_seconds=300)

    assert result["dag_run"] == "success", result
    assert "deferred" in result["sensor_states"]
    assert result["probe_ran_inside_deferral"], result
    assert result["sync_gets_in_deferral"] <= result["poll_intervals_in_deferral"] + 1
