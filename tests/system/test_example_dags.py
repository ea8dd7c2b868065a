"""The example DAGs but the contacts and Assets ones (tests/system/test_example_contacts.py) end to end in
Airflow against the emulator, each run once: the event CSV, the contact list, the accounts (run twice: the
definition is reused), SQL to contacts, the two scheduled exports (the data interval as the window, a
deferred wait, a day split over Eloqua's activity limit) and the round trip."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.dag_runner import EXAMPLE_DAGS, run_dag


def test_event_registrants_csv_import(airflow_db, eloqua_conn, monkeypatch, tmp_path):
    monkeypatch.setenv("ELOQUA_EXAMPLE_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("ELOQUA_EXAMPLE_EVENT_ID", "12")

    result = run_dag(EXAMPLE_DAGS / "example_eloqua_event_registrants.py", "eloqua_event_registrants_csv")

    assert result.state == "success", result.tasks
    summary = result["import_registrants"].return_value
    assert summary["definition_uri"].startswith("/events/12/imports/")
    assert summary["rows"] == 40 and summary["status"] == "success" and summary["rejected"] == 0
    records = eloqua_conn.control.records("/events/12")
    assert len(records) == 40
    # The quoted CSV value with a comma and quotes arrives intact.
    assert any('Müller, "Jr."' in json.dumps(r, ensure_ascii=False).replace('\\"', '"') for r in records)
    assert list(tmp_path.rglob("registrant_rejects.ndjson")) == []  # nothing rejected: no rejects file


def test_contact_list_sync_action_adds_members(airflow_db, eloqua_conn):
    result = run_dag(EXAMPLE_DAGS / "example_eloqua_contact_list.py", "eloqua_contact_list_sync_action")

    assert result.state == "success", result.tasks
    assert result["create_list_sync_action"].return_value.startswith("/contacts/syncActions/")
    summary = result["wait_for_list_sync"].return_value
    assert summary["status"] == "success"
    # a sync-action load reports what its actions did: each action, and the records it was applied to
    assert summary["actions"] == [{"action": "add", "destination": "{{ContactList[123]}}", "records": 10}]
    members = eloqua_conn.control.lists()["123"]
    assert sorted(members) == sorted(f"person{n}@example.com" for n in range(1, 11))


def test_account_import_reuses_its_definition_across_runs(airflow_db, eloqua_conn):
    dag_file = EXAMPLE_DAGS / "example_eloqua_accounts.py"

    first = run_dag(dag_file, "eloqua_accounts_reuse")
    second = run_dag(dag_file, "eloqua_accounts_reuse")

    assert first.state == second.state == "success"
    uri = first["account_import_definition"].return_value
    assert second["account_import_definition"].return_value == uri
    definitions = [d for d in eloqua_conn.control.state()["definitions"] if d["uri"].startswith("/accounts/")]
    assert [d["uri"] for d in definitions] == [uri]
    assert first["load_accounts"].return_value["created"] == 4
    assert second["load_accounts"].return_value["updated"] == 4
    assert len(eloqua_conn.control.records("/accounts")) == 4


def test_sql_to_contacts_maps_the_query_columns_to_the_site_fields(airflow_db, eloqua_conn, monkeypatch, tmp_path):
    warehouse = tmp_path / "warehouse.db"
    monkeypatch.setenv(
        "AIRFLOW_CONN_ELOQUA_EXAMPLE_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(warehouse)})
    )
    monkeypatch.setenv("ELOQUA_EXAMPLE_OUTPUT_DIR", str(tmp_path))

    result = run_dag(EXAMPLE_DAGS / "example_eloqua_sql_to_contacts.py", "eloqua_sql_to_contacts")

    assert result.state == "success", result.tasks
    wanted = {f"lead{n}@example.com": n for n in range(1, 51) if n * 97 % 100 >= 40}
    summary = result["load_lead_scores"].return_value
    assert summary["rows"] == summary["created"] == len(wanted) and summary["rejected"] == 0
    records = {r["identifier"]: r for r in eloqua_conn.control.records("/contacts")}
    assert set(records) == set(wanted)
    # Each column went to the field of its display or internal name.
    fields = {key: value for key, value in records["lead50@example.com"].items() if key.startswith("{{")}
    assert fields == {
        "{{Contact.Field(C_EmailAddress)}}": "lead50@example.com",
        "{{Contact.Field(C_FirstName)}}": "First50",
        "{{Contact.Field(C_LastName)}}": "Last50",
        "{{Contact.Field(C_Company)}}": "Company 1",
    }


EMAIL = "{{Contact.Field(C_EmailAddress)}}"


def read_csv(path: str | Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"), newline="")))


def test_contacts_changed_in_the_data_interval_are_exported_to_a_file(
    airflow_db, eloqua_conn, monkeypatch, tmp_path, caplog
):
    """The run's data interval [day1, day2) is the window: a record stamped exactly at its start is in
    it, one stamped exactly at its end is not (it is in the next run's). The export waits deferred."""
    caplog.set_level("INFO")
    monkeypatch.setenv("ELOQUA_EXAMPLE_OUTPUT_DIR", f"file://{tmp_path}")
    monkeypatch.setenv("ELOQUA_EXAMPLE_EXPORT_LAG", "0")
    day1, day2, day3 = (datetime(2026, 11, d, tzinfo=UTC) for d in (10, 11, 12))
    for name, moment in [
        ("before", day1 - timedelta(seconds=1)),
        ("first", day1),
        ("midday", day1 + timedelta(hours=12)),
        ("last", day2 - timedelta(seconds=1)),
        ("boundary", day2),
        ("later", day3),
    ]:
        eloqua_conn.control.seed(
            "/contacts",
            records=[{EMAIL: f"{name}@example.com", "{{Contact.Field(C_Country)}}": "BE"}],
            updatedAt=moment.strftime("%Y-%m-%dT%H:%M:%S"),
        )

    result = run_dag(EXAMPLE_DAGS / "example_eloqua_export_contacts.py", "eloqua_export_contacts", logical_date=day2)

    assert result.state == "success", result.tasks
    summary = result["export_changed_contacts"].return_value
    assert (summary["since"], summary["until"]) == (day1.isoformat(), day2.isoformat())
    (written,) = (tmp_path / "contacts").glob("*.csv")
    assert written.name == "2026-11-10.csv" and summary["path"].endswith("/contacts/2026-11-10.csv")
    assert written.stat().st_size == summary["bytes"]
    assert written.read_text().splitlines()[0] == "ContactId,Email,FirstName,LastName,Country,ModifiedAt"
    rows = read_csv(written)
    assert summary["rows"] == len(rows) == 3
    assert {row["Email"].split("@")[0] for row in rows} == {"first", "midday", "last"}
    assert "[DAG TEST] running trigger in line" in caplog.text  # the task deferred, its trigger ran


def test_a_days_email_sends_are_exported_to_ndjson_in_parts_over_eloquas_activity_limit(
    airflow_db, eloqua_conn, monkeypatch, tmp_path
):
    """60 sends in a day, 25 at most per activity sync: the window is split into parts, each synced,
    written into one file with every send once."""
    monkeypatch.setenv("ELOQUA_EXAMPLE_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("ELOQUA_EXAMPLE_EXPORT_LAG", "0")
    day = datetime(2026, 11, 20, tzinfo=UTC)
    eloqua_conn.control.seed(
        "/activities", count=60, activityType="EmailSend", createdAt=day.strftime("%Y-%m-%dT%H:%M:%S"), stepSeconds=1200
    )
    eloqua_conn.control.configure(activity_sync_cap=25, activity_sync_cap_outcome="error")

    result = run_dag(
        EXAMPLE_DAGS / "example_eloqua_export_email_sends.py",
        "eloqua_export_email_sends",
        logical_date=day + timedelta(days=1),
    )

    assert result.state == "success", result.tasks
    summary = result["export_email_sends"].return_value
    assert summary["path"] == str(tmp_path / "email_sends" / "2026-11-20.ndjson")
    lines = [json.loads(line) for line in Path(summary["path"]).read_text(encoding="utf-8").splitlines()]
    ids = [line["ActivityId"] for line in lines]
    assert summary["rows"] == len(ids) == len(set(ids)) == 60
    assert set(lines[0]) == {
        "ActivityId",
        "ExternalId",
        "SentAt",
        "EmailAddress",
        "ContactId",
        "EmailName",
        "CampaignId",
    }
    assert len(summary["syncs"]) >= 3
    failed = [s for s in eloqua_conn.control.state()["syncs"] if s["status"] == "error"]
    assert len(failed) == len(summary["syncs"]) - 1  # each window too large once, then split


def test_a_round_trip_exports_transforms_and_imports_back_exactly(airflow_db, eloqua_conn, monkeypatch, tmp_path):
    monkeypatch.setenv("ELOQUA_EXAMPLE_OUTPUT_DIR", str(tmp_path))
    eloqua_conn.control.seed(
        "/contacts",
        count=40,
        template={
            "{{Contact.Field(C_EmailAddress)}}": "person{n}@example.com",
            "{{Contact.Field(C_Country)}}": "be{n}",
        },
    )

    result = run_dag(EXAMPLE_DAGS / "example_eloqua_export_round_trip.py", "eloqua_export_round_trip")

    assert result.state == "success", result.tasks
    assert result["export_contacts"].return_value["rows"] == 40
    loaded = result["import_contacts"].return_value
    assert loaded["rows"] == loaded["updated"] == 40 and loaded["created"] == 0
    records = eloqua_conn.control.records("/contacts")
    assert sorted(r["{{Contact.Field(C_Country)}}"] for r in records) == sorted(f"BE{n}" for n in range(1, 41))
