"""load/report.py: an import sync's counts come from Oracle's status codes (docs/eloqua-behaviour.md, "Sync logs"),
read over real HTTP from syncs the emulator ran, never from the words of log messages."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.load.report import build_report
from tests.dag_runner import connection_json


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
