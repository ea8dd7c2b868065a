"""Which failures Airflow retries: real DAG runs with ``retries=2``, the tries counted by Airflow.

A failure a retry cannot change (a definition Eloqua refuses; credentials refused while the trigger
waits) fails the task on its first try; a failure a retry can change (a look at the sync refused)
keeps Airflow's retries until the load succeeds, with every row loaded once. The same through the
operator's tries (credentials, bad input, a row count, a sync that ended in ``error``) and the try
after a Clear of a refused outcome: tests/operators/test_eloqua.py.
"""

from __future__ import annotations

import pytest

from tests.system.dags.matrix import (
    api_requests,
    captured,
    contacts,
    run_matrix,
    syncs,
    when,
)

FAULT_SYNC_GET = r"^/syncs/\d+$"
REFUSAL = {
    "failures": [
        {"field": "fields.FirstName", "constraint": "Must be a valid field.", "value": "{{Contact.Field(C_First)}}"}
    ]
}


@pytest.fixture
def env(airflow_db, eloqua_conn):
    return eloqua_conn


def test_a_failure_a_retry_cannot_change_fails_on_the_first_try(env, monkeypatch, capfd, caplog):
    """A definition Eloqua refuses: Airflow does not use the task's retries. The other failures a
    retry cannot change (credentials, bad input, a row count): tests/operators/test_eloqua.py."""
    env.control.add_fault(method="POST", path=r"^/contacts/imports$", status=400, body=REFUSAL, times=None)

    result = run_matrix(monkeypatch, mode="import", data=contacts(5), retries=2)

    assert result.state == "failed"
    assert result["import"].try_number == 1  # retries=2, none used
    assert "A retry would send the same definition, so the task is not retried" in captured(capfd, caplog)


def test_credentials_refused_during_a_deferred_wait_fail_on_the_first_try(env, monkeypatch, capfd, caplog):
    """The password changes while the trigger waits: the task raises the trigger's failure as a wait in
    the worker would (EloquaAuthError), so Airflow does not retry it."""
    env.control.configure(pending_polls=1_000_000)
    # Once the task has looked at its sync before deferring (never in the middle of a request).
    watcher = when(lambda: bool(api_requests(env, "GET", r"/syncs/\d+$")), lambda: env.control.configure(password="x"))

    result = run_matrix(monkeypatch, mode="import", data=contacts(5), retries=2, deferrable=True)
    watcher.join(5)

    assert result.state == "failed"
    assert result["import"].try_number == 1  # retries=2, none used
    output = captured(capfd, caplog)
    assert "Pausing task as DEFERRED" in output
    assert "in execute_complete" in output  # raised from the trigger's event
    assert "EloquaAuthError: Eloqua answered 200 to GET /id; body: Not authenticated." in output
    assert len(api_requests(env, "POST", r"/syncs$")) == 1


def test_a_failure_a_retry_can_change_keeps_retrying(env, monkeypatch):
    # tries 1 and 2 fail at their first look at the sync (a 400, which the hook does not resend)
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=2, status=400)

    result = run_matrix(monkeypatch, mode="import", data=contacts(5), retries=2)

    assert result.state == "success", result.tasks
    assert result["import"].try_number == 3
    assert [s["rows"] for s in syncs(env)] == [5]  # tries 2 and 3 reattached to try 1's sync
    assert len(api_requests(env, "POST", r"/data$")) == 1
    assert len(env.control.records("/contacts")) == 5
