"""The s3:// test's DAG (tests/system/test_object_storage.py): one EloquaImportOperator reading a CSV
from an ObjectStoragePath with a connection id, as a user writes it, and writing its rejects to s3://.

The source, the rejects URL, the chunk size and the bytes per sync come from the JSON in ELOQUA_S3_SPEC, read when the
file is parsed (the test sets it first).
"""

from __future__ import annotations

import json
import os

import pendulum
from airflow.sdk import DAG, ObjectStoragePath

from airflow_provider_eloqua.operators.eloqua import EloquaImportOperator
from airflow_provider_eloqua.staging import MAX_STAGED_BYTES_PER_SYNC

SPEC = json.loads(os.environ.get("ELOQUA_S3_SPEC") or "{}")

with DAG(
    dag_id="eloqua_s3",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["eloqua", "test"],
):
    EloquaImportOperator(
        task_id="import",
        entity="contacts",
        name="contacts from s3",
        fields={
            "Email": "{{Contact.Field(C_EmailAddress)}}",
            "FirstName": "{{Contact.Field(C_FirstName)}}",
            "LastName": "{{Contact.Field(C_LastName)}}",
            "Company": "{{Contact.Field(C_Company)}}",
            "Country": "{{Contact.Field(C_Country)}}",
        },
        identifier_field_name="Email",
        path=ObjectStoragePath(SPEC.get("source", "s3://bucket/none.csv"), conn_id=SPEC.get("conn_id")),
        rejects_path=SPEC.get("rejects"),
        chunk_bytes=SPEC.get("chunk_bytes", 30 * 1024 * 1024),
        max_bytes_per_sync=SPEC.get("max_bytes_per_sync", MAX_STAGED_BYTES_PER_SYNC),
        poll_interval=0.1,
        timeout=900,
    )
