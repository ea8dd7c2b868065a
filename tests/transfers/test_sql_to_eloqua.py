"""transfers/sql_to_eloqua.py: SqlToEloquaOperator's arguments, and its ``.sql`` file rendered by Airflow as a
template with the DAG's params, then run (tests/task_runner.py) against the emulator, on an embedded SQLite
warehouse."""

from __future__ import annotations

import csv
import json
import sqlite3

import pytest
from airflow.sdk import DAG

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.transfers.sql_to_eloqua import SqlToEloquaOperator
from tests.operators.tasks import sensor_task
from tests.task_runner import run_task


@pytest.fixture
def warehouse(tmp_path, monkeypatch) -> str:
    """The connection id of an SQLite warehouse whose table ``people`` has ids 1-7, id 4 without a valid e-mail."""
    path = tmp_path / "warehouse.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE people (id INTEGER, email TEXT, first TEXT, seen TIMESTAMP)")
        conn.executemany(
            "INSERT INTO people VALUES (?, ?, ?, ?)",
            [
                (i, "not-an-email" if i == 4 else f"p{i}@example.com", f"F{i}", f"2026-03-0{i} 10:00:00")
                for i in range(1, 8)
            ],
        )
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_LITE", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return "warehouse_lite"


def test_a_sql_file_is_rendered_and_its_rejects_are_mapped_to_query_rows(eloqua_conn, tmp_path, warehouse):
    (tmp_path / "people.sql").write_text(
        "SELECT email AS Email, first AS FirstName FROM people WHERE id <= {{ params.last }} AND id > ? ORDER BY id;\n"
    )
    rejects = tmp_path / "rejects.ndjson"
    with DAG("sql_operator_file", schedule=None, template_searchpath=[str(tmp_path)], params={"last": 6}):
        operator = SqlToEloquaOperator(
            task_id="load",
            sql="people.sql",
            parameters=[1],
            sql_conn_id="warehouse_lite",
            entity="contacts",
            name="people",
            fields={"Email": "{{Contact.Field(C_EmailAddress)}}", "FirstName": "{{Contact.Field(C_FirstName)}}"},
            identifier_field_name="Email",
            rejects_path=str(rejects),
            poll_interval=0.01,
            timeout=60,
        )
    operator.render_template_fields({"params": {"last": 6}})
    assert operator.sql.startswith("SELECT email AS Email, first AS FirstName FROM people WHERE id <= 6 AND id > ?")

    result = run_task(operator)

    assert result.state == "success", result.error
    summary = result.return_value
    assert summary["rows"] == 5 and summary["created"] == 4 and summary["rejected"] == 1  # ids 2..6
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["input_row"], r["field_values"]["Email"]) for r in written] == [(3, "not-an-email")]  # query row 3
    assert sorted(r["identifier"] for r in eloqua_conn.control.records("/contacts")) == [
        f"p{i}@example.com" for i in (2, 3, 5, 6)
    ]


def test_wait_false_then_the_sensor_maps_its_rejects_to_query_rows(eloqua_conn, tmp_path, warehouse):
    """The split path: the upload task returns at its sync, its ``staged_input`` describes the query,
    and the sensor runs the query again to give each reject its query row, as the one-task path does."""
    upload = run_task(
        SqlToEloquaOperator(
            task_id="upload",
            sql="SELECT email AS Email FROM people WHERE id > ? ORDER BY id",
            parameters=[1],
            sql_conn_id=warehouse,
            entity="contacts",
            name="people",
            fields={"Email": "{{Contact.Field(C_EmailAddress)}}"},
            identifier_field_name="Email",
            wait=False,
        )
    )
    assert upload.state == "success", upload.error
    assert upload.xcoms["staged_input"]["row_source"]["sql_conn_id"] == "warehouse_lite"
    rejects = tmp_path / "rejects.csv"

    wait = run_task(sensor_task(upload, rejects_path=str(rejects), poll_interval=0.01))

    assert wait.state == "success", wait.error
    with rejects.open() as handle:
        written = list(csv.DictReader(handle))
    assert [(r["input_row"], json.loads(r["field_values"])["Email"]) for r in written] == [("3", "not-an-email")]


def test_a_query_whose_sync_is_refused_fails_linking_its_load_definition(eloqua_conn, warehouse):
    """The load definition is linked once created: the task that fails to start its sync shows it."""
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

    eloqua_conn.control.add_fault(method="POST", path=r"^/syncs$", times=None, status=400)
    operator = SqlToEloquaOperator(
        task_id="load",
        sql="SELECT email AS Email FROM people WHERE id = 1",
        sql_conn_id=warehouse,
        entity="contacts",
        name="people",
        fields={"Email": "{{Contact.Field(C_EmailAddress)}}"},
        identifier_field_name="Email",
    )

    result = run_task(operator)

    assert result.state == "failed"
    (definition,) = [d["uri"] for d in eloqua_conn.control.state()["definitions"]]
    assert result.context["ti"].xcoms["eloqua_links"] == {"definition": EloquaHook().base_url + definition}


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"fetch_size": 0}, "fetch_size must be a positive integer"),
        ({"time_zone": "Mars/Olympus"}, "time_zone must be an IANA time zone name"),
        ({"data": [{"Email": "a@x.io"}]}, "reads its rows from sql; data cannot be given"),
    ],
)
def test_arguments_are_checked_when_the_dag_is_parsed(arguments, match):
    with pytest.raises(EloquaInputError, match=match):
        SqlToEloquaOperator(task_id="t", sql="SELECT 1", sql_conn_id="db", entity="contacts", name="n", **arguments)


def test_sql_is_one_query(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "x.db")}))
    operator = SqlToEloquaOperator(
        task_id="t", sql="SELECT 1 AS a; SELECT 2 AS b;", sql_conn_id="db", entity="contacts", name="n"
    )
    with pytest.raises(EloquaInputError, match="sql must be one query; got 2 statements"):
        operator.query_rows  # noqa: B018
    operator.sql = "SELECT 1 AS a;\n"
    assert operator.query_rows.sql == "SELECT 1 AS a"
    monkeypatch.setenv("AIRFLOW_CONN_NOT_SQL", connection_json_for_eloqua())
    operator = SqlToEloquaOperator(task_id="t", sql="SELECT 1", sql_conn_id="not_sql", entity="contacts", name="n")
    with pytest.raises(EloquaInputError, match=r"its hook, EloquaHook, is not a common\.sql DbApiHook"):
        operator.query_rows  # noqa: B018


def connection_json_for_eloqua() -> str:
    return json.dumps({"conn_type": "eloqua", "login": "u", "password": "p", "extra": {"site": "S"}})
