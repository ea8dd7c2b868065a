"""Smoke run of the deferred-wait benchmark (real `airflow standalone`), so it cannot rot. No timing asserts."""

from __future__ import annotations

from benchmarks.deferred_wait import run


def test_deferred_wait_benchmark_smoke():
    result = run(polls=4, poll_seconds=0.5, limit_seconds=240)

    assert result["dag_run"] == "success", result
    assert "deferred" in result["sensor_states"]
    assert result["probe_ran_inside_deferral"], result
    assert result["sync_gets_in_deferral"] <= result["poll_intervals_in_deferral"] + 1
