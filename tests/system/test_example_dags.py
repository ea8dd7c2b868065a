"""The event-CSV, contact-list and account example DAGs end to end in Airflow against the emulator."""

from __future__ import annotations

import json

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


def _now():
    """A scheduled run's logical date today: its data interval is yesterday."""
    import pendulum

    return pendulum.now("UTC")


def _yesterday_noon() -> str:
    """Noon UTC of yesterday: inside the data interval of a daily DAG's run today."""
    import pendulum

    return pendulum.now("UTC").subtract(days=1).replace(hour=12, minute=0, second=0, microsecond=0).isoformat()


def test_contacts_changed_in_the_data_interval_are_exported_to_a_file(airflow_db, eloqua_conn, monkeypatch, tmp_path):
    monkeypatch.setenv("ELOQUA_EXAMPLE_OUTPUT_DIR", f"file://{tmp_path}")
    monkeypatch.setenv("ELOQUA_EXAMPLE_EXPORT_LAG", "0")
    eloqua_conn.control.seed(
        "/contacts",
        count=30,
        template={"{{Contact.Field(C_EmailAddress)}}": "person{n}@example.com", "{{Contact.Field(C_Country)}}": "BE"},
        updatedAt=_yesterday_noon().replace("+00:00", ""),
    )

    result = run_dag(EXAMPLE_DAGS / "example_eloqua_export_contacts.py", "eloqua_export_contacts", logical_date=_now())

    assert result.state == "success", result.tasks
    summary = result["export_changed_contacts"].return_value
    assert summary["rows"] == 30 and summary["path"].endswith(".csv")
    assert summary["until"].startswith(pendulum_today())
    written = list((tmp_path / "contacts").glob("*.csv"))
    assert len(written) == 1 and written[0].stat().st_size == summary["bytes"]
    header, *rows = written[0].read_text().splitlines()
    assert header == "ContactId,Email,FirstName,LastName,Country,ModifiedAt" and len(rows) == 30


def pendulum_today() -> str:
    import pendulum

    return pendulum.now("UTC").start_of("day").isoformat()[:10]


def test_yesterdays_email_sends_are_exported_to_ndjson(airflow_db, eloqua_conn, monkeypatch, tmp_path):
    monkeypatch.setenv("ELOQUA_EXAMPLE_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("ELOQUA_EXAMPLE_EXPORT_LAG", "0")
    eloqua_conn.control.seed(
        "/activities", count=12, activityType="EmailSend", createdAt=_yesterday_noon().replace("+00:00", "")
    )

    result = run_dag(
        EXAMPLE_DAGS / "example_eloqua_export_email_sends.py", "eloqua_export_email_sends", logical_date=_now()
    )

    assert result.state == "success", result.tasks
    summary = result["export_email_sends"].return_value
    with open(summary["path"], encoding="utf-8") as written:
        lines = [json.loads(line) for line in written]
    assert summary["rows"] == len(lines) == 12
    assert set(lines[0]) == {
        "ActivityId",
        "ExternalId",
        "SentAt",
        "EmailAddress",
        "ContactId",
        "EmailName",
        "CampaignId",
    }


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
