"""One DAG for the export tests that need a real DAG run (tests/system/test_exports.py).

Its shape comes from the JSON in ELOQUA_EXPORT_SPEC, read when the file is parsed (the tests set it
before each run): an optional ``import`` task (EloquaImportOperator of ``import_rows`` contacts), then
``export`` (EloquaExportOperator with ``export`` as its arguments), retried ``retries`` times at once.
With ``download`` (a path), the split path follows: ``export`` (give it ``wait=False``) -> ``wait``
(EloquaSyncSensor on its ``sync_uri``) -> ``download`` (EloquaDownloadSyncOperator to that path).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_eloqua.operators.eloqua import (
    EloquaDownloadSyncOperator,
    EloquaExportOperator,
    EloquaImportOperator,
)
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
    default_args={"retries": SPEC.get("retries", 0), "retry_delay": timedelta(seconds=0)},
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
            "path": "/tmp/eloqua-exports-test/unused.csv",  # every test gives its own
            **SPEC.get("export", {}),
        },
    )
    if "import_rows" in SPEC:
        (
            EloquaImportOperator(
                task_id="import",
                entity="contacts",
                name="round trip",
                fields=CONTACT_FIELDS,
                identifier_field_name="Email",
                data=SPEC["import_rows"],
                poll_interval=0.05,
                timeout=60,
            )
            >> export
        )
    if "download" in SPEC:
        wait = EloquaSyncSensor(task_id="wait", sync_uri=export.output["sync_uri"], poke_interval=0.05, timeout=60)
        download = EloquaDownloadSyncOperator(
            task_id="download",
            sync_uri=export.output["sync_uri"],
            path=SPEC["download"],
            since=export.output["since"],
            until=export.output["until"],
        )
        export >> wait >> download
