"""SqlToEloquaOperator in a real DAG run: what only Airflow shows (the ``.sql`` file rendered as a
template with its parameters, the task's result), on an embedded SQLite warehouse."""

from __future__ import annotations

import json
import sqlite3
import textwrap

from tests.dag_runner import run_dag, write_dag_file


def test_a_sql_file_is_rendered_and_its_rejects_are_mapped_to_query_rows(
    airflow_db, eloqua_conn, tmp_path, monkeypatch
):
    warehouse = tmp_path / "warehouse.db"
    with sqlite3.connect(warehouse) as conn:
        conn.execute("CREATE TABLE people (id INTEGER, email TEXT, first TEXT, seen TIMESTAMP)")
        conn.executemany(
            "INSERT INTO people VALUES (?, ?, ?, ?)",
            [
                (i, "not-an-email" if i == 4 else f"p{i}@example.com", f"F{i}", f"2026-03-0{i} 10:00:00")
                for i in range(1, 8)
            ],
        )
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_LITE", json.dumps({"conn_type": "sqlite", "host": str(warehouse)}))
    (tmp_path / "people.sql").write_text(
        "SELECT email AS Email, first AS FirstName FROM people WHERE id <= {{ params.last }} AND id > ? ORDER BY id;\n"
    )
    rejects = tmp_path / "rejects.ndjson"
    name = "sql_operator_file"
    path = write_dag_file(
        f"{name}.py",
        textwrap.dedent(f"""
        import pendulum
        from airflow.sdk import DAG
        from airflow_provider_eloqua.transfers.sql_to_eloqua import SqlToEloquaOperator

        with DAG("{name}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
                 template_searchpath=[{str(tmp_path)!r}], params={{"last": 6}}):
            SqlToEloquaOperator(
                task_id="load", sql="people.sql", parameters=[1], sql_conn_id="warehouse_lite",
                entity="contacts", name="people",
                fields={{"Email": "{{{{Contact.Field(C_EmailAddress)}}}}", "FirstName": "{{{{Contact.Field(C_FirstName)}}}}"}},
                identifier_field_name="Email", rejects_path={str(rejects)!r}, poll_interval=0.2, timeout=60,
            )
        """),
    )

    result = run_dag(path, name)

    assert result.state == "success", result.tasks
    summary = result["load"].return_value
    assert summary["rows"] == 5 and summary["created"] == 4 and summary["rejected"] == 1  # ids 2..6
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["input_row"], r["field_values"]["Email"]) for r in written] == [(3, "not-an-email")]  # query row 3
    assert sorted(r["identifier"] for r in eloqua_conn.control.records("/contacts")) == [
        f"p{i}@example.com" for i in (2, 3, 5, 6)
    ]
