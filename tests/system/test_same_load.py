"""A Clear end to end: a real DAG run (``dag.test()``) that failed for good, then the UI's Clear of it,
against the emulator. The try after a Clear loads again when the earlier load cannot be resumed (its
sync is gone from Eloqua). The try after a Clear once the DAG, the template or the outcome settings
changed, or after the task succeeded, and a retry after the input or the template changed:
tests/operators/test_eloqua.py (tests/task_runner.py's ``clear_and_rerun``).
"""

from __future__ import annotations

import json

import pytest

from tests.dag_runner import clear_and_rerun, run_dag
from tests.system.dags.matrix import DAG_FILE, api_requests, captured, contacts, staged_rows, when


@pytest.fixture
def env(airflow_db, eloqua_conn):
    return eloqua_conn


def test_a_sync_gone_from_eloqua_while_deferred_fails_without_retries_and_a_clear_loads_again(
    env, monkeypatch, capfd, caplog
):
    """The emulator restarts (losing every sync) while try 1 is deferred. Whether the rows were loaded
    is unknown: try 1 fails for good, naming the way out, and the try after the UI's Clear (Airflow
    grows ``max_tries`` and keeps the task state store) loads again."""
    env.control.configure(pending_polls=1_000_000)
    # Once try 1 has its sync's answer and has looked at the sync (never in the middle of a request).
    watcher = when(lambda: bool(api_requests(env, "GET", r"/syncs/\d+$")), env.control.reset)

    # A DAG id of its own: a Clear of a run of a DAG id whose earlier version had retries=0 (another
    # test's) can take its retries from that version, and then is not seen as a Clear.
    dag_id = "eloqua_matrix_gone"
    spec = {"mode": "import", "data": contacts(5), "retries": 2, "deferrable": True, "dag_id": dag_id}
    monkeypatch.setenv("ELOQUA_MATRIX_SPEC", json.dumps(spec))
    first = run_dag(DAG_FILE, dag_id)
    watcher.join(5)

    assert first.state == "failed"
    assert first["import"].try_number == 1  # retries=2, none used: a retry could load the rows twice
    output = captured(capfd, caplog)
    assert "/syncs/100, which this task started over 5 staged row(s), is gone from Eloqua" in output
    assert "to load the input again, Clear this task" in output

    result = clear_and_rerun(DAG_FILE, dag_id, first.run_id)

    assert result.state == "success", result.tasks
    assert result["import"].try_number == 2
    assert "New load: /syncs/100, which an earlier try of this task started, is gone" in captured(capfd, caplog)
    assert len(env.control.records("/contacts")) == 5
    assert staged_rows(env) == {}
