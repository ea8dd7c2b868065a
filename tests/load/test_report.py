"""load/report.py: an import sync's counts come from Oracle's status codes (docs/eloqua-behaviour.md, "Sync logs"),
read over real HTTP from syncs the emulator ran, never from the words of log messages."""

from __future__ import annotations

import csv
import json
import logging
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_eloqua.exceptions import EloquaInputError, EloquaRejectedRowsError
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.load.report import RejectThreshold, build_report, is_secret_like
from airflow_provider_eloqua.operators.eloqua import (
    EloquaCreateImportOperator,
    EloquaImportOperator,
    EloquaUploadDataOperator,
)
from airflow_provider_eloqua.sync.ending import REFUSED_HINT
from tests.dag_runner import connection_json
from tests.operators.tasks import sensor_task
from tests.task_runner import run_task

FIELDS = {"Email": "{{Contact.Field(C_EmailAddress)}}", "FirstName": "{{Contact.Field(C_FirstName)}}"}


@pytest.fixture
def hook(emulator, monkeypatch) -> EloquaHook:
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_REPORT_TEST", connection_json(emulator))
    return EloquaHook("eloqua_report_test")


def _sync(hook: EloquaHook, entity: str, body: dict[str, Any], rows: list[dict[str, Any]]) -> tuple[str, str]:
    uri = hook.create_import(entity, {"name": "report", "isSyncTriggeredOnImport": False, **body})["uri"]
    hook.upload_rows(uri, rows)
    sync = hook.create_sync(uri)
    for _ in range(20):
        sync = hook.get_sync(sync["uri"])
        if sync["status"] not in ("pending", "active"):
            return sync["uri"], sync["status"]
    raise AssertionError(f"sync did not end: {sync}")


def test_opportunities_created_are_counted_from_elq_00049(hook):
    """ "Total new records." has no word "created" in it: only the code says what it counts."""
    fields = {
        "Id": "{{Opportunity.Id}}",
        "Name": "{{Opportunity.Field(Name)}}",
        "Stage": "{{Opportunity.Field(Stage)}}",
        "Amount": "{{Opportunity.Field(Amount)}}",
    }
    rows = [{"Id": f"OPP-{i}", "Name": "Deal", "Stage": "Open", "Amount": 10 * i} for i in range(3)]
    sync_uri, status = _sync(hook, "opportunities", {"fields": fields, "identifierFieldName": "Id"}, rows)
    report = build_report(hook, sync_uri, status)
    assert (report.rows_processed, report.created, report.updated, report.other_counts) == (3, 3, 0, {})


def test_email_addresses_are_not_records(hook):
    """An emailAddresses import logs ELQ-00033 "Email addresses created.": addresses, not records."""
    body = {"fields": {"Email": "{{EmailAddress.Field(EmailAddress)}}"}, "identifierFieldName": "Email"}
    rows = [{"Email": "a@example.com"}, {"Email": "b@example.com"}, {"Email": "not-an-address"}]
    sync_uri, status = _sync(hook, "emailAddresses", body, rows)
    report = build_report(hook, sync_uri, status)
    assert (report.created, report.updated) == (0, 0)
    assert report.other_counts == {"ELQ-00033": 2, "ELQ-00035": 0, "ELQ-00002": 1}
    assert report.rejected == 1
    # log_warnings counts warning *entries* of the log (ELQ-00002 and ELQ-00060), not rejected rows
    assert report.log_warnings == 2
    assert "warnings" not in report.summary()


def test_sync_actions_report_the_records_they_were_applied_to(hook):
    actions = [{"action": "add", "destination": "{{ContactList[7]}}"}]
    body = {
        "fields": {"Email": "{{Contact.Field(C_EmailAddress)}}"},
        "identifierFieldName": "Email",
        "syncActions": actions,
    }
    rows = [{"Email": "a@example.com"}, {"Email": "b@example.com"}, {"Email": "bad"}]
    sync_uri, status = _sync(hook, "contacts", body, rows)
    report = build_report(hook, sync_uri, status, sync_actions=actions)
    assert report.summary()["actions"] == [{"action": "add", "destination": "{{ContactList[7]}}", "records": 2}]


