"""sync/logs.py: a finished sync's log read over loopback HTTP, shown as a table, counted by code."""

from __future__ import annotations

import logging

from airflow_provider_eloqua.sync.checkpoint import SyncCheckpoint
from airflow_provider_eloqua.sync.lifecycle import start_sync
from airflow_provider_eloqua.sync.logs import SyncLog, entry_count, log_table, read_sync_log, report_sync_log
from airflow_provider_eloqua.sync.waiting import wait_for_sync
from tests.sync.helpers import EMAIL, emulator_hook, staged_definition

ENTRIES = (
    {"statusCode": "ELQ-00001", "severity": "information", "count": 3, "message": "Total records processed."},
    {"statusCode": "ELQ-00004", "severity": "information", "count": "2", "message": "Contacts created."},
    {"statusCode": "ELQ-00002", "severity": "warning", "count": 1, "message": "Invalid email address."},
    {"statusCode": "ELQ-00143", "severity": "error", "count": None, "message": "Definition deleted."},
    {"statusCode": "ELQ-00101", "severity": "error", "count": 0, "message": "Sync ... resulting in error status."},
)


def test_the_log_is_counted_by_status_code():
    sync_log = SyncLog("/syncs/4", ENTRIES)
    assert sync_log.count({"ELQ-00001"}) == 3
    assert sync_log.count({"ELQ-00004", "ELQ-00002"}) == 3  # a count sent as a string still counts
    assert sync_log.count({"ELQ-00102"}) == 0 and not sync_log.has("ELQ-00102") and sync_log.has("ELQ-00001")
    assert sync_log.warnings == 1
    assert sync_log.errors == ["ELQ-00143 Definition deleted."]  # ELQ-00101 only restates the status
    assert entry_count({"count": "x"}) == 0


def test_the_table_has_a_line_per_entry():
    table = log_table("/syncs/4", "warning", ENTRIES).splitlines()
    assert table[0] == "Eloqua sync /syncs/4 ended with status 'warning'. Sync log:"
    assert len(table) == 1 + len(ENTRIES)
    assert table[1].split() == ["ELQ-00001", "information", "3", "Total", "records", "processed."]
    assert log_table("/syncs/4", "success", ()).splitlines()[1] == "  (no log entries)"


def test_a_finished_sync_log_is_read_and_logged(emulator, monkeypatch, caplog):
    hook = emulator_hook(emulator, monkeypatch)
    emulator.control.configure(pending_polls=0, active_polls=0)
    sync_uri = start_sync(hook, SyncCheckpoint(None), staged_definition(hook, rows=3), None)
    status = wait_for_sync(hook, sync_uri, poll_interval=0.01, deadline=float("inf"))
    with caplog.at_level(logging.INFO, logger="airflow_provider_eloqua.sync.logs"):
        sync_log = read_sync_log(hook, sync_uri, status)
    assert sync_log.sync_uri == sync_uri and sync_log.count({"ELQ-00001"}) == 3
    assert f"Eloqua sync {sync_uri} ended with status 'success'" in caplog.text
    assert "ELQ-00001" in caplog.text


def test_an_export_sync_is_reported_by_its_log(emulator, monkeypatch):
    hook = emulator_hook(emulator, monkeypatch)
    emulator.control.seed("/contacts", count=4, template={EMAIL: "c{n}@example.com"})
    export = hook.create_definition("contacts", {"name": "logs test", "fields": {"Email": EMAIL}}, kind="exports")
    sync_uri = start_sync(hook, SyncCheckpoint(None), export["uri"], None)
    status = wait_for_sync(hook, sync_uri, poll_interval=0.01, deadline=float("inf"))

    report = report_sync_log(hook, sync_uri, status)

    assert report.summary() == {
        "sync_uri": sync_uri,
        "status": "success",
        "counts": {**report.counts, "ELQ-00102": 4},
        "log_warnings": 0,
    }
    assert "ELQ-00101" not in report.counts and report.errors == [] and report.issues() == ""
