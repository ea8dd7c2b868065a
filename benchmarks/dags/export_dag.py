"""Benchmark DAG: ``EloquaExportOperator`` writes every contact of the ``eloqua_bench`` link server's
export to ``dag_run.conf["path"]`` (CSV or NDJSON, from the extension)."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_provider_eloqua.operators.eloqua import EloquaExportOperator

FIELDS = {name: f"{{{{Contact.Field(C_{name})}}}}" for name in ("Email", "FirstName", "LastName", "Company", "Country")}


@dag(dag_id="eloqua_bench_export", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def eloqua_bench_export():
    EloquaExportOperator(
        task_id="export",
        eloqua_conn_id="eloqua_bench",
        entity="contacts",
        name="Bench export",
        fields=FIELDS,
        path="{{ dag_run.conf['path'] }}",
        poll_interval=0.1,
    )


eloqua_bench_export()
