"""Which failures Airflow retries: real DAG runs with ``retries=2``, the tries counted.

A failure a retry cannot change (credentials refused, bad input, a definition Eloqua refuses, a row
count that does not match) fails the task on its first try; a failure a retry can change (a look at
the sync refused once, a sync that ended in ``error``) keeps Airflow's retries until the load
succeeds, with every row loaded once.
"""

from __future__ import annotations

import json

import pytest

from tests.dag_runner import clear_and_rerun
from tests.system.dags.matrix import (
    DAG_FILE,
    DAG_ID,
    api_requests,
    captured,
    contacts,
    run_matrix,
    staged_rows,
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


def test_a_sync_that_ended_in_error_is_loaded_again_by_the_retries(env, monkeypatch):
    env.control.configure(force_status=["error", "error"])

    result = run_matrix(monkeypatch, mode="import", data=contacts(5), retries=2)

    assert result.state == "success", result.tasks
    assert result["import"].try_number == 3
    assert [s["status"] for s in syncs(env)] == ["error", "error", "success"]
    assert len(env.control.records("/contacts")) == 5
    assert staged_rows(env) == {}


def _one_bad_email():
    rows = contacts(5)
    rows[2]["Email"] = "bad-3"
    return rows


@pytest.mark.parametrize(
    ("setup", "spec", "fixed"),
    [
        (
            lambda env: env.control.configure(force_status=["warning"]),
            {"on_warning": "fail", "data": contacts(5)},
            {"on_warning": "fail", "data": contacts(5)},  # the cause was in Eloqua: the same DAG is cleared
        ),
        (
            lambda env: None,
            {"max_rejected_rows": 0, "data": _one_bad_email()},
            {"max_rejected_rows": 0, "data": contacts(5)},  # the input is fixed, then the task cleared
        ),
    ],
    ids=["on-warning-fail", "too-many-rejects"],
)
def test_a_refused_outcome_fails_without_retries_and_the_try_after_a_clear_loads_again(
    env, monkeypatch, capfd, caplog, setup, spec, fixed
):
    """A retry cannot change what Eloqua did: the task fails on its first try, saying what to do, and
    the try after a Clear is a new load."""
    setup(env)
    first = run_matrix(monkeypatch, mode="import", retries=2, **spec)

    assert first.state == "failed"
    assert first["import"].try_number == 1  # retries=2, none used
    assert "A retry cannot change what Eloqua did, so the task is not retried" in captured(capfd, caplog)

    monkeypatch.setenv("ELOQUA_MATRIX_SPEC", json.dumps({"mode": "import", "retries": 2, **fixed}))
    result = clear_and_rerun(DAG_FILE, DAG_ID, first.run_id)

    assert result.state == "success", result.tasks
    assert result["import"].try_number == 2
    assert "New load" in captured(capfd, caplog)
    assert [s["status"] for s in syncs(env)] == ["warning", "success"]
    assert sorted(r["{{Contact.Field(C_EmailAddress)}}"] for r in env.control.records("/contacts")) == sorted(
        row["Email"] for row in contacts(5)
    )


def test_a_clear_after_accepting_a_refused_warning_judges_the_same_sync_again(env, monkeypatch, capfd, caplog):
    env.control.configure(force_status=["warning"])
    first = run_matrix(monkeypatch, mode="import", retries=2, on_warning="fail", data=contacts(5))
    assert (first.state, first["import"].try_number) == ("failed", 1)

    monkeypatch.setenv("ELOQUA_MATRIX_SPEC", json.dumps({"mode": "import", "retries": 2, "data": contacts(5)}))
    result = clear_and_rerun(DAG_FILE, DAG_ID, first.run_id)

    assert result.state == "success", result.tasks
    assert result["import"].return_value["status"] == "warning"
    assert "is judged again by" in captured(capfd, caplog)
    assert [s["status"] for s in syncs(env)] == ["warning"]  # nothing loaded again
    assert len(api_requests(env, "POST", r"/data$")) == 1