CONTACTS = {"fields": {"Email": "{{Contact.Field(C_EmailAddress)}}"}, "identifierFieldName": "Email"}


@pytest.mark.parametrize(
    ("limits", "fails"),
    [
        ({}, None),
        ({"max_rejected_rows": 2}, None),
        ({"max_rejected_rows": 1}, "max_rejected_rows=1"),
        ({"max_rejected_rows": 0}, "max_rejected_rows=0"),
        ({"max_rejected_ratio": 0.5}, None),
        ({"max_rejected_ratio": 0.25}, "max_rejected_ratio=0.25"),
        ({"max_rejected_rows": 1, "max_rejected_ratio": 0.1}, "max_rejected_rows=1 and max_rejected_ratio=0.1"),
    ],
)
def test_a_reject_threshold_fails_past_it_naming_the_count(hook, limits, fails):
    """Two of four rows rejected (50%): each threshold below that fails, naming the count and the setting."""
    rows = [{"Email": "a@example.com"}, {"Email": "bad-1"}, {"Email": "b@example.com"}, {"Email": "bad-2"}]
    sync_uri, status = _sync(hook, "contacts", CONTACTS, rows)
    report = build_report(hook, sync_uri, status)
    threshold = RejectThreshold(**limits)
    if fails is None:
        assert threshold.check(report) is report
        return
    with pytest.raises(EloquaRejectedRowsError) as info:
        threshold.check(report, "s3://bucket/rejects.csv")
    assert str(info.value) == (
        f"Eloqua rejected 2 of the 4 row(s) it processed (50.0%; last sync {sync_uri}), more than {fails} allows; "
        f"the rejects are logged above and written to s3://bucket/rejects.csv. {REFUSED_HINT}"
    )
    assert isinstance(info.value, AirflowFailException)  # a retry cannot change what Eloqua did


@pytest.mark.parametrize(
    ("limits", "argument"),
    [
        ({"max_rejected_rows": -1}, "max_rejected_rows"),
        ({"max_rejected_rows": 1.5}, "max_rejected_rows"),
        ({"max_rejected_rows": True}, "max_rejected_rows"),
        ({"max_rejected_rows": "5"}, "max_rejected_rows"),
        ({"max_rejected_ratio": 1.5}, "max_rejected_ratio"),
        ({"max_rejected_ratio": -0.1}, "max_rejected_ratio"),
        ({"max_rejected_ratio": "0.1"}, "max_rejected_ratio"),
    ],
)
def test_a_bad_threshold_is_refused_when_the_task_is_defined(limits, argument):
    from airflow_provider_eloqua.operators.eloqua import EloquaImportOperator
    from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor

    with pytest.raises(EloquaInputError, match=rf"^{argument} must be"):
        EloquaSyncSensor(task_id="wait", sync_uri="/syncs/1", **limits)
    with pytest.raises(EloquaInputError, match=rf"^{argument} must be"):
        EloquaImportOperator(task_id="load", definition_uri="/contacts/imports/1", data=[], **limits)


