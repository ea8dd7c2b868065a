"""sensors/eloqua.py: EloquaSyncSensor's execute and poke against the emulator: early finish, bad input, deadline."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import DAG
from airflow.sdk.definitions.xcom_arg import PlainXComArg
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_eloqua.exceptions import EloquaApiError, EloquaInputError, EloquaSyncError, EloquaSyncGone
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.operators.eloqua import EloquaUploadDataOperator
from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor
from airflow_provider_eloqua.sync.waiting import error_event
from tests.task_runner import TaskInstance, task_context


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


@pytest.mark.parametrize("deferrable", [True, False])
def test_already_finished_sync_is_reported_without_deferring(eloqua_conn, deferrable):
    sync_uri = finished_sync(eloqua_conn)
    eloqua_conn.control.clear_requests()
    sensor = EloquaSyncSensor(task_id="wait", sync_uri=sync_uri, poke_interval=0.01, timeout=30, deferrable=deferrable)

    summary = sensor.execute(task_context("wait"))  # a deferral would raise TaskDeferred

    assert summary["status"] == "success"
    status_gets = [r for r in eloqua_conn.control.requests() if r["path"].endswith(sync_uri)]
    assert len(status_gets) == 1


@pytest.mark.parametrize(("status", "deferrable"), [("errored", True), ("error", False)], ids=["deferrable", "poke"])
def test_a_sync_that_ended_in_error_fails_the_sensor(eloqua_conn, status, deferrable):
    sync_uri = finished_sync(eloqua_conn, status=status)
    sensor = EloquaSyncSensor(task_id="wait", sync_uri=sync_uri, poke_interval=0.01, timeout=30, deferrable=deferrable)

    with pytest.raises(EloquaSyncError, match=rf"{sync_uri} ended with status '{status}'"):
        sensor.execute(task_context("wait"))


def test_bad_arguments_fail_at_construction():
    with pytest.raises(EloquaInputError, match="on_warning"):
        EloquaSyncSensor(task_id="s", sync_uri="/syncs/1", on_warning="ignore")


def test_poke_and_reschedule_waits_never_sleep_past_the_deadline(eloqua_conn, worker_clock):
    """timeout=15, poke_interval=30, and Eloqua answers every look 503 with Retry-After: 600. The
    look's retries stop before the deadline, the pause before the next poke (a sleep in poke mode,
    the reschedule date in reschedule mode) is the 15 s left, and the one after that is none."""
    sync_uri = finished_sync(eloqua_conn)
    eloqua_conn.control.add_fault(
        method="GET", path=r"^/syncs/\d+$", status=503, times=None, headers={"Retry-After": "600"}
    )
    eloqua_conn.control.clear_requests()
    sensor = EloquaSyncSensor(task_id="wait", sync_uri=sync_uri, poke_interval=30, timeout=15)
    assert sensor._start_watch({}) == worker_clock.now + 15  # poke mode: the wait starts now

    assert sensor.poke({}) is False
    assert sensor._get_next_poke_interval(worker_clock.now, lambda: 0.0, 1) == 15
    worker_clock.now += 15
    assert sensor.poke({}) is False
    assert sensor._get_next_poke_interval(worker_clock.now, lambda: 15.0, 2) == 0
    assert [r["status"] for r in eloqua_conn.control.requests() if r["path"].endswith(sync_uri)] == [503, 503]
    assert "503" in sensor._watch.timeout_message(15)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"sync_uri": 7}, "sync_uri"), ({"sync_uri": "/syncs/x"}, "sync_uri")],
)
def test_a_sync_uri_that_rendered_to_a_number_is_named(eloqua_conn, kwargs, argument):
    sensor = EloquaSyncSensor(task_id="wait", **kwargs)
    with pytest.raises(EloquaInputError, match=rf"^{argument} must look like /syncs/123; got "):
        sensor.execute({})


def finished_export_sync(emulator, rows: int) -> str:
    """An export sync of ``rows`` contacts that has already ended."""
    emulator.control.seed("/contacts", count=rows, template={"{{Contact.Field(C_EmailAddress)}}": "c{n}@example.com"})
    hook = EloquaHook()
    uri = hook.create_definition(
        "contacts", {"name": "e", "fields": {"Email": "{{Contact.Field(C_EmailAddress)}}"}}, kind="exports"
    )["uri"]
    sync_uri = hook.create_sync(uri)["uri"]
    while hook.get_sync(sync_uri)["status"] in ("pending", "active"):
        pass
    return sync_uri


def test_an_export_sync_is_reported_by_its_log_not_as_an_import(eloqua_conn):
    """No rows to check or rejects to list: the export's exported count is in the summary, and the
    export definition (the user's) is kept."""
    sync_uri = finished_export_sync(eloqua_conn, rows=3)
    sensor = EloquaSyncSensor(task_id="wait", sync_uri=sync_uri)
    ti = TaskInstance("wait")

    done = sensor.poke({"ti": ti})  # an export records no Asset: only the links' XCom is written

    assert done.is_done and done.xcom_value["status"] == "success"
    assert done.xcom_value["counts"]["ELQ-00102"] == 3
    links = ti.xcoms["eloqua_links"]
    assert links["sync"] == EloquaHook().base_url + sync_uri
    assert "/contacts/exports/" in links["definition"]
    assert not [r for r in eloqua_conn.control.requests() if r["path"].endswith("/rejects")]
    assert not [r for r in eloqua_conn.control.requests() if r["method"] == "DELETE"]


def test_import_arguments_on_an_export_sync_are_refused_naming_them(eloqua_conn):
    sync_uri = finished_export_sync(eloqua_conn, rows=1)
    sensor = EloquaSyncSensor(task_id="wait", sync_uri=sync_uri, expected_rows=1)
    with pytest.raises(
        EloquaInputError, match=r"expected_rows and rejects_path apply to import syncs; .*/contacts/exports/"
    ):
        sensor.poke({"ti": TaskInstance("wait")})


def test_a_sensor_on_an_upload_tasks_sync_uri_is_given_its_staged_input_by_itself():
    """The split path: the sensor's ``staged_input`` is the upload's XCom of that name, with no argument
    to write; a sync URI of any other origin has none (rejects are then numbered by Eloqua's index)."""
    with DAG("split", schedule=None):
        upload = EloquaUploadDataOperator(task_id="upload", definition_uri="/contacts/imports/1", data=[{"Email": "a"}])
        wait = EloquaSyncSensor(task_id="wait", sync_uri=upload.output["sync_uri"])
        other = EloquaSyncSensor(task_id="other", sync_uri=upload.output["definition_uri"])
        given = EloquaSyncSensor(task_id="given", sync_uri="/syncs/1")
    assert isinstance(wait.staged_input, PlainXComArg)
    assert (wait.staged_input.operator, wait.staged_input.key) == (upload, "staged_input")
    assert other.staged_input is None and given.staged_input is None


def test_a_sync_gone_from_eloqua_fails_the_sensor_without_retries_in_every_mode(eloqua_conn):
    """A 404 for the sync, seen by a poke or carried by the trigger's event, is EloquaSyncGone (an
    AirflowFailException): a retry would find the sync gone again. The error names the way out."""
    sensor = EloquaSyncSensor(task_id="wait", sync_uri="/syncs/424242")
    with pytest.raises(EloquaSyncGone, match=r"/syncs/424242 is gone from Eloqua \(Eloqua answered 404") as poked:
        sensor.poke({"ti": TaskInstance("wait")})
    assert "Clear the task that started the sync" in str(poked.value)

    with pytest.raises(EloquaApiError) as looked:  # what the trigger's look at the sync raised
        EloquaHook().get_sync("/syncs/424242")
    event = json.loads(json.dumps(error_event("/syncs/424242", looked.value)))
    with pytest.raises(EloquaSyncGone, match="is gone from Eloqua") as deferred:
        EloquaSyncSensor(task_id="wait", sync_uri="/syncs/424242", deferrable=True).execute_complete({}, event)
    assert isinstance(deferred.value, AirflowFailException)


@pytest.mark.parametrize("deferrable", [True, False])
def test_a_sensor_on_a_sync_that_is_gone_fails_linking_the_sync(eloqua_conn, deferrable):
    """The sync's link is recorded before the first look: a sensor that fails there still shows it."""
    context = task_context("wait")
    sensor = EloquaSyncSensor(task_id="wait", sync_uri="/syncs/999", poke_interval=0.01, deferrable=deferrable)
    with pytest.raises(EloquaSyncGone):
        sensor.execute(context)
    assert context["ti"].xcoms["eloqua_links"] == {"sync": EloquaHook().base_url + "/syncs/999"}
