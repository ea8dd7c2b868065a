"""The DAG of the export test that needs a real DAG run (tests/system/test_exports.py).

Its arguments come from the JSON in ELOQUA_EXPORT_SPEC, read when the file is parsed (the test sets it
before the run). The split path: ``export`` (EloquaExportOperator with ``export`` as its arguments; give
it ``wait=False``) -> ``wait`` (EloquaSyncSensor on its ``sync_uri``) -> ``download``
(EloquaDownloadSyncOperator to the path ``download``).
"""

from __future__ import annotations

import json
import os

import pendulum
from airflow.sdk import DAG

from airflow_provider_eloqua.operators.eloqua import EloquaDownloadSyncOperator, EloquaExportOperator
from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor

SPEC = json.loads(os.environ.get("ELOQUA_EXPORT_SPEC") or "{}")
CONTACT_FIELDS = {
    "Email": "{{Contact.Field(C_EmailAddress)}}",
    "FirstName": "{{Contact.Field(C_FirstName)}}",
    "LastName": "{{Contact.Field(C_LastName)}}",
}

with DAG(
    dag_id="eloqua_exports",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):
    export = EloquaExportOperator(
        task_id="export",
        **{
            "entity": "contacts",
            "name": "export test",
            "fields": CONTACT_FIELDS,
            "poll_interval": 0.05,
            "timeout": 60,
            "lag": 0,
            "path": "/tmp/eloqua-exports-test/unused.csv",  # the test gives its own
            **SPEC.get("export", {}),
        },
    )
    wait = EloquaSyncSensor(task_id="wait", sync_uri=export.output["sync_uri"], poke_interval=0.05, timeout=60)
    download = EloquaDownloadSyncOperator(
        task_id="download",
        sync_uri=export.output["sync_uri"],
        path=SPEC.get("download", "/tmp/eloqua-exports-test/unused-download.csv"),
        since=export.output["since"],
        until=export.output["until"],
    )
    export >> wait >> download
