"""OpenLineage for the import operators, through Airflow's OpenLineage provider: its ExtractorManager
(what its listener calls when a task ends) finds the operators' ``get_openlineage_facets_on_complete``
and reports the file read as the input and the Eloqua entity as the output."""

from __future__ import annotations

from types import SimpleNamespace

import pendulum
import pytest
from airflow.sdk import DAG, ObjectStoragePath

from airflow_provider_eloqua.operators.eloqua import EloquaImportOperator, EloquaUploadDataOperator
from tests.dag_runner import connection_json

FIELDS = {"Email": "{{Contact.Field(C_EmailAddress)}}"}


@pytest.fixture
def conn(monkeypatch, emulator):
    """The connection the output's site is read from (``AcmeCorp``); nothing is sent to Eloqua."""
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(emulator))


def _lineage(task):
    from airflow.providers.openlineage.extractors.manager import ExtractorManager
    from airflow.utils.state import TaskInstanceState

    manager = ExtractorManager()
    extractor = manager._get_extractor(task)
    assert type(extractor).__name__ == "DefaultExtractor"
    # The dag run only names the run in the manager's log lines.
    lineage = manager.extract_metadata(SimpleNamespace(run_id="r"), task, TaskInstanceState.SUCCESS, None)
    return [(d.namespace, d.name) for d in lineage.inputs], [(d.namespace, d.name) for d in lineage.outputs]


def _dag():
    return DAG("lineage", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))


def test_a_local_file_into_contacts(conn, tmp_path):
    with _dag():
        task = EloquaImportOperator(
            task_id="t", name="n", fields=FIELDS, identifier_field_name="Email", path=str(tmp_path / "in.csv")
        )
    assert _lineage(task) == ([("file", str(tmp_path / "in.csv"))], [("eloqua://AcmeCorp", "contacts")])


def test_an_s3_object_into_a_custom_object(conn):
    with _dag():
        task = EloquaImportOperator(
            task_id="t",
            entity="customObjects",
            parent_id=12,
            name="n",
            fields={"ExternalId": "{{CustomObject[12].ExternalId}}"},
            identifier_field_name="ExternalId",
            path=ObjectStoragePath("s3://exports/rows/records.csv", conn_id="aws_default"),
        )
    assert _lineage(task) == ([("s3://exports", "rows/records.csv")], [("eloqua://AcmeCorp", "customObjects/12")])


def test_rows_from_an_upstream_task_have_no_input_dataset(conn):
    with _dag():
        task = EloquaUploadDataOperator(task_id="t", definition_uri="/events/7/imports/3", data=[{"Email": "a@b.c"}])
    assert _lineage(task) == ([], [("eloqua://AcmeCorp", "events/7")])


def test_a_sync_action_load_names_no_entity_output(conn):
    with _dag():
        task = EloquaUploadDataOperator(task_id="t", definition_uri="/contacts/syncActions/5", data=[])
    assert _lineage(task) == ([], [])


def test_an_export_reads_the_entity_and_writes_the_file(conn, tmp_path):
    from airflow_provider_eloqua.operators.eloqua import EloquaExportOperator

    with _dag():
        task = EloquaExportOperator(
            task_id="t",
            entity="activities",
            activity_type="EmailSend",
            name="n",
            fields={"Id": "{{Activity.Id}}"},
            path=str(tmp_path / "sends.ndjson"),
        )
        copied = EloquaExportOperator(
            task_id="c", definition_uri="/customObjects/12/exports/3", path="s3://lake/eloqua/records.csv"
        )
    assert _lineage(task) == ([("eloqua://AcmeCorp", "activities")], [("file", str(tmp_path / "sends.ndjson"))])
    assert _lineage(copied) == ([("eloqua://AcmeCorp", "customObjects/12")], [("s3://lake", "eloqua/records.csv")])
