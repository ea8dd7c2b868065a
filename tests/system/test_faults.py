"""A fault that only Airflow's retries and its triggerer get a load out of, in a real DAG run
(``dag.test()``) against the emulator. Every other fault is met at the lowest layer that shows it:
the hook (tests/hooks), the upload's restarts (tests/test_staging.py) and the operators through
their tries (tests/operators, with tests/task_runner.py).
"""

from __future__ import annotations

import pytest

from tests.system.dags.matrix import api_requests, captured, contacts, data_posts, run_matrix, syncs

FAULT_SYNC_GET = r"^/syncs/\d+$"  # fault paths are relative to the Bulk base


@pytest.fixture
def env(airflow_db, eloqua_conn):
    return eloqua_conn


def test_the_retry_of_a_deferred_import_reattaches_to_its_sync_and_pushes_its_xcoms_again(
    env, monkeypatch, capfd, caplog
):
    """The first try dies after starting its sync (its first look at the sync fails with a 400, not
    retried by the hook). Airflow clears the task's XComs and retries it: the retry finds the sync
    in the task state store, reattaches, defers to the triggerer and pushes ``sync_uri`` again (a
    downstream sensor still needs it)."""
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=1, status=400)

    result = run_matrix(monkeypatch, mode="import", data=contacts(12), retries=1, deferrable=True)

    assert result.state == "success", result.tasks
    task = result["import"]
    assert task.try_number == 2
    assert "Reattaching to sync /syncs/100" in captured(capfd, caplog)
    assert task.xcoms["sync_uri"] == task.return_value["sync_uri"] == "/syncs/100"
    assert len(api_requests(env, "POST", r"/syncs$")) == 1  # no second sync
    assert len(data_posts(env)) == 1  # nothing uploaded again
    assert api_requests(env, "DELETE", r"/data$") == []  # staging not touched: no 409
    assert [s["rows"] for s in syncs(env)] == [12]
    assert task.return_value["created"] == 12
    assert len(env.control.records("/contacts")) == 12