def test_mapped_tasks_take_the_threshold_in_partial():
    """Airflow's partial() accepts only arguments an operator class declares: both tasks declare the threshold."""
    import pendulum
    from airflow.sdk import DAG

    from airflow_provider_eloqua.operators.eloqua import EloquaImportOperator
    from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor

    with DAG("mapped_thresholds", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        load = EloquaImportOperator.partial(
            task_id="load", definition_uri="/contacts/imports/1", max_rejected_rows=5, max_rejected_ratio=0.5
        ).expand(path=["a.csv", "b.csv"])
        wait = EloquaSyncSensor.partial(task_id="wait", max_rejected_rows=0).expand(sync_uri=["/syncs/1"])
    assert load.partial_kwargs["max_rejected_rows"] == 5
    assert load.partial_kwargs["max_rejected_ratio"] == 0.5
    assert wait.partial_kwargs["max_rejected_rows"] == 0


def test_rejects_are_logged_with_the_refused_value_unless_the_column_is_secret_like(hook, caplog):
    body = {
        "fields": {"Email": "{{Contact.Field(C_EmailAddress)}}", "Api Token": "{{Contact.Field(C_EmailAddress2)}}"},
        "identifierFieldName": "Email",
    }
    # Email refused: shown; the same refusal in a secret-like column: hidden
    rows = [{"Email": "not-an-address", "Api Token": "a@example.com"}]
    sync_uri, status = _sync(hook, "contacts", body, rows)
    secret_body = {"fields": {"Api Token": "{{Contact.Field(C_EmailAddress)}}"}, "identifierFieldName": "Api Token"}
    secret_uri, secret_status = _sync(hook, "contacts", secret_body, [{"Api Token": "tok-3f9a-not-an-address"}])

    with caplog.at_level("WARNING", logger="airflow_provider_eloqua.load.report"):
        build_report(hook, sync_uri, status)
        build_report(hook, secret_uri, secret_status)

    rejected = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Rejected")]
    assert len(rejected) == 2
    assert rejected[0].endswith("(Email='not-an-address')")
    assert rejected[1].endswith("(Api Token=<hidden: secret-like column>)")
    assert "tok-3f9a" not in caplog.text


@pytest.mark.parametrize(
    ("column", "secret"),
    [
        ("Email", False),
        ("C_FirstName", False),
        ("Password", True),
        ("api-key", True),
        ("AccessToken", True),
        ("Tax Id", True),
        ("Company", False),
    ],
)
def test_secret_like_columns_follow_airflows_words_and_sensitive_var_conn_names(monkeypatch, column, secret):
    monkeypatch.setenv("AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES", "tax_id, ssn")
    assert is_secret_like(column) is secret


def test_rejects_are_numbered_logged_and_counted_against_a_threshold(eloqua_conn, tmp_path, caplog):
    """Every path numbers rejects by input row, logs the refused value and fails past a threshold
    naming the count. On the split path the sensor is given the upload's ``staged_input`` (as its own
    XComArg gives it: tests/sensors/test_eloqua.py) and finds the input rows there: a file read again,
    rows given as ``data`` by their identifier values. Loaded in batches, the sensor's sync is the last
    batch's, so its rejects are numbered from that batch's first row, and the earlier batches' syncs,
    which ``staged_input`` lists, are added to its counts and rejects file."""
    rows = [{"Email": f"bad-{i}" if i in (3, 57) else f"p{i}@example.com", "FirstName": f"F{i}"} for i in range(1, 61)]
    source = tmp_path / "contacts.csv"
    source.write_text("Email,FirstName\n" + "".join(f"{r['Email']},{r['FirstName']}\n" for r in rows))
    rejects_csv, rejects_ndjson = tmp_path / "file-rejects.csv", tmp_path / "rows-rejects.ndjson"
    template = run_task(
        EloquaCreateImportOperator(
            task_id="define", entity="contacts", name="rejects", fields=FIELDS, identifier_field_name="Email"
        )
    ).return_value

    # The file goes in batches (60 rows of ~20 bytes, 1 KB per sync): the sensor's sync is the last
    # batch's (rows 53-60), and its reject (input row 57) is numbered from that batch's first row.
    upload_file = run_task(
        EloquaUploadDataOperator(
            task_id="upload_file",
            definition_uri=template,
            path=str(source),
            chunk_bytes=1024,
            max_bytes_per_sync=1024,
            poll_interval=0.01,
            timeout=60,
        )
    )
    with caplog.at_level(logging.INFO):
        wait_file = run_task(
            sensor_task(upload_file, rejects_path=str(rejects_csv), deferrable=True, poll_interval=0.01)
        )
    assert upload_file.return_value["syncs"] > 1 and wait_file.state == "success", wait_file.error
    with rejects_csv.open() as handle:
        written = list(csv.DictReader(handle))
    # Every batch's rejects: the earlier batch's (input row 3, logged by the upload task) come first.
    assert [(r["input_row"], json.loads(r["field_values"])["Email"]) for r in written] == [
        ("3", "bad-3"),
        ("57", "bad-57"),
    ]
    assert (wait_file.return_value["rows_processed"], wait_file.return_value["rejected"]) == (60, 2)
    assert "Rejected input row 57: ELQ-00002" in caplog.text and "(Email='bad-57')" in caplog.text

    # Rows given as data: numbered from their identifier values; any reject fails max_rejected_rows=0.
    upload_rows = run_task(EloquaUploadDataOperator(task_id="upload_rows", definition_uri=template, data=rows[:4]))
    wait_rows = run_task(
        sensor_task(upload_rows, rejects_path=str(rejects_ndjson), max_rejected_rows=0, poll_interval=0.01)
    )
    assert wait_rows.state == "failed" and isinstance(wait_rows.error, EloquaRejectedRowsError)
    assert [json.loads(line)["input_row"] for line in rejects_ndjson.read_text().splitlines()] == [3]
    assert "Eloqua rejected 1 of the 4 row(s) it processed (25.0%" in str(wait_rows.error)
    assert "more than max_rejected_rows=0 allows; the rejects are logged above and written to" in str(wait_rows.error)

    # The one-task path: 1 of 5 rejected is 20%, past max_rejected_ratio=0.1.
    load = run_task(
        EloquaImportOperator(
            task_id="load",
            entity="contacts",
            name="rejects one task",
            fields=FIELDS,
            identifier_field_name="Email",
            data=rows[:5],
            poll_interval=0.01,
            timeout=60,
            max_rejected_ratio=0.1,
        )
    )
    assert load.state == "failed" and isinstance(load.error, EloquaRejectedRowsError)
    assert "Eloqua rejected 1 of the 5 row(s) it processed (20.0%" in str(load.error)
    assert "max_rejected_ratio=0.1" in str(load.error)


@pytest.mark.parametrize("suffix", [".json", ".ndjson", ".csv"])
def test_the_rejects_file_is_the_format_its_extension_names(hook, tmp_path, suffix):
    """A ``.json`` rejects file is one JSON array, an ``.ndjson`` one record per line, a ``.csv`` a header
    and one record per row: each reads back with its format's own reader, every reject in it once."""
    rows = [{"Email": "bad-1", "FirstName": "A"}, {"Email": "ok@example.com", "FirstName": "B"}]
    rows.append({"Email": "bad-3", "FirstName": "C"})
    sync_uri, status = _sync(hook, "contacts", {"fields": FIELDS, "identifierFieldName": "Email"}, rows)
    path = tmp_path / f"rejects{suffix}"

    report = build_report(hook, sync_uri, status, rejects_path=str(path))

    text = path.read_text()
    if suffix == ".json":
        records = json.loads(text)
    elif suffix == ".ndjson":
        records = [json.loads(line) for line in text.splitlines()]
    else:
        records = [{**r, "field_values": json.loads(r["field_values"])} for r in csv.DictReader(text.splitlines())]
    assert report.rejected == 2
    assert sorted(r["field_values"]["Email"] for r in records) == ["bad-1", "bad-3"]


def test_a_sync_that_rejected_nothing_writes_no_json_rejects_file(hook, tmp_path):
    sync_uri, status = _sync(
        hook, "contacts", {"fields": FIELDS, "identifierFieldName": "Email"}, [{"Email": "a@example.com"}]
    )
    path = tmp_path / "rejects.json"
    assert build_report(hook, sync_uri, status, rejects_path=str(path)).rejected == 0
    assert not path.exists()
