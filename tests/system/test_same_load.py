"""A later try resumes only the same load: the same input, definition arguments and template version.

Real DAG runs (``dag.test()``, and a Clear of a finished run) against the emulator. In each case a
run loaded (or failed), then something the load is made of changed before the Clear: the try after
it must load what the DAG now describes, and say in the log why the earlier work was not reused.
A retry (no Clear) after the input or the template changed: tests/operators/test_eloqua.py.
"""

from __future__ import annotations

import json

import pytest

from tests.dag_runner import clear_and_rerun, run_dag
from tests.operators.test_eloqua import FIRST_NAME, WRONG_MAPPING, first_names, template_body
from tests.system.dags.matrix import (
    CONTACT_FIELDS,
    DAG_FILE,
    DAG_ID,
    Site,
    api_requests,
    captured,
    contacts,
    run_matrix,
    staged_rows,
    syncs,
    when,
)

FAULT_SYNC_GET = r"^/syncs/\d+$"


@pytest.fixture
def env(airflow_db, eloqua_conn):
    # A sync is pending at its first look and done at its second.
    eloqua_conn.control.configure(pending_polls=1, active_polls=0)
    return eloqua_conn


def test_a_clear_after_the_template_gained_a_column_loads(env, monkeypatch, capfd, caplog):
    site = Site(env)
    two_fields = {"Email": CONTACT_FIELDS["Email"], "FirstName": FIRST_NAME}
    template = site.create_import(fields=two_fields)
    spec = {"mode": "import", "definition_uri": template, "data": contacts(10), "retries": 1}

    first = run_matrix(monkeypatch, **spec)
    assert first.state == "failed"
    assert "the definition's fields are 'Email', 'FirstName'" in captured(capfd, caplog)
    site.call("PUT", template, template_body(CONTACT_FIELDS))  # the user adds LastName to the template

    result = clear_and_rerun(DAG_FILE, DAG_ID, first.run_id)

    assert result.state == "success", result.tasks
    records = env.control.records("/contacts")
    assert sorted(r["{{Contact.Field(C_LastName)}}"] for r in records) == sorted(f"Last{i}" for i in range(1, 11))


def test_a_clear_after_the_operator_fields_changed_loads_with_the_new_fields(env, monkeypatch, capfd, caplog):
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=1, status=400)  # try 1 fails, sync started
    first = run_matrix(monkeypatch, mode="import", fields=WRONG_MAPPING, data=contacts(8))
    assert first.state == "failed"

    monkeypatch.setenv("ELOQUA_MATRIX_SPEC", json.dumps({"mode": "import", "data": contacts(8)}))  # fixed mapping
    result = clear_and_rerun(DAG_FILE, DAG_ID, first.run_id)

    assert result.state == "success", result.tasks
    assert first_names(env) == {f"person{i}@example.com": f"First{i}" for i in range(1, 9)}
    assert "New load: the definition arguments changed" in captured(capfd, caplog)
    assert len(api_requests(env, "POST", r"/syncs$")) == 2


def test_clearing_a_successful_task_says_it_loads_again(env, monkeypatch, capfd, caplog):
    first = run_matrix(monkeypatch, mode="import", data=contacts(5))
    assert first.state == "success", first.tasks

    result = clear_and_rerun(DAG_FILE, DAG_ID, first.run_id)

    assert result.state == "success", result.tasks
    assert "New load: this task loaded its input before (sync /syncs/100)" in captured(capfd, caplog)
    assert [s["rows"] for s in syncs(env)] == [5, 5]


@pytest.mark.parametrize("deferrable", [False, True], ids=["worker", "deferred"])
def test_a_sync_gone_from_eloqua_fails_without_retries_and_a_clear_loads_again(
    env, monkeypatch, capfd, caplog, deferrable
):
    """The emulator restarts (losing every sync) while try 1 waits, in the worker or deferred.
    Whether the rows were loaded is unknown: try 1 fails for good, naming the way out, and the try
    after a Clear loads again."""
    env.control.configure(pending_polls=1_000_000)
    # Once try 1 has its sync's answer and has looked at the sync (never in the middle of a request).
    watcher = when(lambda: bool(api_requests(env, "GET", r"/syncs/\d+$")), env.control.reset)

    # A DAG id of its own: a Clear of a run of a DAG id whose earlier version had retries=0 (the test
    # before) can take its retries from that version, and then is not seen as a Clear.
    dag_id = f"eloqua_matrix_gone_{deferrable}"
    spec = {"mode": "import", "data": contacts(5), "retries": 2, "deferrable": deferrable, "dag_id": dag_id}
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
