"""The contacts example DAG end to end in Airflow, in each sensor mode, against the emulator."""

from __future__ import annotations

import csv

import pytest

from tests.dag_runner import EXAMPLE_DAGS, run_dag

DAG_FILE = EXAMPLE_DAGS / "example_eloqua_contacts.py"
DAG_ID = "eloqua_contacts_import"


@pytest.mark.parametrize("mode", ["deferrable", "poke", "reschedule"])
def test_contacts_import_succeeds_in_every_sensor_mode(airflow_db, eloqua_conn, monkeypatch, tmp_path, mode):
    monkeypatch.setenv("ELOQUA_EXAMPLE_SENSOR_MODE", mode)
    monkeypatch.setenv("ELOQUA_EXAMPLE_OUTPUT_DIR", str(tmp_path))
    eloqua_conn.control.configure(pending_polls=2, active_polls=2)

    result = run_dag(DAG_FILE, DAG_ID, run_conf={"rows": 30})

    assert result.state == "success", result.tasks
    upload = result["upload_contacts"].return_value
    assert upload["rows"] == 30 and upload["chunks"] == 1
    summary = result["wait_for_contact_sync"].return_value
    assert summary["sync_uri"] == upload["sync_uri"]
    assert summary["status"] == "success"
    assert summary["rows_processed"] == 30 and summary["created"] == 30 and summary["rejected"] == 0
    assert len(eloqua_conn.control.records("/contacts")) == 30


def test_invalid_emails_make_a_warning_sync_with_rejects_written(airflow_db, eloqua_conn, monkeypatch, tmp_path):
    monkeypatch.setenv("ELOQUA_EXAMPLE_OUTPUT_DIR", str(tmp_path))

    result = run_dag(DAG_FILE, DAG_ID, run_conf={"rows": 12, "invalid_emails": 3})

    assert result.state == "success"
    summary = result["wait_for_contact_sync"].return_value
    assert summary["status"] == "warning"
    assert summary["rejected"] == 3 and summary["created"] == 9
    (rejects_file,) = tmp_path.rglob("contact_rejects.csv")
    with rejects_file.open() as handle:
        rejects = list(csv.DictReader(handle))
    assert [r["record_index"] for r in rejects] == ["1", "2", "3"]
    assert {r["status_code"] for r in rejects} == {"ELQ-00002"}
    assert len(eloqua_conn.control.records("/contacts")) == 9


def test_error_sync_fails_the_sensor(airflow_db, eloqua_conn, monkeypatch, tmp_path):
    monkeypatch.setenv("ELOQUA_EXAMPLE_OUTPUT_DIR", str(tmp_path))
    eloqua_conn.control.configure(force_status="error")

    result = run_dag(DAG_FILE, DAG_ID, run_conf={"rows": 5})

    assert result.state == "failed"
    assert result["upload_contacts"].state == "success"
    assert result["wait_for_contact_sync"].state == "failed"
    assert eloqua_conn.control.records("/contacts") == []
