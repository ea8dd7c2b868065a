"""Benchmark DAG: a deferrable sensor waits on a slow sync while a second task needs the only worker slot.

upload -> [wait (deferrable, high priority), probe (low priority)]. With [core] parallelism = 1 the
probe can only run while the sensor is deferred, i.e. when waiting holds no worker slot.
"""

from __future__ import annotations

import os
import time

import pendulum
from airflow.sdk import dag, task

from airflow_provider_eloqua.operators.eloqua import EloquaCreateImportOperator, EloquaUploadDataOperator
from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor

POLL_SECONDS = float(os.environ.get("ELOQUA_BENCH_POLL_SECONDS", "1"))


@dag(
    dag_id="eloqua_bench_deferred_wait",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    default_args={"retries": 2, "retry_delay": 1},
)
def eloqua_bench_deferred_wait():
    definition = EloquaCreateImportOperator(
        task_id="define",
        entity="contacts",
        name="bench deferred wait",
        fields={"Email": "{{Contact.Field(C_EmailAddress)}}"},
        identifier_field_name="Email",
    )
    upload = EloquaUploadDataOperator(
        task_id="upload",
        definition_uri=definition.output,
        data=[{"Email": f"bench{n}@example.com"} for n in range(100)],
    )
    wait = EloquaSyncSensor(
        task_id="wait",
        sync_uri=upload.output["sync_uri"],
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=600,
        priority_weight=100,
    )

    @task(priority_weight=1)
    def probe() -> float:
        """Runs only if a worker slot is free while the sensor waits."""
        return time.time()

    upload >> [wait, probe()]


eloqua_bench_deferred_wait()
