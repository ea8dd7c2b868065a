"""The contacts example DAG end to end in Airflow, in each sensor mode, against the emulator. A sync
that ends in error fails the sensor: tests/sensors/test_eloqua.py (the example's retries would wait
out their 10-second delay twice here)."""

from __future__ import annotations

import csv

import pytest

from tests.dag_runner import EXAMPLE_DAGS, run_dag

DAG_FILE = EXAMPLE_DAGS / "example_eloqua_contacts.py"
DAG_ID = "eloqua_contacts_import"


@pytest.mark.parametrize("mode", ["deferrable", "poke", "reschedule"])
def test_contacts_import_succeeds_in_every_sensor_mode(airflow_db, eloqua_conn, monkeypatch, tmp_path, mode):
    """The deferrable run also has invalid emails: a warning sync, its rejects written to the file."""
    monkeypatch.setenv("ELOQUA_EXAMPLE_SENSOR_MODE", mode)
    monkeypatch.setenv("ELOQUA_EXAMPLE_OUTPUT_DIR", str(tmp_path))
    eloqua_conn.control.configure(pending_polls=2, active_polls=2)
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
