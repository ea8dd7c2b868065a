"""EloquaSyncSensor inside real Airflow against the emulator: early finish, bad input, deadline."""

from __future__ import annotations

import pytest

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor
from tests.dag_runner import run_dag, write_dag_file

DAG_TEMPLATE = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor

with DAG("{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    EloquaSyncSensor(task_id="wait", sync_uri="{sync_uri}", poke_interval=0.2, timeout={timeout}, deferrable={deferrable})
"""


def finished_sync(emulator, status: str | None = None) -> str:
    """A sync that has already ended (polled to the end through the hook)."""
    if status:
        emulator.control.configure(force_status=status)
    hook = EloquaHook()
    uri = hook.create_import(
        "contacts",
        {"name": "s", "fields": {"Email": "{{Contact.Field(C_EmailAddress)}}"}, "identifierFieldName": "Email"},
    )["uri"]
    hook.upload_rows(uri, [{"Email": "a@example.com"}])
    sync_uri = hook.create_sync(uri)["uri"]
    while hook.get_sync(sync_uri)["status"] in ("pending", "active"):
        pass
    return sync_uri


def sensor_dag(dag_id: str, sync_uri: str, deferrable: bool, timeout: float = 30):
    code = DAG_TEMPLATE.format(dag_id=dag_id, sync_uri=sync_uri, deferrable=deferrable, timeout=timeout)
    return write_dag_file(f"{dag_id}.py", code)


@pytest.mark.parametrize("deferrable", [True, False])
def test_already_finished_sync_is_reported_without_deferring(airflow_db, eloqua_conn, deferrable):
    sync_uri = finished_sync(eloqua_conn)
    eloqua_conn.control.clear_requests()
    dag_id = f"sensor_finished_{deferrable}"

    result = run_dag(sensor_dag(dag_id, sync_uri, deferrable), dag_id)

    assert result["wait"].state == "success"
    assert result["wait"].return_value["status"] == "success"
    status_gets = [r for r in eloqua_conn.control.requests() if r["path"].endswith(sync_uri)]
    assert len(status_gets) == 1


def test_errored_sync_fails_the_sensor_in_deferrable_mode(airflow_db, eloqua_conn):
    sync_uri = finished_sync(eloqua_conn, status="errored")

    result = run_dag(sensor_dag("sensor_errored", sync_uri, True), "sensor_errored")

    assert result["wait"].state == "failed"


def test_bad_arguments_fail_at_construction():
    with pytest.raises(EloquaInputError, match="on_warning"):
        EloquaSyncSensor(task_id="s", sync_uri="/syncs/1", on_warning="ignore")
