"""The load tasks of tests/system/dags/eloqua_matrix.py, built and run without a DAG (tests/task_runner.py).

``import_task`` is the one-task import; ``run_split`` runs create -> upload -> sensor one after
the other, each task given what the one before returned, as Airflow's XComs would give it.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_eloqua.operators.eloqua import (
    EloquaCreateImportOperator,
    EloquaImportOperator,
    EloquaUploadDataOperator,
)
from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor
from tests.system.dags.matrix import CONTACT_FIELDS
from tests.task_runner import TaskRun, run_task

#: Hook retries and upload restarts spaced by milliseconds (a test with ``worker_clock`` sleeps none at all).
FAST_RETRIES = {"initial_wait": 0.01, "max_wait": 0.05}


def _definition_args(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "entity": spec.pop("entity", "contacts"),
        "parent_id": spec.pop("parent_id", None),
        "name": spec.pop("name", "matrix import"),
        "fields": spec.pop("fields", CONTACT_FIELDS),
        "identifier_field_name": spec.pop("identifier", "Email"),
    }


def import_task(**spec: Any) -> EloquaImportOperator:
    """The matrix's ``import`` task: keys as in eloqua_matrix.py, other keys passed to the operator."""
    spec.setdefault("poll_interval", 0.05)
    spec.setdefault("timeout", 60)
    return EloquaImportOperator(task_id="import", **_definition_args(spec), **spec)


def sensor_task(upload: TaskRun, **spec: Any) -> EloquaSyncSensor:
    """The matrix's ``wait`` task on the sync the upload task started."""
    spec.setdefault("poke_interval", spec.pop("poll_interval", 0.05))
    spec.setdefault("timeout", 60)
    return EloquaSyncSensor(
        task_id="wait",
        sync_uri=upload.xcoms["sync_uri"],
        expected_rows=upload.xcoms["sync_rows"],
        staged_input=upload.xcoms.get("staged_input"),
        **spec,
    )


def run_split(
    *, retries: int = 0, deferrable: bool = False, sensor: dict[str, Any] | None = None, **spec: Any
) -> dict[str, TaskRun]:
    """create -> upload -> wait, as the matrix's ``split`` mode: each task's run, by task id (a task
    whose upstream failed is missing)."""
    definition = _definition_args(spec)
    create = run_task(EloquaCreateImportOperator(task_id="create", **definition), retries=retries)
    runs = {"create": create}
    if create.state != "success":
        return runs
    spec.setdefault("poll_interval", 0.05)
    upload = run_task(
        EloquaUploadDataOperator(task_id="upload", definition_uri=create.return_value, **spec), retries=retries
    )
    runs["upload"] = upload
    if upload.state == "success":
        wait = sensor_task(upload, deferrable=deferrable, poll_interval=spec["poll_interval"], **(sensor or {}))
        runs["wait"] = run_task(wait, retries=retries)
    return runs


def run_template(*, retries: int = 0, **spec: Any) -> dict[str, TaskRun]:
    """create (``reuse_existing=True``) -> import from it, as the matrix's ``template`` mode and
    example_eloqua_accounts.py: one long-lived definition, each load into a copy of its own."""
    definition = _definition_args(spec)
    create = run_task(EloquaCreateImportOperator(task_id="create", reuse_existing=True, **definition))
    runs = {"create": create}
    if create.state == "success":
        spec.setdefault("poll_interval", 0.05)
        load = EloquaImportOperator(task_id="import", definition_uri=create.return_value, **spec)
        runs["import"] = run_task(load, retries=retries)
    return runs
