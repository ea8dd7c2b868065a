"""One DAG for the reliability, bad-input and security matrices (tests/system/test_faults.py & co).

Its shape comes from the JSON in ELOQUA_MATRIX_SPEC, read when the file is parsed (the tests set
it before each run), so one file serves every case:

* ``mode="import"``: one EloquaImportOperator task ``import``.
* ``mode="split"``: ``create`` (EloquaCreateImportOperator) -> ``upload`` (EloquaUploadDataOperator)
  -> ``wait`` (EloquaSyncSensor).
* ``mode="detached"``: ``import`` (EloquaImportOperator, ``wait=False``) -> ``wait``
  (EloquaSyncSensor on its ``sync_uri`` and ``sync_rows``), the follow-up its docstring names.
* ``mode="upload"``: one EloquaUploadDataOperator task ``upload`` for an existing ``definition_uri``.
* ``mode="template"``: ``create`` (EloquaCreateImportOperator, ``reuse_existing=True``) ->
  ``import`` (EloquaImportOperator with ``definition_uri=create.output``), as
  example_eloqua_accounts.py does: one long-lived definition shared by every run.

Keys: dag_id, entity, parent_id, name, fields, identifier, definition_uri, data, path, format,
chunk_bytes, max_bytes_per_sync, http_retry_policy, retries, deferrable, poll_interval, timeout, sensor_mode, on_warning,
max_rejected_rows, wait, rejects_path, reuse_existing (split mode's create task).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG

from airflow_provider_eloqua.operators.eloqua import (
    EloquaCreateImportOperator,
    EloquaImportOperator,
    EloquaUploadDataOperator,
)
from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor

SPEC = json.loads(os.environ.get("ELOQUA_MATRIX_SPEC") or "{}")
CONTACT_FIELDS = {
    "Email": "{{Contact.Field(C_EmailAddress)}}",
    "FirstName": "{{Contact.Field(C_FirstName)}}",
    "LastName": "{{Contact.Field(C_LastName)}}",
}

mode = SPEC.get("mode", "import")
definition_args = {
    "entity": SPEC.get("entity", "contacts"),
    "parent_id": SPEC.get("parent_id"),
    "name": SPEC.get("name", "matrix import"),
    "fields": SPEC.get("fields", CONTACT_FIELDS),
    "identifier_field_name": SPEC.get("identifier", "Email"),
    "update_rule": SPEC.get("update_rule"),
    "sync_actions": SPEC.get("sync_actions"),
    "definition_extra": SPEC.get("definition_extra"),
}
upload_args = {
    "data": SPEC.get("data"),
    "path": SPEC.get("path"),
    "format": SPEC.get("format"),
    "chunk_bytes": SPEC.get("chunk_bytes", 30 * 1024 * 1024),
    **({"max_bytes_per_sync": SPEC["max_bytes_per_sync"]} if "max_bytes_per_sync" in SPEC else {}),
    # The hook's retries, which also space the restarts of an upload after an ambiguous data POST.
    **({"http_retry_policy": SPEC["http_retry_policy"]} if "http_retry_policy" in SPEC else {}),
}
# How the upload operator waits for the syncs of earlier batches of a big input.
batch_wait_args = {"poll_interval": SPEC.get("poll_interval", 0.05), "timeout": SPEC.get("timeout", 60)}
wait_args = {
    "deferrable": SPEC.get("deferrable", False),
    "timeout": SPEC.get("timeout", 60),
    "on_warning": SPEC.get("on_warning", "succeed"),
    "max_rejected_rows": SPEC.get("max_rejected_rows"),
}


def wait_for(loader: Any) -> EloquaSyncSensor:
    """The ``wait`` task: the sensor on the sync ``loader`` started, checking the rows it staged."""
    return EloquaSyncSensor(
        task_id="wait",
        sync_uri=loader.output["sync_uri"],
        expected_rows=loader.output["sync_rows"],
        mode=SPEC.get("sensor_mode", "poke"),
        poke_interval=SPEC.get("poll_interval", 0.05),
        **wait_args,
    )


with DAG(
    dag_id=SPEC.get("dag_id", "eloqua_matrix"),
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": SPEC.get("retries", 0), "retry_delay": timedelta(seconds=0)},
    tags=["eloqua", "test"],
):
    if mode == "import":
        EloquaImportOperator(
            task_id="import",
            definition_uri=SPEC.get("definition_uri"),
            poll_interval=SPEC.get("poll_interval", 0.05),
            wait=SPEC.get("wait", True),
            rejects_path=SPEC.get("rejects_path"),
            **definition_args,
            **upload_args,
            **wait_args,
        )
    elif mode == "split":
        create = EloquaCreateImportOperator(
            task_id="create", reuse_existing=SPEC.get("reuse_existing", False), **definition_args
        )
        upload = EloquaUploadDataOperator(
            task_id="upload", definition_uri=create.output, **upload_args, **batch_wait_args
        )
        wait_for(upload)
    elif mode == "detached":
        detached = EloquaImportOperator(
            task_id="import",
            wait=False,
            poll_interval=SPEC.get("poll_interval", 0.05),
            **definition_args,
            **upload_args,
        )
        wait_for(detached)
    elif mode == "upload":
        EloquaUploadDataOperator(
            task_id="upload",
            definition_uri=SPEC["definition_uri"],
            start_sync=SPEC.get("start_sync", True),
            **upload_args,
            **batch_wait_args,
        )
    elif mode == "template":
        template = EloquaCreateImportOperator(task_id="create", reuse_existing=True, **definition_args)
        EloquaImportOperator(
            task_id="import",
            definition_uri=template.output,
            poll_interval=SPEC.get("poll_interval", 0.05),
            **upload_args,
            **wait_args,
        )
    else:
        raise ValueError(f"unknown ELOQUA_MATRIX_SPEC mode {mode!r}")
