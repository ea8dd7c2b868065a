"""Benchmark DAG: ``SqlToEloquaOperator`` as a user runs it, a warehouse query loaded in one task.

``eloqua_bench_sql`` reads ``SELECT <the benchmark's five columns> FROM <dag_run.conf["table"]>`` on the
``eloqua_bench_warehouse`` connection (the SQL benchmark's private PostgreSQL) and loads the rows into a
copy of ``/contacts/imports/1`` on the ``eloqua_bench`` connection (the link server). It returns once
the sync has started (``wait=False``): what Eloqua then does is Eloqua's time, not the task's.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_provider_eloqua.transfers.sql_to_eloqua import SqlToEloquaOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")


@dag(dag_id="eloqua_bench_sql", schedule=None, start_date=START)
def eloqua_bench_sql():
    SqlToEloquaOperator(
        task_id="upload",
        sql='SELECT "Email", "FirstName", "LastName", "Company", "Country" FROM {{ dag_run.conf["table"] }}',
        sql_conn_id="eloqua_bench_warehouse",
        eloqua_conn_id="eloqua_bench",
        definition_uri="/contacts/imports/1",
        wait=False,
    )


eloqua_bench_sql()
