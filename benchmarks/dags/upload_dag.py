"""Benchmark DAGs: the upload operator as a user runs it, from a file and from an upstream task's XCom.

``eloqua_bench_upload_file`` uploads ``dag_run.conf["path"]``; ``eloqua_bench_upload_rows`` uploads
the ``dag_run.conf["rows"]`` contact rows an upstream ``@task`` returns; after it, two tasks take the
same XCom and do nothing with it: ``pulled`` (``xcom_pull`` in its body) and ``argument`` (as a
``@task`` argument). Both uploads stage into a copy of ``/contacts/imports/1`` on the
``eloqua_bench`` connection and start no sync.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_provider_eloqua.operators.eloqua import EloquaUploadDataOperator

CONN_ID = "eloqua_bench"
TEMPLATE = "/contacts/imports/1"
START = pendulum.datetime(2026, 1, 1, tz="UTC")


@dag(dag_id="eloqua_bench_upload_file", schedule=None, start_date=START)
def eloqua_bench_upload_file():
    EloquaUploadDataOperator(
        task_id="upload",
        eloqua_conn_id=CONN_ID,
        definition_uri=TEMPLATE,
        path="{{ dag_run.conf['path'] }}",
        start_sync=False,
    )


@dag(dag_id="eloqua_bench_upload_rows", schedule=None, start_date=START)
def eloqua_bench_upload_rows():
    @task
    def rows(**context) -> list[dict]:
        from benchmarks.run import contact_rows

        return list(contact_rows(int(context["dag_run"].conf["rows"])))

    @task
    def pulled(**context) -> int:
        """Pulls the same XCom in its body: what Airflow's XCom transfer alone costs a task."""
        return len(context["ti"].xcom_pull(task_ids="rows"))

    @task
    def argument(rows: list[dict]) -> int:
        """Takes the same XCom as its argument, as any ``@task`` does: Airflow renders and stores it."""
        return len(rows)

    contacts = rows()
    upload = EloquaUploadDataOperator(
        task_id="upload", eloqua_conn_id=CONN_ID, definition_uri=TEMPLATE, data=contacts, start_sync=False
    )
    upload >> pulled() >> argument(contacts)


eloqua_bench_upload_file()
eloqua_bench_upload_rows()
