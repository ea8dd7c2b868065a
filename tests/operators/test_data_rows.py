"""``data`` rows are kept as DataRows: the task gets every row, Airflow stores and shows a summary."""

from __future__ import annotations

import json

import pytest

from airflow_provider_eloqua.operators.data_rows import DataRows
from tests.dag_runner import run_dag, write_dag_file


def test_data_rows_is_the_rows_for_the_task_and_a_summary_for_airflow():
    rows = [{"Email": "a@customer.example", "FirstName": "A"}, {"Email": "b@customer.example", "FirstName": "B"}]
    view = DataRows.of(rows)

    assert isinstance(view, DataRows)
    assert list(view) == rows and len(view) == 2 and view[1] is rows[1] and view[:1] == rows[:1]
    assert view == rows and view == DataRows(list(rows))
    assert view.serialize() == "2 rows; columns of the first row: Email, FirstName"
    for text in (view.serialize(), repr(view), str(view)):
        assert "customer.example" not in text
    assert DataRows.of(view) is view
    assert DataRows([]).serialize() == "0 rows"
    assert DataRows([{"Email": "x"}]).serialize() == "1 row; columns of the first row: Email"


@pytest.mark.parametrize("value", [None, "{{ ti.xcom_pull('rows') }}", b"x", {"Email": "a"}, 3])
def test_data_rows_leaves_what_is_not_a_sequence_of_rows_as_it_is(value):
    assert DataRows.of(value) is value


def _rendered_fields(dag_id: str) -> dict[str, dict]:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        stored = session.scalars(select(RenderedTaskInstanceFields).where(RenderedTaskInstanceFields.dag_id == dag_id))
        return {row.task_id: row.rendered_fields for row in stored}


def test_xcom_rows_load_exactly_and_no_row_is_stored_in_the_rendered_fields(airflow_db, eloqua_conn):
    n = 3_000
    code = f"""
import pendulum
from airflow.sdk import DAG, task
from airflow_provider_eloqua.operators.eloqua import EloquaImportOperator

with DAG("op_xcom_rows_rendered", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    @task
    def rows():
        return [{{"Email": f"row{{i}}@customer.example", "FirstName": f"Name{{i}}"}} for i in range({n})]

    EloquaImportOperator(
        task_id="load", entity="contacts", name="xcom rows", identifier_field_name="Email", data=rows(),
        fields={{"Email": "{{{{Contact.Field(C_EmailAddress)}}}}", "FirstName": "{{{{Contact.Field(C_FirstName)}}}}"}},
        poll_interval=0.01, timeout=60,
    )
"""
    path = write_dag_file("op_xcom_rows_rendered.py", code)

    result = run_dag(path, "op_xcom_rows_rendered")

    assert result.state == "success"
    assert result["load"].return_value["rows_processed"] == n
    loaded = {r["identifier"]: r for r in eloqua_conn.control.records("/contacts")}
    assert sorted(loaded) == sorted(f"row{i}@customer.example" for i in range(n))
    first_name = "{{Contact.Field(C_FirstName)}}"
    assert all(loaded[f"row{i}@customer.example"][first_name] == f"Name{i}" for i in range(n))
    rendered = _rendered_fields("op_xcom_rows_rendered")["load"]
    assert rendered["data"] == "3,000 rows; columns of the first row: Email, FirstName"
    assert "customer.example" not in json.dumps(rendered)


def test_rendering_resolves_the_other_arguments_and_leaves_row_values_as_they_are():
    """A row value is data, never a template: ``{{`` in it is uploaded as it is."""
    from airflow_provider_eloqua.operators.eloqua import EloquaUploadDataOperator

    rows = [{"Email": "a@customer.example", "FirstName": "{{ ds }}"}]
    op = EloquaUploadDataOperator(task_id="upload", definition_uri="/contacts/imports/{{ params.n }}", data=rows)

    op.render_template_fields({"ds": "2026-01-01", "params": {"n": 7}})

    assert op.definition_uri == "/contacts/imports/7"
    assert isinstance(op.data, DataRows) and op.data == rows and op.data[0]["FirstName"] == "{{ ds }}"
