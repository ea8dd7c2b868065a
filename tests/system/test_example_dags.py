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
