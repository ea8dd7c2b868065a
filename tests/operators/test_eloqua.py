"""Operators inside real Airflow (dag.test on DAG files) against the emulator: inputs, outputs, outcomes."""

from __future__ import annotations

import json
import textwrap

import pytest
import requests

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.operators.eloqua import EloquaCreateImportOperator, EloquaImportOperator
from tests.dag_runner import run_dag, write_dag_file

HEADER = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_eloqua.operators.eloqua import *
from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor

CONTACT_FIELDS = {
    "Email": "{{Contact.Field(C_EmailAddress)}}",
    "FirstName": "{{Contact.Field(C_FirstName)}}",
}
"""


def dag_file(name: str, body: str):
    code = HEADER + textwrap.dedent(
        f"""
        with DAG("{name}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
        """
    )
    code += textwrap.indent(textwrap.dedent(body), "    ")
    return write_dag_file(f"{name}.py", code)


def contacts(n: int, invalid: tuple[int, ...] = ()) -> list[dict]:
    return [
        {"Email": f"bad-{i}" if i in invalid else f"p{i}@example.com", "FirstName": f"F{i}"} for i in range(1, n + 1)
    ]


def import_operator(name: str, **kwargs) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return f"""
    EloquaImportOperator(
        task_id="load", entity="contacts", name="{name}", fields=CONTACT_FIELDS,
        identifier_field_name="Email", poll_interval=0.2, timeout=60, {args}
    )
    """


@pytest.mark.parametrize("batched", [False, True], ids=["one-sync", "batches"])
def test_import_operator_deferrable_maps_rejects_to_input_rows(airflow_db, eloqua_conn, tmp_path, batched):
    """In batches, the earlier batches' syncs are waited for in the worker and only the last one is
    deferred; the summary and the rejects file still cover every batch."""
    rejects = tmp_path / "rejects.ndjson"
    n, bad = (150, (3, 147)) if batched else (8, (3, 7))  # rows of text go as CSV: 150 make 4 chunks
    rows = contacts(n, invalid=bad)
    batching = {"chunk_bytes": 1024, "max_bytes_per_sync": 1024} if batched else {}
    name = f"op_import_deferrable_{int(batched)}"
    path = dag_file(
        name,
        import_operator("deferrable import", data=rows, deferrable=True, rejects_path=str(rejects), **batching),
    )
    eloqua_conn.control.configure(pending_polls=2, active_polls=2)

    result = run_dag(path, name)

    assert result.state == "success"
    summary = result["load"].return_value
    assert summary["status"] == "warning" and summary["rejected"] == 2 and summary["created"] == n - 2
    assert summary["rows"] == n and summary["sync_uri"] == result["load"].xcoms["sync_uri"]
    syncs = eloqua_conn.control.state()["syncs"]
    assert summary["syncs"] == len(syncs) and (len(syncs) > 2) == batched
    assert summary["sync_uri"] == syncs[-1]["uri"]
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [r["input_row"] for r in written] == list(bad)
    assert written[0]["field_values"]["Email"] == "bad-3" and written[0]["status_code"] == "ELQ-00002"


@pytest.mark.parametrize(
    ("on_warning", "task_state"), [("fail", "failed"), ("skip", "skipped"), ("succeed", "success")]
)
def test_on_warning_decides_the_task_state(airflow_db, eloqua_conn, on_warning, task_state):
    path = dag_file(
        f"op_on_warning_{on_warning}", import_operator("warn", data=contacts(4, invalid=(2,)), on_warning=on_warning)
    )

    result = run_dag(path, f"op_on_warning_{on_warning}")

    assert result["load"].state == task_state
    assert len(eloqua_conn.control.records("/contacts")) == 3


@pytest.mark.parametrize("suffix", ["ndjson", "json", "csv"])
def test_upload_reads_files_through_object_storage_urls(airflow_db, eloqua_conn, tmp_path, suffix):
    rows = contacts(200)
    source = tmp_path / f"contacts.{suffix}"
    if suffix == "ndjson":
        source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif suffix == "json":
        source.write_text(json.dumps(rows, indent=1))
    else:
        source.write_text("Email,FirstName\n" + "".join(f"{r['Email']},{r['FirstName']}\n" for r in rows))
    name = f"op_file_{suffix}"
    path = dag_file(
        name,
        f"""
        definition = EloquaCreateImportOperator(
            task_id="define", entity="contacts", name="files", fields=CONTACT_FIELDS, identifier_field_name="Email"
        )
        upload = EloquaUploadDataOperator(
            task_id="upload", definition_uri=definition.output, path="file://{source}", chunk_bytes=1024
        )
        EloquaSyncSensor(task_id="wait", sync_uri=upload.output["sync_uri"], poke_interval=0.2, timeout=60)
        """,
    )

    result = run_dag(path, name)

    assert result.state == "success"
    upload = result["upload"].return_value
    assert upload["rows"] == 200 and upload["chunks"] > 2
    assert result["wait"].return_value["created"] == 200
    uploads = [u for u in eloqua_conn.control.state()["uploads"]]
    assert len(uploads) == upload["chunks"] and all(u["bytes"] <= 1024 for u in uploads)
    assert len(eloqua_conn.control.records("/contacts")) == 200


def _two_step_dag(name: str, synced: str) -> str:
    return dag_file(
        name,
        f"""
        definition = EloquaCreateImportOperator(
            task_id="define", entity="contacts", name="two step", fields=CONTACT_FIELDS, identifier_field_name="Email"
        )
        stage = EloquaUploadDataOperator(
            task_id="stage", definition_uri=definition.output, start_sync=False,
            data=[{{"Email": "a@example.com", "FirstName": "A"}}, {{"Email": "b@example.com", "FirstName": "B"}}],
        )
        sync = EloquaCreateSyncOperator(task_id="sync", synced_instance_uri={synced})
        stage >> sync
        EloquaSyncSensor(
            task_id="wait", sync_uri=sync.output, expected_rows=stage.output["sync_rows"],
            poke_interval=0.2, timeout=60, mode="reschedule",
        )
        """,
    )


def test_staging_without_sync_then_create_sync_operator(airflow_db, eloqua_conn):
    """The rows are staged in the upload's own copy of the definition: that copy is what is synced,
    and the sensor deletes it afterwards (the template stays)."""
    path = _two_step_dag("op_separate_sync", 'stage.output["definition_uri"]')

    result = run_dag(path, "op_separate_sync")

    assert result.state == "success"
    stage = result["stage"].return_value
    assert stage["sync_uri"] is None and stage["sync_rows"] == 2
    assert stage["definition_uri"] != result["define"].return_value
    assert result["sync"].return_value.startswith("/syncs/")
    assert result["wait"].return_value["rows_processed"] == 2
    assert len(eloqua_conn.control.state()["syncs"]) == 1
    assert [d["uri"] for d in eloqua_conn.control.state()["definitions"]] == [result["define"].return_value]
    assert len(eloqua_conn.control.records("/contacts")) == 2


def test_syncing_the_template_instead_of_the_copy_fails_naming_both_counts(airflow_db, eloqua_conn, capfd):
    path = _two_step_dag("op_sync_template", "definition.output")

    result = run_dag(path, "op_sync_template")

    assert result["wait"].state == "failed"
    out, err = capfd.readouterr()
    assert "processed 0 row(s), but this load staged 2 for it" in out + err
    assert eloqua_conn.control.records("/contacts") == []


def test_uri_templates_that_render_to_numbers_fail_naming_the_argument(airflow_db, eloqua_conn, capfd):
    """With native rendering a template may render to an int: the error names the argument and the
    value (no bare TypeError), and nothing is sent to Eloqua."""
    code = HEADER + textwrap.dedent(
        """
        with DAG("op_uri_ints", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
                 render_template_as_native_obj=True):
            EloquaUploadDataOperator(task_id="stage", definition_uri="{{ 5 }}", data=[{"Email": "a@example.com"}])
            EloquaImportOperator(task_id="load", definition_uri="{{ 5 }}", data=[{"Email": "a@example.com"}])
            EloquaCreateSyncOperator(task_id="sync", synced_instance_uri="{{ 7 }}")
        """
    )
    eloqua_conn.control.clear_requests()

    result = run_dag(write_dag_file("op_uri_ints.py", code), "op_uri_ints")

    assert {task: result[task].state for task in ("stage", "load", "sync")} == dict.fromkeys(
        ("stage", "load", "sync"), "failed"
    )
    out, err = capfd.readouterr()
    assert "definition_uri must look like /contacts/imports/30" in out + err and "got 5" in out + err
    assert "synced_instance_uri must look like /contacts/imports/30" in out + err and "got 7" in out + err
    assert "TypeError" not in out + err
    assert [r for r in eloqua_conn.control.requests() if "/api/bulk/" in r["path"].lower()] == []


def test_unknown_sync_status_fails_clearly(airflow_db, eloqua_conn):
    path = dag_file("op_unknown_status", import_operator("unknown", data=contacts(2)))
    eloqua_conn.control.add_fault(
        method="GET", path=r"^/syncs/\d+$", action="status", status=200, body={"status": "paused"}, times=None
    )

    result = run_dag(path, "op_unknown_status")

    assert result["load"].state == "failed"


def test_empty_input_skips_with_no_sync(airflow_db, eloqua_conn):
    path = dag_file("op_empty", import_operator("empty", data=[]))

    result = run_dag(path, "op_empty")

    assert result.state == "success"
    summary = result["load"].return_value
    assert summary["rows"] == 0 and summary["sync_uri"] is None and summary["status"] is None
    assert eloqua_conn.control.state()["syncs"] == [] and eloqua_conn.control.state()["uploads"] == []


@pytest.mark.parametrize("batched", [False, True], ids=["one-sync", "batches"])
@pytest.mark.parametrize("suffix", ["csv", "ndjson"])
def test_rejects_from_a_file_are_mapped_to_their_input_rows(airflow_db, eloqua_conn, tmp_path, suffix, batched):
    """In batches, ``recordIndex`` counts within each sync: the rows of earlier batches are added back."""
    bad = (4, 110) if batched else (4, 29)
    rows = contacts(120 if batched else 30, invalid=bad)
    batching = {"chunk_bytes": 1024, "max_bytes_per_sync": 1024} if batched else {}
    source = tmp_path / f"contacts.{suffix}"
    if suffix == "csv":
        source.write_text("Email,FirstName\n" + "".join(f"{r['Email']},{r['FirstName']}\n" for r in rows))
    else:
        source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rejects = tmp_path / "rejects.csv"
    name = f"op_file_rejects_{suffix}_{int(batched)}"
    path = dag_file(name, import_operator("file rejects", path=str(source), rejects_path=str(rejects), **batching))

    result = run_dag(path, name)

    assert result["load"].return_value["rejected"] == 2
    assert (len(eloqua_conn.control.state()["syncs"]) > 1) == batched
    lines = rejects.read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == [str(row) for row in bad]


def test_max_bytes_per_sync_must_hold_a_chunk_and_stay_within_eloquas_limit():
    from airflow_provider_eloqua.exceptions import EloquaInputError
    from airflow_provider_eloqua.operators.eloqua import EloquaImportOperator, EloquaUploadDataOperator

    args = {"task_id": "t", "name": "n", "fields": {"Email": "{{Contact.Field(C_EmailAddress)}}"}}
    for bad in (1023, 250_000_001, 2048.0, True):
        with pytest.raises(EloquaInputError, match="max_bytes_per_sync"):
            EloquaImportOperator(identifier_field_name="Email", chunk_bytes=1024, max_bytes_per_sync=bad, **args)
    with pytest.raises(EloquaInputError, match="max_bytes_per_sync"):
        EloquaUploadDataOperator(task_id="u", definition_uri="/contacts/imports/1", max_bytes_per_sync=10)
    assert EloquaImportOperator(identifier_field_name="Email", **args).upload_spec.max_bytes_per_sync == 250_000_000


def test_reuse_finds_a_definition_whose_booleans_eloqua_spells_as_strings(airflow_db, eloqua_conn):
    """Oracle's examples send booleans as "true"/"false": a definition holding them is the same
    definition as one the DAG describes with Python booleans, so it is reused, not piled up."""
    from airflow_provider_eloqua.emulator import DEFAULT_PASSWORD, DEFAULT_SITE, DEFAULT_USER

    existing = requests.post(
        eloqua_conn.url + "/api/bulk/2.0/contacts/imports",
        auth=(f"{DEFAULT_SITE}\\{DEFAULT_USER}", DEFAULT_PASSWORD),
        json={
            "name": "reuse by meaning",
            "fields": {"Email": "{{Contact.Field(C_EmailAddress)}}", "FirstName": "{{Contact.Field(C_FirstName)}}"},
            "identifierFieldName": "Email",
            "isSyncTriggeredOnImport": "false",
            "isUpdatingMultipleMatchedRecords": "false",
            "updateRule": "always",
        },
        timeout=10,
    ).json()["uri"]
    path = dag_file(
        "op_reuse_by_meaning",
        """
        EloquaCreateImportOperator(
            task_id="define", entity="contacts", name="reuse by meaning", fields=CONTACT_FIELDS,
            identifier_field_name="Email", reuse_existing=True,
            definition_extra={"isUpdatingMultipleMatchedRecords": False},
        )
        """,
    )

    result = run_dag(path, "op_reuse_by_meaning")

    assert result.state == "success"
    assert result["define"].return_value == existing
    assert [d["uri"] for d in eloqua_conn.control.state()["definitions"]] == [existing]


def test_opportunities_load_with_oracles_statements_then_link_to_contacts(airflow_db, eloqua_conn):
    """Oracle's opportunity tutorial end to end: import opportunities keyed on {{Opportunity.Id}},
    then link them to contacts through /opportunities/contacts/imports."""
    path = dag_file(
        "op_opportunities",
        """
        contacts = EloquaImportOperator(
            task_id="contacts", entity="contacts", name="contacts", fields=CONTACT_FIELDS,
            identifier_field_name="Email", poll_interval=0.2, timeout=60,
            data=[{"Email": "ann@example.com", "FirstName": "Ann"}],
        )
        opportunities = EloquaImportOperator(
            task_id="opportunities", entity="opportunities", name="opportunities",
            fields={
                "OpportunityID": "{{Opportunity.Id}}",
                "OpportunityName": "{{Opportunity.Field(Name)}}",
                "Stage": "{{Opportunity.Field(Stage)}}",
                "Amount": "{{Opportunity.Field(Amount)}}",
            },
            identifier_field_name="OpportunityID", poll_interval=0.2, timeout=60,
            data=[{"OpportunityID": "OPP-1", "OpportunityName": "Deal", "Stage": "Open", "Amount": 100}],
        )
        link = EloquaImportOperator(
            task_id="link", entity="opportunities/contacts", name="link",
            fields={"EmailAddress": "{{Opportunity.Contact.Field(C_EmailAddress)}}", "OpportunityID": "{{Opportunity.Id}}"},
            identifier_field_name="EmailAddress", poll_interval=0.2, timeout=60,
            definition_extra={
                "linkOpportunitiesEntityType": "Contact",
                "linkOpportunitiesMatchFieldName": "OpportunityID",
                "linkOpportunitiesSourceField": "EmailAddress",
                "linkOpportunitiesMultipleSourceMatches": True,
            },
            data=[{"EmailAddress": "ann@example.com", "OpportunityID": "OPP-1"}],
        )
        contacts >> opportunities >> link
        """,
    )

    result = run_dag(path, "op_opportunities")

    assert result.state == "success", result.tasks
    assert result["opportunities"].return_value["created"] == 1  # ELQ-00049 "Total new records."
    assert result["link"].return_value["rejected"] == 0
    links = eloqua_conn.control.records("/opportunities/contacts")
    assert [r["identifier"] for r in links] == ["OPP-1|ann@example.com"]


def test_datetimes_go_out_as_eloqua_reads_them(airflow_db, eloqua_conn):
    """Python's isoformat() (microseconds, an offset) is refused by Eloqua's date fields; the load
    sends ``YYYY-MM-DD HH:MM:SS`` and the row lands (docs/eloqua-behaviour.md, "Date values")."""
    path = dag_file(
        "op_datetimes",
        """
        import datetime
        EloquaImportOperator(
            task_id="load", entity="contacts", name="dates",
            fields={**CONTACT_FIELDS, "Bought": "{{Contact.Field(C_Last_Purchase_Date1)}}"},
            identifier_field_name="Email", poll_interval=0.2, timeout=60,
            data=[
                {"Email": "a@example.com", "FirstName": "A", "Bought": datetime.datetime(2026, 11, 29, 15, 4, 5, 123456)},
                {"Email": "b@example.com", "FirstName": "B", "Bought": datetime.date(2026, 11, 30)},
            ],
        )
        """,
    )

    result = run_dag(path, "op_datetimes")

    assert result.state == "success", result.tasks
    summary = result["load"].return_value
    assert (summary["status"], summary["rejected"], summary["created"]) == ("success", 0, 2)
    bought = {
        r["identifier"]: r["{{Contact.Field(C_Last_Purchase_Date1)}}"] for r in eloqua_conn.control.records("/contacts")
    }
    assert bought == {"a@example.com": "2026-11-29 15:04:05", "b@example.com": "2026-11-30"}


@pytest.mark.parametrize("source", ["rows", "csv"])
def test_blank_custom_object_record_ids_create_new_records(airflow_db, eloqua_conn, tmp_path, source):
    """Oracle's "Creating new custom object records": the identifier is the record Id, left blank."""
    csv_path = tmp_path / "records.csv"
    csv_path.write_text('Id,Email\n,a@example.com\n"",b@example.com\n')
    data = (
        'data=[{"Id": "", "Email": "a@example.com"}, {"Id": None, "Email": "b@example.com"}]'
        if source == "rows"
        else f"path={str(csv_path)!r}"
    )
    name = f"op_new_co_records_{source}"
    path = dag_file(
        name,
        f"""
        EloquaImportOperator(
            task_id="load", entity="customObjects", parent_id=9, name="new records",
            fields={{"Id": "{{{{CustomObject[9].Id}}}}", "Email": "{{{{CustomObject[9].Field[1]}}}}"}},
            identifier_field_name="Id", poll_interval=0.2, timeout=60, {data},
        )
        """,
    )

    result = run_dag(path, name)

    assert result.state == "success", result.tasks
    assert (result["load"].return_value["created"], result["load"].return_value["rejected"]) == (2, 0)
    assert len(eloqua_conn.control.records("/customObjects/9")) == 2


@pytest.mark.parametrize(("attempts", "state"), [(1, "failed"), (2, "success")])
def test_http_retry_policy_decides_whether_a_refused_upload_is_resent(airflow_db, eloqua_conn, attempts, state):
    """Eloqua refuses the first data POST with 429 (it took nothing, so resending is safe): one attempt
    fails the task naming the answer; two attempts resend it, and every row arrives once."""
    name = f"op_http_retry_{attempts}"
    policy = {"max_attempts": attempts, "initial_wait": 0.01, "max_wait": 0.1}
    path = dag_file(name, import_operator(name, data=contacts(3), http_retry_policy=policy, request_timeout=60.0))
    eloqua_conn.control.add_fault(method="POST", path=r"/imports/\d+/data$", status=429, times=1)

    result = run_dag(path, name)

    assert result["load"].state == state
    data_posts = [r["status"] for r in eloqua_conn.control.requests() if r["path"].endswith("/data")]
    assert data_posts == [429] * attempts if state == "failed" else data_posts == [429, 204]
    if state == "success":
        assert sorted(r["identifier"] for r in eloqua_conn.control.records("/contacts")) == [
            "p1@example.com",
            "p2@example.com",
            "p3@example.com",
        ]


def test_create_import_maps_columns_to_the_site_fields(eloqua_conn):
    operator = EloquaCreateImportOperator(
        task_id="create", entity="accounts", name="accounts", columns=["Company Name", "m_country", "CompanyIDExt"]
    )
    spec = operator.definition_spec()
    assert spec.fields == {
        "Company Name": "{{Account.Field(M_CompanyName)}}",
        "m_country": "{{Account.Field(M_Country)}}",
        "CompanyIDExt": "{{Account.Field(CompanyIDExt)}}",
    }
    assert spec.identifier_field_name == "CompanyIDExt"  # the accounts' one unique field among them


def test_create_import_takes_fields_or_columns_not_both():
    with pytest.raises(EloquaInputError, match="exactly one of fields"):
        EloquaCreateImportOperator(task_id="c", entity="contacts", name="n")
    with pytest.raises(EloquaInputError, match="exactly one of fields"):
        EloquaCreateImportOperator(
            task_id="c", entity="contacts", name="n", fields={"E": "{{Contact.Id}}"}, columns=["E"]
        )


def test_import_without_fields_needs_only_a_name():
    EloquaImportOperator(task_id="ok", entity="contacts", name="n", data=[])
    with pytest.raises(EloquaInputError, match="identifier_field_name is needed with fields"):
        EloquaImportOperator(task_id="i", entity="contacts", name="n", fields={"E": "{{Contact.Id}}"}, data=[])
    with pytest.raises(EloquaInputError, match="give definition_uri, or name"):
        EloquaImportOperator(task_id="n", entity="contacts", data=[])
