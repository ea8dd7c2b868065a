"""DAGs the CeleryExecutor deployment test runs besides the examples (tests/deployment/test_celery_deployment.py).

``eloqua_split_across_workers``: the split path with the upload on ``worker_a``'s queue and the
deferrable sensor on ``worker_b``'s, its rejects written to object storage.
``eloqua_worker_dies``: one EloquaImportOperator load in small chunks, whose worker the test kills
while an upload is held by the emulator; the retry runs on the other worker.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from airflow_provider_eloqua.operators.eloqua import (
    EloquaCreateImportOperator,
    EloquaImportOperator,
    EloquaUploadDataOperator,
)
from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor

OUTPUT_DIR = os.environ.get("ELOQUA_DEPLOY_OUTPUT_DIR", "/tmp/eloqua-deploy")
FIELDS = {"Email": "{{Contact.Field(C_EmailAddress)}}", "FirstName": "{{Contact.Field(C_FirstName)}}"}
SPLIT_ROWS, SPLIT_INVALID = 20, 2
#: 1 KiB chunks of about 35 rows: the held upload is the third of about 10 POSTs.
DIES_ROWS, DIES_CHUNK_BYTES = 300, 1024
COMMON = {
    "schedule": None,
    "start_date": pendulum.datetime(2026, 1, 1, tz="UTC"),
    "catchup": False,
    "tags": ["eloqua", "deployment-test"],
    "default_args": {"retries": 2, "retry_delay": timedelta(seconds=1)},
}


@dag(dag_id="eloqua_split_across_workers", **COMMON)
def eloqua_split_across_workers():
    @task(queue="worker_a")
    def rows() -> list[dict[str, str]]:
        return [
            {"Email": f"split{n}@example.com" if n > SPLIT_INVALID else f"not-an-address-{n}", "FirstName": f"S{n}"}
            for n in range(1, SPLIT_ROWS + 1)
        ]

    definition = EloquaCreateImportOperator(
        task_id="create_definition",
        queue="worker_a",
        entity="contacts",
        name="deployment test: split across workers",
        fields=FIELDS,
        identifier_field_name="Email",
        reuse_existing=True,
    )
    upload = EloquaUploadDataOperator(task_id="upload", queue="worker_a", definition_uri=definition.output, data=rows())
    EloquaSyncSensor(
        task_id="wait",
        queue="worker_b",
        sync_uri=upload.output["sync_uri"],
        expected_rows=upload.output["sync_rows"],
        deferrable=True,
        poke_interval=1,
        timeout=600,
        rejects_path=OUTPUT_DIR + "/{{ run_id | replace(':', '_') }}/split_rejects.csv",
    )


@dag(dag_id="eloqua_worker_dies", **COMMON)
def eloqua_worker_dies():
    @task
    def rows() -> list[dict[str, str]]:
        return [{"Email": f"dies{n}@example.com", "FirstName": f"Dies {n}"} for n in range(1, DIES_ROWS + 1)]

    EloquaImportOperator(
        task_id="load",
        entity="contacts",
        name="deployment test: worker dies",
        fields=FIELDS,
        identifier_field_name="Email",
        data=rows(),
        chunk_bytes=DIES_CHUNK_BYTES,
        poll_interval=1,
        timeout=600,
    )


eloqua_split_across_workers()
eloqua_worker_dies()
