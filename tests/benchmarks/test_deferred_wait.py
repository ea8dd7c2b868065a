"""Smoke run of the deferred-wait benchmark (real `airflow standalone`), so it cannot rot.

It proves the benchmark runs and counts, not that the machine was fast: whether the probe task fit
inside the deferral and how many status GETs fell into it depend on the machine's load, so they are
reported by ``make bench`` and never asserted here.
"""

from __future__ import annotations

from benchmarks.deferred_wait import run

#: Pending, then active, then done: enough status GETs for a deferral of a few seconds, which the
#: benchmark's 0.2 s look at the task's state cannot miss.
POLLS = 4


def test_deferred_wait_benchmark_smoke():
    result = run(polls=POLLS, poll_seconds=1.0, limit_seconds=300)

    assert result["dag_run"] == "success", result
    assert result["probe_state"] == "success", result
    assert "deferred" in result["sensor_states"], result
    # The emulated sync ends on its (POLLS + 1)th status GET: the benchmark saw every one of them.
    assert result["sync_gets_total"] >= POLLS + 1, result
    assert 0 <= result["sync_gets_in_deferral"] <= result["sync_gets_total"], result
    assert isinstance(result["probe_ran_inside_deferral"], bool), result
