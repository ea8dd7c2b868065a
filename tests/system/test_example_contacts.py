"""The contacts example DAG end to end in Airflow against the emulator, with the sensor deferred and in
reschedule mode: the rows from an upstream task's XCom are loaded, the sensor records the Asset once
the sync has ended (queuing the DAG scheduled on it), and each task links, through Airflow's
extra-links API, what it worked on. The sensor in poke mode, and a sync that ends in error (the
example's retries would wait out their 10-second delay twice here): tests/sensors/test_eloqua.py and
tests/operators/test_eloqua.py."""

from __future__ import annotations

import csv

import pytest

from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from tests.dag_runner import EXAMPLE_DAGS, resolved_links, run_dag
from tests.system.test_assets import answers, assert_downstream_consumed, assert_one_event, unpause_downstream

DAG_FILE = EXAMPLE_DAGS / "example_eloqua_contacts.py"
DAG_ID = "eloqua_contacts_import"


@pytest.mark.parametrize("mode", ["deferrable", "reschedule"])
def test_contacts_are_loaded_and_the_sensor_records_the_asset_and_every_task_links_its_work(
    airflow_db, eloqua_conn, monkeypatch, tmp_path, mode
):
    """The deferrable run also has invalid emails: a warning sync, its rejects written to the file."""
    unpause_downstream()
    monkeypatch.setenv("ELOQUA_EXAMPLE_SENSOR_MODE", mode)
    monkeypatch.setenv("ELOQUA_EXAMPLE_OUTPUT_DIR", str(tmp_path))
    eloqua_conn.control.configure(pending_polls=2, active_polls=2)  # the sensor's first look sees it running
    invalid = 3 if mode == "deferrable" else 0

    result = run_dag(DAG_FILE, DAG_ID, run_conf={"rows": 12, "invalid_emails": invalid})

    assert result.state == "success", result.tasks
    upload = result["upload_contacts"].return_value
    assert upload["rows"] == 12 and upload["chunks"] == 1
    summary = result["wait_for_contact_sync"].return_value
    assert summary["sync_uri"] == upload["sync_uri"]
    assert summary["status"] == ("warning" if invalid else "success")
    assert summary["rows_processed"] == 12
    assert (summary["created"], summary["rejected"]) == (12 - invalid, invalid)
    assert len(eloqua_conn.control.records("/contacts")) == 12 - invalid
    rejects_files = list(tmp_path.rglob("contact_rejects.csv"))
    if invalid:
        (rejects_file,) = rejects_files
        with rejects_file.open() as handle:
            rejects = list(csv.DictReader(handle))
        assert [r["record_index"] for r in rejects] == ["1", "2", "3"]
        assert {r["status_code"] for r in rejects} == {"ELQ-00002"}
    else:
        assert rejects_files == []

    # The upload records no event (its sync had only started); the sensor does once the sync ended.
    event = assert_one_event(result, DAG_ID, "wait_for_contact_sync", summary)
    assert_downstream_consumed(event)

    base = EloquaHook().base_url  # the pod the emulator's /id names
    template = result["create_contact_import"].return_value
    expected = {
        "create_contact_import": {"Eloqua definition": base + template, "Eloqua sync": None},
        # the upload was given a template: its link is that, not the copy it staged into
        "upload_contacts": {"Eloqua definition": base + template, "Eloqua sync": base + upload["sync_uri"]},
        # the sensor links the definition the sync synced: the upload's copy
        "wait_for_contact_sync": {
            "Eloqua definition": base + upload["definition_uri"],
            "Eloqua sync": base + upload["sync_uri"],
        },
    }
    for task_id, links in expected.items():
        assert resolved_links(DAG_ID, result.run_id, task_id) == links, task_id
    # The links open what they name; the sensor deleted the copy once the sync was reported.
    assert [answers(base + uri) for uri in (template, upload["sync_uri"], upload["definition_uri"])] == [200, 200, 404]
