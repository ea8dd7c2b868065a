"""Which failures Airflow retries: real DAG runs with ``retries=2``, the tries counted.

A failure a retry cannot change (credentials refused, bad input, a definition Eloqua refuses, a row
count that does not match) fails the task on its first try; a failure a retry can change (a look at
the sync refused once, a sync that ended in ``error``) keeps Airflow's retries until the load
succeeds, with every row loaded once.
"""

from __future__ import annotations

import pytest

from tests.system.dags.matrix import api_requests, captured, contacts, run_matrix, staged_rows, syncs

FAULT_SYNC_GET = r"^/syncs/\d+$"
REFUSAL = {
    "failures": [
        {"field": "fields.FirstName", "constraint": "Must be a valid field.", "value": "{{Contact.Field(C_First)}}"}
    ]
}
ONE_ROW_SHORT = {
    "items": [
        {"statusCode": "ELQ-00001", "count": 4, "message": "Total records processed.", "severity": "information"}
    ],
    "totalResults": 1,
    "limit": 1000,
    "offset": 0,
    "hasMore": False,
}


@pytest.fixture
def env(airflow_db, eloqua_conn):
    return eloqua_conn


def _bad_input():
    rows = contacts(3)
    rows[1]["Email"] = ""  # row 2: an empty identifier
    return {"data": rows}


@pytest.mark.parametrize(
    ("setup", "spec", "says"),
    [
        (lambda env: env.control.configure(password="rotated"), {}, "Check the user and password"),
        (lambda env: None, _bad_input(), "row 2: the identifier 'Email' is empty"),
        (
            lambda env: env.control.add_fault(
                method="POST", path=r"^/contacts/imports$", status=400, body=REFUSAL, times=None
            ),
            {},
            "A retry would send the same definition, so the task is not retried",
        ),
        (
            lambda env: env.control.add_fault(method="GET", path=r"/logs$", status=200, body=ONE_ROW_SHORT, times=None),
            {},
            "processed 4 row(s)",
        ),
    ],
    ids=["credentials-refused", "bad-input", "definition-refused", "row-count-mismatch"],
)
def test_a_failure_a_retry_cannot_change_fails_on_the_first_try(env, monkeypatch, capfd, caplog, setup, spec, says):
    setup(env)

    result = run_matrix(monkeypatch, **{"mode": "import", "data": contacts(5), "retries": 2, **spec})

    assert result.state == "failed"
    assert result["import"].try_number == 1  # retries=2, none used
    assert says in captured(capfd, caplog)


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
