"""operators/eloqua.py: the import operators' ``execute(context)`` against the emulator over loopback HTTP
(tests/task_runner.py: a dict task state store, Airflow's tries, deferral through the rebuilt trigger):
inputs, outputs, outcomes, and every fault a load meets. What only a DAG run shows (XCom between tasks,
rendered fields, the triggerer, Assets) runs in tests/system and tests/operators/test_data_rows.py."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import requests
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowSkipException, TaskDeferred

from airflow_provider_eloqua.emulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PASSWORD,
    DEFAULT_SITE,
    DEFAULT_USER,
)
from airflow_provider_eloqua.exceptions import (
    EloquaApiError,
    EloquaError,
    EloquaInputError,
    EloquaRowCountError,
    EloquaSyncError,
)
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.operators.eloqua import (
    EloquaCreateImportOperator,
    EloquaCreateSyncOperator,
    EloquaImportOperator,
    EloquaUploadDataOperator,
)
from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor
from tests.dag_runner import connection_json
from tests.operators.tasks import FAST_RETRIES, import_task, run_split, run_template
from tests.system.dags.matrix import (
    ACTIVITY_FIELDS,
    Site,
    activities,
    api_requests,
    assert_nothing_staged,
    captured,
    data_posts,
    eventually,
    only_held_requests_time_out,
    refuse_next_definition,
    skip_first,
    staged_rows,
    syncs,
    when,
    write_csv,
)
from tests.system.dags.matrix import CONTACT_FIELDS as MATRIX_FIELDS
from tests.system.dags.matrix import contacts as matrix_contacts
from tests.task_runner import clear_and_rerun, run_task, run_trigger, task_context

CONTACT_FIELDS = {
    "Email": "{{Contact.Field(C_EmailAddress)}}",
    "FirstName": "{{Contact.Field(C_FirstName)}}",
}
#: Polls of a sync every 10 ms: the emulator moves a sync on by polls, not by time.
FAST_POLLS = {"poll_interval": 0.01, "timeout": 60}


def execute(operator) -> object:
    """The task's one try, through a deferral: what it returned, or the error it failed or was skipped with."""
    run = run_task(operator)
    if run.error is not None:
        raise run.error
    return run.return_value


def contacts(n: int, invalid: tuple[int, ...] = ()) -> list[dict]:
    return [
        {"Email": f"bad-{i}" if i in invalid else f"p{i}@example.com", "FirstName": f"F{i}"} for i in range(1, n + 1)
    ]


def import_operator(name: str, **kwargs) -> EloquaImportOperator:
    arguments = {"fields": CONTACT_FIELDS, "identifier_field_name": "Email", **FAST_POLLS, **kwargs}
    return EloquaImportOperator(task_id="load", entity="contacts", name=name, **arguments)


def define_contacts(name: str) -> str:
    definition = EloquaCreateImportOperator(
        task_id="define", entity="contacts", name=name, fields=CONTACT_FIELDS, identifier_field_name="Email"
    )
    return execute(definition)


@pytest.mark.parametrize("batched", [False, True], ids=["one-sync", "batches"])
def test_import_operator_deferrable_maps_rejects_to_input_rows(eloqua_conn, tmp_path, batched):
    """In batches, the earlier batches' syncs are waited for in the worker and only the last one is
    deferred; the summary and the rejects file still cover every batch."""
    rejects = tmp_path / "rejects.ndjson"
    n, bad = (150, (3, 147)) if batched else (8, (3, 7))  # rows of text go as CSV: 150 make 4 chunks
    batching = {"chunk_bytes": 1024, "max_bytes_per_sync": 1024} if batched else {}
    operator = import_operator(
        "deferrable import", data=contacts(n, invalid=bad), deferrable=True, rejects_path=str(rejects), **batching
    )
    eloqua_conn.control.configure(pending_polls=2, active_polls=2)
    context = task_context()

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    summary = operator.execute_complete(context, event=run_trigger(deferred.value.trigger))

    assert summary["status"] == "warning" and summary["rejected"] == 2 and summary["created"] == n - 2
    assert summary["rows"] == n and summary["sync_uri"] == context["ti"].xcoms["sync_uri"]
    syncs = eloqua_conn.control.state()["syncs"]
    assert summary["syncs"] == len(syncs) and (len(syncs) > 2) == batched
    assert summary["sync_uri"] == syncs[-1]["uri"] == deferred.value.trigger.sync_uri
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [r["input_row"] for r in written] == list(bad)
    assert written[0]["field_values"]["Email"] == "bad-3" and written[0]["status_code"] == "ELQ-00002"


@pytest.mark.parametrize(
    ("on_warning", "raised"), [("fail", EloquaSyncError), ("skip", AirflowSkipException), ("succeed", None)]
)
def test_on_warning_decides_the_task_state(eloqua_conn, on_warning, raised):
    operator = import_operator("warn", data=contacts(4, invalid=(2,)), on_warning=on_warning)

    if raised is None:
        assert execute(operator)["status"] == "warning"
    else:
        with pytest.raises(raised, match="ended with warnings"):
            execute(operator)

    assert len(eloqua_conn.control.records("/contacts")) == 3


@pytest.mark.parametrize("suffix", ["ndjson", "json", "csv"])
def test_upload_reads_files_through_object_storage_urls(eloqua_conn, tmp_path, suffix):
    rows = contacts(200)
    source = tmp_path / f"contacts.{suffix}"
    if suffix == "ndjson":
        source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif suffix == "json":
        source.write_text(json.dumps(rows, indent=1))
    else:
        source.write_text("Email,FirstName\n" + "".join(f"{r['Email']},{r['FirstName']}\n" for r in rows))
    definition_uri = define_contacts("files")
    upload_operator = EloquaUploadDataOperator(
        task_id="upload", definition_uri=definition_uri, path=f"file://{source}", chunk_bytes=1024
    )

    upload = execute(upload_operator)
    wait = execute(EloquaSyncSensor(task_id="wait", sync_uri=upload["sync_uri"], poke_interval=0.01, timeout=60))

    assert upload["rows"] == 200 and upload["chunks"] > 2
    assert wait["created"] == 200
    uploads = [u for u in eloqua_conn.control.state()["uploads"]]
    assert len(uploads) == upload["chunks"] and all(u["bytes"] <= 1024 for u in uploads)
    assert len(eloqua_conn.control.records("/contacts")) == 200


def _two_steps(synced: str) -> tuple[str, dict, dict]:
    """A template, rows staged without a sync into the upload's own copy, then a sync of ``synced``
    (``"copy"`` or ``"template"``) started by its own task; returns the template, the upload's
    result and its XComs."""
    template = define_contacts("two step")
    stage = run_task(
        EloquaUploadDataOperator(
            task_id="stage",
            definition_uri=template,
            start_sync=False,
            data=[{"Email": "a@example.com", "FirstName": "A"}, {"Email": "b@example.com", "FirstName": "B"}],
        )
    )
    pushed = stage.context["ti"].xcoms
    uri = pushed["definition_uri"] if synced == "copy" else template
    sync_uri = execute(EloquaCreateSyncOperator(task_id="sync", synced_instance_uri=uri))
    return template, stage.return_value, {**pushed, "sync": sync_uri}


def test_staging_without_sync_then_create_sync_operator(eloqua_conn):
    """The rows are staged in the upload's own copy of the definition: that copy is what is synced,
    and the sensor deletes it afterwards (the template stays)."""
    template, stage, pushed = _two_steps("copy")
    sensor = EloquaSyncSensor(
        task_id="wait", sync_uri=pushed["sync"], expected_rows=pushed["sync_rows"], poke_interval=0.01, timeout=60
    )

    wait = execute(sensor)

    assert stage["sync_uri"] is None and stage["sync_rows"] == pushed["sync_rows"] == 2
    assert stage["definition_uri"] == pushed["definition_uri"] != template
    assert pushed["sync"].startswith("/syncs/")
    assert wait["rows_processed"] == 2
    assert len(eloqua_conn.control.state()["syncs"]) == 1
    assert [d["uri"] for d in eloqua_conn.control.state()["definitions"]] == [template]
    assert len(eloqua_conn.control.records("/contacts")) == 2


def test_syncing_the_template_instead_of_the_copy_fails_naming_both_counts(eloqua_conn):
    _, _, pushed = _two_steps("template")
    sensor = EloquaSyncSensor(
        task_id="wait", sync_uri=pushed["sync"], expected_rows=pushed["sync_rows"], poke_interval=0.01, timeout=60
    )

    with pytest.raises(EloquaRowCountError, match=r"processed 0 row\(s\), but this load staged 2 for it"):
        execute(sensor)
    assert eloqua_conn.control.records("/contacts") == []


def test_uri_templates_that_render_to_numbers_fail_naming_the_argument(eloqua_conn):
    """With native rendering a template may render to an int: the error names the argument and the
    value (no bare TypeError), and nothing is sent to Eloqua."""
    eloqua_conn.control.clear_requests()
    with DAG("op_uri_ints", schedule=None, render_template_as_native_obj=True):
        operators = [
            EloquaUploadDataOperator(task_id="stage", definition_uri="{{ 5 }}", data=[{"Email": "a@example.com"}]),
            EloquaImportOperator(task_id="load", definition_uri="{{ 5 }}", data=[{"Email": "a@example.com"}]),
            EloquaCreateSyncOperator(task_id="sync", synced_instance_uri="{{ 7 }}"),
        ]
    for operator, argument, value in zip(
        operators, ("definition_uri", "definition_uri", "synced_instance_uri"), (5, 5, 7), strict=True
    ):
        context = task_context(operator.task_id)
        operator.render_template_fields(context)
        assert getattr(operator, argument) == value
        with pytest.raises(EloquaInputError, match=rf"{argument} must look like /contacts/imports/30.*got {value}"):
            operator.execute(context)
    assert [r for r in eloqua_conn.control.requests() if "/api/bulk/" in r["path"].lower()] == []


def test_unknown_sync_status_fails_clearly(eloqua_conn):
    eloqua_conn.control.add_fault(
        method="GET", path=r"^/syncs/\d+$", action="status", status=200, body={"status": "paused"}, times=None
    )

    with pytest.raises(EloquaError, match="Eloqua reported an unknown status 'paused'"):
        execute(import_operator("unknown", data=contacts(2)))


def test_empty_input_skips_with_no_sync(eloqua_conn):
    summary = execute(import_operator("empty", data=[]))

    assert summary["rows"] == 0 and summary["sync_uri"] is None and summary["status"] is None
    assert eloqua_conn.control.state()["syncs"] == [] and eloqua_conn.control.state()["uploads"] == []


@pytest.mark.parametrize("batched", [False, True], ids=["one-sync", "batches"])
@pytest.mark.parametrize("suffix", ["csv", "ndjson"])
def test_rejects_from_a_file_are_mapped_to_their_input_rows(eloqua_conn, tmp_path, suffix, batched):
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

    summary = execute(import_operator("file rejects", path=str(source), rejects_path=str(rejects), **batching))

    assert summary["rejected"] == 2
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


def test_reuse_finds_a_definition_whose_booleans_eloqua_spells_as_strings(eloqua_conn):
    """Oracle's examples send booleans as "true"/"false": a definition holding them is the same
    definition as one the DAG describes with Python booleans, so it is reused, not piled up."""
    existing = requests.post(
        eloqua_conn.url + "/api/bulk/2.0/contacts/imports",
        auth=(f"{DEFAULT_SITE}\\{DEFAULT_USER}", DEFAULT_PASSWORD),
        json={
            "name": "reuse by meaning",
            "fields": CONTACT_FIELDS,
            "identifierFieldName": "Email",
            "isSyncTriggeredOnImport": "false",
            "isUpdatingMultipleMatchedRecords": "false",
            "updateRule": "always",
        },
        timeout=10,
    ).json()["uri"]
    operator = EloquaCreateImportOperator(
        task_id="define",
        entity="contacts",
        name="reuse by meaning",
        fields=CONTACT_FIELDS,
        identifier_field_name="Email",
        reuse_existing=True,
        definition_extra={"isUpdatingMultipleMatchedRecords": False},
    )

    assert execute(operator) == existing
    assert [d["uri"] for d in eloqua_conn.control.state()["definitions"]] == [existing]


def test_opportunities_load_with_oracles_statements_then_link_to_contacts(eloqua_conn):
    """Oracle's opportunity tutorial end to end: import opportunities keyed on {{Opportunity.Id}},
    then link them to contacts through /opportunities/contacts/imports."""
    execute(import_operator("contacts", data=[{"Email": "ann@example.com", "FirstName": "Ann"}]))
    opportunities = EloquaImportOperator(
        task_id="opportunities",
        entity="opportunities",
        name="opportunities",
        fields={
            "OpportunityID": "{{Opportunity.Id}}",
            "OpportunityName": "{{Opportunity.Field(Name)}}",
            "Stage": "{{Opportunity.Field(Stage)}}",
            "Amount": "{{Opportunity.Field(Amount)}}",
        },
        identifier_field_name="OpportunityID",
        data=[{"OpportunityID": "OPP-1", "OpportunityName": "Deal", "Stage": "Open", "Amount": 100}],
        **FAST_POLLS,
    )
    link = EloquaImportOperator(
        task_id="link",
        entity="opportunities/contacts",
        name="link",
        fields={"EmailAddress": "{{Opportunity.Contact.Field(C_EmailAddress)}}", "OpportunityID": "{{Opportunity.Id}}"},
        identifier_field_name="EmailAddress",
        definition_extra={
            "linkOpportunitiesEntityType": "Contact",
            "linkOpportunitiesMatchFieldName": "OpportunityID",
            "linkOpportunitiesSourceField": "EmailAddress",
            "linkOpportunitiesMultipleSourceMatches": True,
        },
        data=[{"EmailAddress": "ann@example.com", "OpportunityID": "OPP-1"}],
        **FAST_POLLS,
    )

    assert execute(opportunities)["created"] == 1  # ELQ-00049 "Total new records."
    assert execute(link)["rejected"] == 0
    links = eloqua_conn.control.records("/opportunities/contacts")
    assert [r["identifier"] for r in links] == ["OPP-1|ann@example.com"]


def test_datetimes_go_out_as_eloqua_reads_them(eloqua_conn):
    """Python's isoformat() (microseconds, an offset) is refused by Eloqua's date fields; the load
    sends ``YYYY-MM-DD HH:MM:SS`` and the row lands (docs/eloqua-behaviour.md, "Date values")."""
    operator = import_operator(
        "dates",
        fields={**CONTACT_FIELDS, "Bought": "{{Contact.Field(C_Last_Purchase_Date1)}}"},
        data=[
            {"Email": "a@example.com", "FirstName": "A", "Bought": dt.datetime(2026, 11, 29, 15, 4, 5, 123456)},
            {"Email": "b@example.com", "FirstName": "B", "Bought": dt.date(2026, 11, 30)},
        ],
    )

    summary = execute(operator)

    assert (summary["status"], summary["rejected"], summary["created"]) == ("success", 0, 2)
    bought = {
        r["identifier"]: r["{{Contact.Field(C_Last_Purchase_Date1)}}"] for r in eloqua_conn.control.records("/contacts")
    }
    assert bought == {"a@example.com": "2026-11-29 15:04:05", "b@example.com": "2026-11-30"}


@pytest.mark.parametrize("source", ["rows", "csv"])
def test_blank_custom_object_record_ids_create_new_records(eloqua_conn, tmp_path, source):
    """Oracle's "Creating new custom object records": the identifier is the record Id, left blank."""
    csv_path = tmp_path / "records.csv"
    csv_path.write_text('Id,Email\n,a@example.com\n"",b@example.com\n')
    data = (
        {"data": [{"Id": "", "Email": "a@example.com"}, {"Id": None, "Email": "b@example.com"}]}
        if source == "rows"
        else {"path": str(csv_path)}
    )
    operator = EloquaImportOperator(
        task_id="load",
        entity="customObjects",
        parent_id=9,
        name="new records",
        fields={"Id": "{{CustomObject[9].Id}}", "Email": "{{CustomObject[9].Field[1]}}"},
        identifier_field_name="Id",
        **FAST_POLLS,
        **data,
    )

    summary = execute(operator)

    assert (summary["created"], summary["rejected"]) == (2, 0)
    assert len(eloqua_conn.control.records("/customObjects/9")) == 2


@pytest.mark.parametrize("attempts", [1, 2])
def test_http_retry_policy_decides_whether_a_refused_upload_is_resent(eloqua_conn, attempts):
    """Eloqua refuses the first data POST with 429 (it took nothing, so resending is safe): one attempt
    fails the task naming the answer; two attempts resend it, and every row arrives once."""
    policy = {"max_attempts": attempts, "initial_wait": 0.01, "max_wait": 0.1}
    operator = import_operator(f"retry {attempts}", data=contacts(3), http_retry_policy=policy, request_timeout=60.0)
    eloqua_conn.control.add_fault(method="POST", path=r"/imports/\d+/data$", status=429, times=1)

    if attempts == 1:
        with pytest.raises(EloquaApiError, match="Eloqua answered 429 to POST"):
            execute(operator)
    else:
        execute(operator)

    data_posts = [r["status"] for r in eloqua_conn.control.requests() if r["path"].endswith("/data")]
    assert data_posts == ([429] if attempts == 1 else [429, 204])
    if attempts == 2:
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


# ================================================================== faults, through the tries Airflow makes
# execute(context) against the emulator (tests/task_runner.py): what the user sees (the task's state
# and error) and what Eloqua ends up with, exactly the input's records (nothing lost, nothing doubled),
# the rows each sync took and the requests made. Activities never update, so a doubled upload of them
# would show as doubled records: the ambiguous-POST cases use them.

SYNC_GET = r"/syncs/\d+$"  # request-log paths are full (/api/bulk/2.0/syncs/100)
FAULT_SYNC_GET = r"^/syncs/\d+$"  # fault paths are relative to the Bulk base
SMALL_CHUNKS = 1024


def _activities(n: int, **spec):
    """A one-task import of ``n`` activities in 1 KiB chunks (30 rows: three chunks)."""
    return import_task(
        entity="activities",
        fields=ACTIVITY_FIELDS,
        identifier="ExternalId",
        # Rows of text go as CSV: padded so that 30 rows still make three 1 KiB chunks.
        data=[dict(row, AssetName=f"{row['AssetName']} {'x' * 64}") for row in activities(n)],
        chunk_bytes=SMALL_CHUNKS,
        http_retry_policy=FAST_RETRIES,
        **spec,
    )


# ------------------------------------------------------------------ throttling and 5xx on GETs


def test_429_with_retry_after_is_waited_out_and_the_post_resent(eloqua_conn, worker_clock):
    env = eloqua_conn
    env.control.add_fault(method="POST", path=r"/data$", times=1, status=429, headers={"Retry-After": "7"})

    run = run_task(import_task(data=matrix_contacts(20)))

    assert run.state == "success", run.error
    assert run.return_value["created"] == 20
    assert 7.0 in worker_clock.slept  # the Retry-After Eloqua asked for
    assert len(env.control.records("/contacts")) == 20
    assert [p["status"] for p in data_posts(env)] == [429, 204]
    # A 429 staged nothing, so it is resent as is: no clear-and-restart.
    assert api_requests(env, "DELETE", r"/data$") == []
    assert [s["rows"] for s in syncs(env)] == [20]


@pytest.mark.parametrize(
    ("fault_path", "log_path"),
    [
        (r"^/contacts/imports/\d+$", r"/contacts/imports/\d+$"),
        (FAULT_SYNC_GET, SYNC_GET),
        (r"/logs$", r"/logs$"),
    ],
    ids=["definition", "sync", "sync-logs"],
)
def test_500_with_retry_after_on_a_get_is_retried(eloqua_conn, worker_clock, fault_path, log_path):
    env = eloqua_conn
    env.control.add_fault(method="GET", path=fault_path, times=1, status=500, headers={"Retry-After": "3"})

    # The upload reads its template definition (to copy it); the one-task import never reads one.
    if "imports" in fault_path:
        runs = run_split(data=matrix_contacts(10))
        assert [run.state for run in runs.values()] == ["success"] * 3, runs
    else:
        run = run_task(import_task(data=matrix_contacts(10)))
        assert run.state == "success", run.error

    assert 3.0 in worker_clock.slept
    assert [r["status"] for r in api_requests(env, "GET", log_path)][:2] == [500, 200]
    assert len(env.control.records("/contacts")) == 10
    assert [s["rows"] for s in syncs(env)] == [10]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_on_gets_are_retried_within_the_try(eloqua_conn, worker_clock, status):
    env = eloqua_conn
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=1, status=status)

    run = run_task(import_task(data=matrix_contacts(10)), retries=1)

    assert run.state == "success", run.error
    assert run.try_number == 1  # absorbed by the hook, not by an Airflow retry
    assert [r["status"] for r in api_requests(env, "GET", SYNC_GET)][:2] == [status, 200]
    assert len(env.control.records("/contacts")) == 10
    assert len(api_requests(env, "POST", r"/syncs$")) == 1


def test_gateway_error_in_the_deferrable_trigger_is_retried(eloqua_conn):
    env = eloqua_conn
    skip_first(env, "GET", FAULT_SYNC_GET)  # the sensor's own first poke, before it defers
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=1, status=503)

    runs = run_split(data=matrix_contacts(10), deferrable=True, sensor={"http_retry_policy": FAST_RETRIES})

    wait = runs["wait"]
    assert wait.state == "success", wait.error
    assert [e["sync_status"] for e in wait.events] == ["success"]  # the trigger's event, after its retry
    assert 503 in [r["status"] for r in api_requests(env, "GET", SYNC_GET)]
    assert wait.return_value["created"] == 10
    assert len(env.control.records("/contacts")) == 10


# ------------------------------------------------------------------ ambiguous data POSTs


@pytest.mark.parametrize(
    "fault",
    [{"status": 500}, {"status": 502}, {"status": 503}, {"status": 504}, {"action": "drop"}, {"action": "drop_after"}],
    ids=["500", "502", "503", "504", "drop", "drop_after"],
)
def test_an_ambiguous_data_post_clears_staging_and_restarts_the_upload_without_doubling(eloqua_conn, fault):
    """A 5xx or a dropped connection on the 2nd data POST may have staged its rows (``drop_after``
    does): the client cannot tell, so it clears staging and sends every chunk again, or every
    activity in that chunk would be created twice."""
    env = eloqua_conn
    skip_first(env, "POST", r"/data$")
    env.control.add_fault(method="POST", path=r"/data$", times=1, **fault)

    run = run_task(_activities(30))

    assert run.state == "success", run.error
    chunks = run.return_value["chunks"]
    assert chunks >= 3 and run.return_value["rows"] == 30
    if "status" in fault:  # chunk 1, chunk 2 (5xx), then a clear and every chunk again
        assert [p["status"] for p in data_posts(env)] == [204, fault["status"]] + [204] * chunks
    staged_by_fault = 1 if fault.get("action") == "drop_after" else 0
    assert len(env.control.state()["uploads"]) == 1 + staged_by_fault + chunks
    assert len(api_requests(env, "DELETE", r"/data$")) == 1
    assert [s["rows"] for s in syncs(env)] == [30]
    assert len(env.control.records("/activities")) == 30
    assert run.return_value["created"] == 30


def test_read_timeouts_retry_a_get_and_restart_the_upload_without_doubling(eloqua_conn, monkeypatch, capfd, caplog):
    """A data POST and a look at the sync that get no answer within the request timeout: the GET is
    retried by the hook, the upload cleared and restarted; the held requests are answered after the
    client gave up."""
    env = eloqua_conn
    skip_first(env, "POST", r"/data$")
    env.control.add_fault(method="POST", path=r"/data$", times=1, action="hold")
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=1, action="hold")
    only_held_requests_time_out(
        monkeypatch, env, EloquaHook().session, {("POST", "/data$"): {2}, ("GET", SYNC_GET): {1}}
    )

    run = run_task(_activities(30, request_timeout=0.05), retries=1)
    assert env.control.release_held() == 2  # both held until the client had given up on them

    assert run.state == "success", run.error
    assert run.try_number == 1  # the hook and the upload's restart absorbed both, not an Airflow retry
    output = captured(capfd, caplog)
    assert "POST /activities/imports/1/data failed before Eloqua answered: read timeout after 0.05s" in output
    assert env.control.faults() == []
    assert len(api_requests(env, "DELETE", r"/data$")) == 1
    assert [s["rows"] for s in syncs(env)] == [30]
    assert len(env.control.records("/activities")) == 30
    # The held GET is logged once the emulator answers it, after the client gave up.
    assert eventually(lambda: api_requests(env, "GET", SYNC_GET)[0].get("fault") == "hold")


# ------------------------------------------------------------------ deadlines


@pytest.mark.parametrize(
    "spec",
    [
        {"mode": "import", "deferrable": False},
        {"mode": "import", "deferrable": True},
        {"mode": "split", "deferrable": False},
        {"mode": "split", "deferrable": True},
    ],
    ids=["operator-poll", "operator-deferred", "sensor-poke", "sensor-deferred"],
)
def test_sync_stuck_in_pending_fails_at_the_deadline(eloqua_conn, every_clock, spec):
    env = eloqua_conn
    env.control.configure(pending_polls=1_000_000)

    if spec["mode"] == "import":
        waiting = run_task(import_task(data=matrix_contacts(5), timeout=0.5, deferrable=spec["deferrable"]))
    else:
        waiting = run_split(data=matrix_contacts(5), deferrable=spec["deferrable"], sensor={"timeout": 0.5})["wait"]

    assert waiting.state == "failed"
    assert "at the deadline" in str(waiting.error) or "timed out" in str(waiting.error)
    assert [s["status"] for s in syncs(env)] == ["pending"]  # one sync, never a second
    assert env.control.records("/contacts") == []


# ------------------------------------------------------------------ authentication


def _oauth_connection(env, **extra):
    return connection_json(
        env,
        extra={"auth_type": "oauth2", "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET, **extra},
    )


def _expire_tokens_then_release(env, sync_gets_before: int):
    """Once the waiting side has polled the sync, expire every access token; after the 401 it causes,
    let the sync finish."""

    def polled() -> bool:
        return len([r for r in api_requests(env, "GET", SYNC_GET) if r["status"] == 200]) >= sync_gets_before

    def expire_and_release() -> None:
        env.control.configure(expire_access_tokens=True)
        when(
            lambda: any(r["status"] == 401 for r in api_requests(env, "GET", SYNC_GET)),
            lambda: env.control.configure(pending_polls=0, active_polls=0),
        ).join()

    return when(polled, expire_and_release)


@pytest.mark.parametrize("deferrable", [False, True], ids=["poll", "deferred"])
def test_expired_oauth_token_is_refreshed_and_the_wait_goes_on(eloqua_conn, monkeypatch, deferrable):
    env = eloqua_conn
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", _oauth_connection(env))
    env.control.configure(pending_polls=1_000_000)
    # Poll mode: expire after the operator's first poll. Deferred: after the trigger's first poll
    # (the operator polls once itself before deferring), so the trigger's async path refreshes.
    watcher = _expire_tokens_then_release(env, sync_gets_before=2 if deferrable else 1)

    run = run_task(import_task(data=matrix_contacts(10), deferrable=deferrable), retries=1)
    watcher.join(5)

    assert run.state == "success", run.error
    assert run.try_number == 1
    statuses = [r["status"] for r in api_requests(env, "GET", SYNC_GET)]
    assert statuses.count(401) == 1
    tokens = api_requests(env, "POST", r"/auth/oauth2/token$")
    assert all(t["status"] == 200 for t in tokens)
    # the password grant and one renewal after the 401, in both modes: the operator, its trigger and
    # execute_complete run in this one process and share one session (hooks/session.py); in a
    # deployment the triggerer is a process of its own with its own session, so one grant more
    assert len(tokens) == 2
    assert len(env.control.records("/contacts")) == 10


def test_rotated_password_fails_fast_with_a_clear_message(eloqua_conn):
    env = eloqua_conn
    env.control.configure(password="rotated-by-an-admin")

    run = run_task(import_task(data=matrix_contacts(5)), retries=2)

    assert run.state == "failed" and run.try_number == 1  # credentials refused: Airflow does not retry
    # /id refuses the rotated password with 200 "Not authenticated." (Oracle): the same clear message
    assert "Eloqua answered 200 to GET /id; body: Not authenticated. Check the user and password" in str(run.error)
    assert "changed or rotated?" in str(run.error)
    # one discovery, one renewal after its refusal, then stop: no retry storm
    assert [(r["method"], r["path"], r["status"]) for r in env.control.requests()] == [
        ("GET", "/id", 200),
        ("GET", "/id", 200),
    ]
    assert staged_rows(env) == {}


# ------------------------------------------------------------------ 409 and reattaching


def test_retry_of_the_one_task_import_reattaches_to_its_running_sync(eloqua_conn, capfd, caplog):
    env = eloqua_conn
    # The first try's first look at its sync fails (400, not retried), with the sync still running.
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=1, status=400)

    run = run_task(import_task(data=matrix_contacts(12)), retries=1)

    assert run.state == "success", run.error
    assert run.try_number == 2
    assert "Reattaching to sync /syncs/100" in captured(capfd, caplog)
    assert len(api_requests(env, "POST", r"/syncs$")) == 1  # no second sync
    assert len(data_posts(env)) == 1  # nothing uploaded again
    assert api_requests(env, "DELETE", r"/data$") == []  # staging not touched: no 409
    assert len(api_requests(env, "POST", r"/contacts/imports$")) == 1  # definition reused
    assert [s["rows"] for s in syncs(env)] == [12]
    assert run.return_value["created"] == 12
    assert run.xcoms["sync_uri"] == run.return_value["sync_uri"]  # pushed again by the try that reattached
    assert len(env.control.records("/contacts")) == 12


def test_a_restart_never_touches_another_load_syncing_the_same_template(eloqua_conn):
    """Another client staged in the template and its sync runs. Our upload copies the template and
    stages in its copy, so the clear-and-restart after its dropped POST clears only its own staging
    (no 409, nobody else's rows deleted) and both syncs take exactly their own rows."""
    env = eloqua_conn
    site = Site(env)
    uri = site.create_import()
    site.stage(uri, matrix_contacts(3, start=100))
    env.control.configure(pending_polls=1_000_000)
    site.start_sync(uri)
    env.control.add_fault(method="POST", path=r"/data$", times=1, action="drop")

    run = run_task(
        EloquaUploadDataOperator(
            task_id="upload", definition_uri=uri, data=matrix_contacts(5), http_retry_policy=FAST_RETRIES
        )
    )

    assert run.state == "success", run.error
    copy = run.return_value["definition_uri"]
    assert copy != uri
    assert [r["path"].endswith(copy + "/data") for r in api_requests(env, "DELETE", r"/data$")] == [True]
    assert [(s["syncedInstanceUri"], s["rows"]) for s in syncs(env)] == [(uri, 3), (copy, 5)]


def test_sync_start_answer_lost_after_creation_is_found_and_reattached(eloqua_conn, capfd, caplog):
    """POST /syncs creates the sync but the answer is lost. The retry finds that sync among the
    site's syncs and waits for it, instead of staging the rows (and syncing them) a second time."""
    env = eloqua_conn
    env.control.add_fault(method="POST", path=r"^/syncs$", times=1, action="drop_after")

    run = run_task(
        import_task(data=activities(6), entity="activities", fields=ACTIVITY_FIELDS, identifier="ExternalId"),
        retries=1,
    )

    assert run.state == "success", run.error
    assert run.try_number == 2
    assert "whose creation answer an earlier try lost" in captured(capfd, caplog)
    assert [s["rows"] for s in syncs(env)] == [6]
    assert len(data_posts(env)) == 1
    assert len(env.control.records("/activities")) == 6  # activities never update: doubling would show
    # the found sync is checked against the rows staged for it, as a sync whose answer arrived is
    assert run.return_value["sync_rows"] == 6


def test_retries_after_errored_syncs_load_once_more_each(eloqua_conn):
    env = eloqua_conn
    env.control.configure(force_status=["error", "error"])

    run = run_task(import_task(data=matrix_contacts(5)), retries=2)

    assert run.state == "success", run.error
    assert run.try_number == 3
    assert ["ended with status 'error'" in str(error) for error in run.errors] == [True, True]
    assert [s["status"] for s in syncs(env)] == ["error", "error", "success"]
    assert len(env.control.records("/contacts")) == 5
    assert staged_rows(env) == {}


# ------------------------------------------------------------------ sync errors


def test_definition_deleted_before_the_sync_finished_fails_naming_it(eloqua_conn):
    env = eloqua_conn
    env.control.configure(pending_polls=1_000_000)
    site = Site(env)

    def delete_definition_then_release() -> None:
        (sync,) = syncs(env)
        site.call("DELETE", sync["syncedInstanceUri"])
        env.control.configure(pending_polls=0, active_polls=0)

    watcher = when(lambda: bool(syncs(env)), delete_definition_then_release)
    runs = run_split(data=matrix_contacts(4))
    watcher.join(5)

    assert runs["upload"].state == "success"
    assert runs["wait"].state == "failed"
    error = str(runs["wait"].error)
    assert "ended with status 'error'" in error
    assert "ELQ-00143" in error and "Definition deleted before sync finished" in error
    assert env.control.records("/contacts") == []


# ------------------------------------------------------------------ Airflow task retries


@pytest.mark.parametrize(
    "fault",
    [{"action": "drop", "times": 3}, {"action": "drop_after", "times": 3}, {"action": "status", "status": 400}],
    ids=["drop-exhausts-restarts", "drop_after-exhausts-restarts", "400-mid-upload"],
)
def test_task_retry_after_a_failed_upload_clears_staging_and_loads_once(eloqua_conn, capfd, caplog, fault):
    """The first try fails after chunks were staged (restarts exhausted, or a non-ambiguous 400); the
    retry clears staging and uploads everything once."""
    env = eloqua_conn
    skip_first(env, "POST", r"/data$")
    env.control.add_fault(method="POST", path=r"/data$", **fault)

    run = run_task(_activities(30), retries=1)

    assert run.state == "success", run.error
    assert run.try_number == 2
    assert "Retry: clearing" in captured(capfd, caplog)
    assert len(api_requests(env, "POST", r"/syncs$")) == 1
    assert [s["rows"] for s in syncs(env)] == [30]
    assert len(env.control.records("/activities")) == 30
    assert run.return_value["rows"] == 30


# ------------------------------------------------------------------ bad input: refused before anything is staged

CSV_HEADER = b"Email,FirstName,LastName\n"
LATE_CHUNKS = 16 * 1024


def _refused_before_staging(env, run, *messages: str) -> None:
    """The task failed on bad input (not retried), naming it, and left NOTHING in Eloqua."""
    assert run.state == "failed" and run.try_number == 1
    assert isinstance(run.error, EloquaInputError), run.error
    for message in messages:
        assert message in str(run.error)
    assert data_posts(env) == []
    assert api_requests(env, "POST", r"/syncs$") == []
    assert_nothing_staged(env)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (CSV_HEADER + b'a@example.com,"Ann,Smith\nb@example.com,B,C\n', "CSV row 1: a quoted field is never closed"),
        (CSV_HEADER + b"a@example.com,A,S\nb@example.com,B\n", "CSV row 2 has 2 fields; the header has 3 columns"),
        (CSV_HEADER + b"a@example.com,A,S,extra\n", "CSV row 1 has 4 fields; the header has 3 columns"),
        (CSV_HEADER + b"a@example.com,J\xe9r\xf4me,S\n", "CSV row 1 is not valid UTF-8"),
        (b"FirstName,LastName\nA,S\n", "the CSV header lacks the identifier column 'Email'"),
        (b"Email,FirstName,Phone\na@example.com,A,1\n", "not fields of the import definition: 'Phone'"),
        (CSV_HEADER + b"a@example.com," + b"A" * 2000 + b",S\n", "CSV row 1 is larger than the 999 bytes a chunk has"),
    ],
    ids=["unbalanced-quote", "short-row", "long-row", "not-utf8", "no-identifier-column", "unknown-column", "huge-row"],
)
def test_malformed_csv_fails_before_anything_is_staged(eloqua_conn, tmp_path, content, message):
    path = tmp_path / "input.csv"
    path.write_bytes(content)

    run = run_task(import_task(path=str(path), chunk_bytes=SMALL_CHUNKS), retries=1)

    _refused_before_staging(eloqua_conn, run, message)


def test_utf8_bom_is_accepted_and_stripped(eloqua_conn, tmp_path):
    env = eloqua_conn
    rows = matrix_contacts(7)
    path = write_csv(tmp_path / "bom.csv", rows)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())

    run = run_task(import_task(path=str(path)))

    assert run.state == "success", run.error
    assert run.return_value["rows"] == 7
    assert len(data_posts(env)) == 1
    records = env.control.records("/contacts")
    assert len(records) == 7
    # The BOM was not glued onto the first column name: every Email landed in C_EmailAddress.
    assert sorted(r["{{Contact.Field(C_EmailAddress)}}"] for r in records) == sorted(r["Email"] for r in rows)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"Email": "a@example.com", "FirstName": {"given": "Ann"}}], "row 1: key 'FirstName': nested values"),
        ([{"Email": "a@example.com", "LastName": ["S", "T"]}], "row 1: key 'LastName': nested values"),
        ([{"Email": "a@example.com", "Phone": "1"}], "row 1: keys that are not fields of the import definition"),
        ([{"FirstName": "Ann"}], "row 1: lacks the identifier key 'Email'"),
        ([{"Email": "a@example.com", "FirstName": "A" * 2000}], "more than fits in one chunk (chunk_bytes=1024"),
    ],
    ids=["nested-dict", "nested-list", "unknown-key", "no-identifier", "huge-row"],
)
def test_bad_json_rows_fail_before_anything_is_staged(eloqua_conn, rows, message):
    run = run_task(import_task(data=rows, chunk_bytes=SMALL_CHUNKS), retries=1)

    _refused_before_staging(eloqua_conn, run, message)


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_bad_row_late_in_the_input_clears_what_was_already_staged(eloqua_conn, tmp_path, capfd, caplog, fmt):
    """Chunking validates a read block (1 MiB of CSV) or a batch (1,000 JSON rows) at a time, so the
    bad row sits beyond the first block or batch: earlier chunks are POSTed before it is found."""
    env = eloqua_conn
    bad = 19_000 if fmt == "csv" else 2_500
    rows = matrix_contacts(bad + 100)
    if fmt == "csv":
        path = write_csv(tmp_path / "late.csv", rows)
        lines = path.read_bytes().split(b"\n")
        lines[bad] = b"bad@example.com,only-two-fields"  # line 0 is the header
        path.write_bytes(b"\n".join(lines))
        message = f"CSV row {bad} has 2 fields"
    else:
        rows[bad - 1]["FirstName"] = {"nested": True}
        path = tmp_path / f"late.{fmt}"
        text = json.dumps(rows) if fmt == "json" else "\n".join(json.dumps(r) for r in rows)
        path.write_text(text)
        message = f"row {bad}: key 'FirstName': nested values"

    run = run_task(import_task(path=str(path), chunk_bytes=LATE_CHUNKS), retries=1)

    assert run.state == "failed" and run.try_number == 1
    assert message in str(run.error)
    assert "Cleared the staging area" in captured(capfd, caplog)
    posts = data_posts(env)
    assert len(posts) >= 2 and all(p["status"] == 204 for p in posts)  # earlier chunks did reach Eloqua
    assert len(api_requests(env, "DELETE", r"/data$")) == 1
    assert api_requests(env, "POST", r"/syncs$") == []
    assert_nothing_staged(env)


def test_bad_row_late_in_xcom_rows_clears_staging_in_the_upload_operator(eloqua_conn):
    env = eloqua_conn
    rows = matrix_contacts(1_500)
    rows[1_399] = {"Email": "x@example.com", "Unknown": "1"}

    runs = run_split(data=rows, chunk_bytes=LATE_CHUNKS)

    assert runs["create"].state == "success"
    assert runs["upload"].state == "failed" and "wait" not in runs
    assert "row 1400: keys that are not fields of the import definition: 'Unknown'" in str(runs["upload"].error)
    assert len(data_posts(env)) >= 2
    assert len(api_requests(env, "DELETE", r"/data$")) == 1
    assert_nothing_staged(env)


@pytest.mark.parametrize("source", ["header-only", "blank-lines", "empty-list"], ids=lambda s: s)
def test_empty_input_is_skipped_with_a_log_line(eloqua_conn, tmp_path, capfd, caplog, source):
    """Documented decision: no rows is not an error; nothing is staged, no sync is started,
    the task succeeds with rows=0 and sync_uri None and logs why, and its load definition is deleted."""
    env = eloqua_conn
    if source == "empty-list":
        spec: dict = {"data": []}
    else:
        path = tmp_path / "empty.csv"
        path.write_bytes({"header-only": CSV_HEADER, "blank-lines": CSV_HEADER + b"\n\n"}[source])
        spec = {"path": str(path)}

    run = run_task(import_task(**spec))

    assert run.state == "success", run.error
    value = run.return_value
    assert value["rows"] == 0 and value["sync_uri"] is None and value["status"] is None
    assert "The input has no rows: nothing was staged and no sync was started" in captured(capfd, caplog)
    assert data_posts(env) == []
    assert api_requests(env, "POST", r"/syncs$") == []
    assert_nothing_staged(env)
    assert env.control.state()["definitions"] == []


def test_a_0_byte_csv_fails_as_a_broken_export_before_anything_is_sent(eloqua_conn, tmp_path):
    """Documented decision: a CSV with no rows still has its header line, so 0 bytes is a broken upstream."""
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    run = run_task(import_task(path=str(path)), retries=2)

    assert run.state == "failed"
    assert run.try_number == 1  # bad input: not retried
    assert "is empty (0 bytes, not even a header line)" in str(run.error)
    assert api_requests(eloqua_conn, "POST") == []


def test_empty_input_skips_the_downstream_sensor(eloqua_conn):
    """In the create -> upload -> sensor chain an empty input must not fail the sensor on a None sync_uri."""
    runs = run_split(data=[])

    assert runs["upload"].state == "success"
    assert runs["upload"].return_value["sync_uri"] is None
    assert runs["wait"].state == "skipped"
    assert "no sync to wait for" in str(runs["wait"].error)
    assert api_requests(eloqua_conn, "POST", r"/syncs$") == []
    assert_nothing_staged(eloqua_conn)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"fields": {f"Col{i}": f"{{{{Contact.Field(C_X{i})}}}}" for i in range(101)}, "identifier": "Col0"},
            "fields has 101 entries; Eloqua allows at most 100",
        ),
        (
            {"fields": {**MATRIX_FIELDS, "LastName": "Contact.Field(C_LastName)"}},
            "fields['LastName'] must be an Eloqua markup statement",
        ),
        ({"fields": {**MATRIX_FIELDS, "FirstName": ""}}, "fields['FirstName'] must be an Eloqua markup statement"),
        (
            {"identifier": "Phone"},
            "identifier_field_name 'Phone' must be one of the fields: Email, FirstName, LastName",
        ),
        (
            {"entity": "customObjects", "parent_id": "abc"},
            "parent_id (a positive integer) is required for entity 'customObjects'; got 'abc'",
        ),
        (  # Oracle's opportunity tutorial: Id, Name, Stage and Amount are required
            {
                "entity": "opportunities",
                "fields": {"Id": "{{Opportunity.Id}}", "Name": "{{Opportunity.Field(Name)}}"},
                "identifier": "Id",
            },
            "fields of an opportunities import must map {{Opportunity.Field(Stage)}}, {{Opportunity.Field(Amount)}}",
        ),
        (
            {"entity": "activities", "sync_actions": [{"action": "add", "destination": "{{ContactList[1]}}"}]},
            "sync_actions are not available for activities imports",
        ),
        (
            {"update_rule": "useFieldRule"},
            "update_rule 'useFieldRule' needs definition_extra['updateRuleByField']",
        ),
        (
            {"definition_extra": {"isUpdatingMultipleMatchedRecords": "maybe"}},
            "definition_extra['isUpdatingMultipleMatchedRecords'] must be a boolean; got 'maybe'",
        ),
    ],
    ids=[
        "101-fields",
        "statement-without-braces",
        "empty-statement",
        "identifier-not-a-field",
        "bad-parent-id",
        "opportunity-without-stage-and-amount",
        "activity-sync-actions",
        "use-field-rule-without-rules",
        "extra-property-of-the-wrong-type",
    ],
)
def test_bad_definition_fails_before_any_request(eloqua_conn, spec, message):
    run = run_task(import_task(data=matrix_contacts(3), **spec), retries=1)

    assert run.state == "failed" and run.try_number == 1
    assert isinstance(run.error, EloquaInputError) and message in str(run.error)
    assert api_requests(eloqua_conn) == []  # not even authentication: the definition was refused locally
    assert_nothing_staged(eloqua_conn)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"entity": "leads"}, "entity must be one of contacts, accounts, activities"),
        ({"entity": "events"}, "parent_id is required for entity 'events'"),
        ({"entity": "customObjects"}, "parent_id is required for entity 'customObjects'"),
    ],
    ids=["unknown-entity", "events-without-parent", "custom-objects-without-parent"],
)
@pytest.mark.parametrize("operator", [EloquaImportOperator, EloquaCreateImportOperator])
def test_impossible_entity_fails_when_the_dag_is_defined(eloqua_conn, spec, message, operator):
    with pytest.raises(EloquaInputError, match=re.escape(message)):
        operator(task_id="t", name="n", fields=MATRIX_FIELDS, identifier_field_name="Email", **spec)
    assert api_requests(eloqua_conn) == []


@pytest.mark.parametrize("where", ["missing", "directory"])
def test_an_input_path_that_is_not_a_file_fails_before_any_definition_is_created(eloqua_conn, tmp_path, where):
    path = tmp_path / "no-such.csv" if where == "missing" else tmp_path / "a-directory.csv"
    if where == "directory":
        path.mkdir()

    run = run_task(import_task(path=str(path)), retries=1)

    message = "does not exist" if where == "missing" else "is not a file (a directory?)"
    _refused_before_staging(eloqua_conn, run, str(path), message)
    assert api_requests(eloqua_conn) == []  # nothing at all was sent: no definition left behind


# ================================================================== secrets, redirects, timeouts on every path
# A token store's rotations, XCom rows, task logs and the metadata DB of real DAG runs: tests/system/test_secrets.py.


@pytest.fixture
def secret_site(eloqua_conn, airflow_db, monkeypatch):
    """The emulator with unique secrets, and eloqua_default (OAuth2) holding every one of them."""
    import secrets

    env = eloqua_conn
    values = {
        "password": "pw-" + secrets.token_hex(12),
        "client_secret": "cs-" + secrets.token_hex(12),
        "refresh_token": "rt-" + secrets.token_hex(12),
    }
    saved = env.state.client_secret  # not part of reset(): restored below
    env.state.client_secret = values["client_secret"]
    env.control.configure(password=values["password"], refresh_token=values["refresh_token"])
    monkeypatch.setenv(
        "AIRFLOW_CONN_ELOQUA_DEFAULT",
        connection_json(
            env,
            password=values["password"],
            extra={
                "auth_type": "oauth2",
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": values["client_secret"],
                "refresh_token": values["refresh_token"],
                # Refresh tokens rotate on use: without a store only a DAG's first task could refresh.
                "token_store_variable": "eloqua_refresh_token_" + secrets.token_hex(4),
            },
        ),
    )
    yield values
    env.state.client_secret = saved


def secret_forms(values: dict[str, str], tokens: set[str]) -> set[str]:
    """Every form a secret could leak in: as is, and inside a basic or client Authorization header."""
    import base64

    from airflow_provider_eloqua.emulator import DEFAULT_SITE, DEFAULT_USER

    basic = f"{DEFAULT_SITE}\\{DEFAULT_USER}:{values['password']}".encode()
    client = f"{DEFAULT_CLIENT_ID}:{values['client_secret']}".encode()
    return set(values.values()) | tokens | {base64.b64encode(basic).decode(), base64.b64encode(client).decode()}


def test_no_secret_appears_in_logs_errors_xcoms_or_the_state_store_on_any_error_path(
    eloqua_conn, secret_site, worker_clock, monkeypatch, capfd, caplog
):
    import secrets

    from airflow_provider_eloqua.hooks.eloqua import EloquaHook
    from airflow_provider_eloqua.hooks.session import forget_sessions
    from airflow_provider_eloqua.triggers.eloqua import EloquaSyncTrigger

    env = eloqua_conn
    runs = {}

    def run(case: str, split: bool = False, **spec):
        forget_sessions()  # each run as a fresh worker process: it obtains (and can leak) its own tokens
        if split:
            chain = run_split(data=matrix_contacts(3), **spec)
            runs[case] = chain.get("wait") or chain.get("upload") or chain["create"]
        else:
            runs[case] = run_task(import_task(data=matrix_contacts(3), **spec))

    # 1. auth failure: the token endpoint refuses the refresh token
    env.control.add_fault(
        method="POST",
        path=r"^/auth/oauth2/token$",
        times=1,
        status=400,
        body={"error": "invalid_grant", "error_description": "The refresh token is invalid."},
    )
    run("auth")
    # 2. 400 validation error on create
    refuse_next_definition(env)
    run("validation")
    # 3. 5xx until the retries are exhausted
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=None, status=503, headers={"Retry-After": "0"})
    run("5xx", timeout=2, poll_interval=1)  # the wait rides the 503s out to its deadline (on the fake clock)
    env.control.clear_faults()
    # 4. the sync ends in error
    env.control.configure(force_status="error")
    run("sync-error", split=True)
    env.control.configure(force_status=None)
    # 5. the trigger's error event (deferred sensor; its first poke happens before deferring)
    skip_first(env, "GET", FAULT_SYNC_GET)
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=1, status=400, body="bad sync request")
    run("trigger-error", split=True, deferrable=True)
    # 6. basic auth with a rotated password (the password goes out in every Authorization header)
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(env, password=secret_site["password"]))
    env.control.configure(password="rotated-" + secrets.token_hex(4))
    run("basic-401")

    assert {case: r.state for case, r in runs.items()} == dict.fromkeys(runs, "failed")
    issued = set(env.state.issued_tokens) | env.state.access_tokens
    assert len(issued) >= 4, "the OAuth runs obtained and rotated tokens"
    errors = [f"{exc!s} {exc!r} {exc.args!r}" for r in runs.values() for exc in r.errors]
    output = captured(capfd, caplog)
    for expected in (
        "invalid_grant",  # each error path really ran and was reported...
        "Must be unique.",
        "Eloqua answered 503",
        "ended with status 'error'",
        "; body: bad sync request",  # the trigger's failure, raised by the sensor as the worker would
        "body: Not authenticated. Check the user",  # /id's 200 refusal of the rotated password
    ):
        assert expected in output + " ".join(errors), expected

    # ...and nothing anywhere carries a secret.
    hook = EloquaHook()
    trigger = EloquaSyncTrigger(sync_uri="/syncs/1", eloqua_conn_id="eloqua_default", poll_interval=1, end_time=1)
    haystacks = {
        "console and logging": output,
        "errors": " ".join(errors),
        "xcoms": " ".join(repr(r.xcoms) for r in runs.values()),
        "task state store": " ".join(json.dumps(r.store) for r in runs.values()),
        "reprs": " ".join(
            [repr(hook), repr(hook.settings), str(hook.settings), repr(trigger), repr(trigger.serialize())]
        ),
    }
    for secret in secret_forms(secret_site, issued):
        for where, text in haystacks.items():
            assert secret not in text, f"a secret leaked into {where}"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"host": "http://secure.p01.eloqua.com"}, "connection host (Bulk API base URL) must be an https URL"),
        ({"extra": {"login_url": "http://login.eloqua.com"}}, "login_url must be an https URL"),
        ({"extra": {"login_url": "http://10.20.30.40:8080"}}, "login_url must be an https URL"),
    ],
    ids=["http-host", "http-login-url", "http-private-ip"],
)
def test_plain_http_off_loopback_is_refused_before_any_request(eloqua_conn, monkeypatch, overrides, message):
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(eloqua_conn, **overrides))
    sent = []
    real_request = requests.Session.request

    def spy(self, method, url, *args, **kwargs):
        sent.append(url)
        return real_request(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)

    run = run_task(import_task(data=matrix_contacts(2)), retries=1)

    assert run.state == "failed" and run.try_number == 1
    assert message in str(run.error)
    assert [u for u in sent if "/_emulator" not in u] == []
    assert api_requests(eloqua_conn) == []


@pytest.fixture
def other_host():
    """A tiny loopback HTTP server on another port: the redirect target that must never be called."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits: list[tuple[str, str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            hits.append((self.command, self.path, self.headers.get("Authorization")))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = do_PUT = do_DELETE = _record

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"http://127.0.0.1:{server.server_address[1]}"
    requests.get(host + "/alive", timeout=5)  # proves the server answers
    hits.clear()
    yield host, hits
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("fault", "deferred"),
    [
        ({"method": "GET", "path": r"^/id$", "status": 302}, False),
        ({"method": "POST", "path": r"/data$", "status": 307}, False),
        ({"method": "GET", "path": FAULT_SYNC_GET, "status": 302}, True),
    ],
    ids=["discovery-302", "data-post-307", "trigger-302"],
)
def test_redirects_are_refused_and_never_followed(eloqua_conn, other_host, fault, deferred):
    env, (host, hits) = eloqua_conn, other_host
    if deferred:
        skip_first(env, fault["method"], fault["path"])  # the sensor's own poke before deferring
    env.control.add_fault(times=1, headers={"Location": host + "/steal"}, **fault)

    if deferred:
        run = run_split(data=matrix_contacts(3), deferrable=True)["wait"]
        assert run.events, "the trigger's event failed the task"
    else:
        run = run_task(import_task(data=matrix_contacts(3)))

    assert run.state == "failed"
    assert f"was redirected ({fault['status']}) to {host}/steal" in str(run.error)
    assert "the redirect is not followed" in str(run.error)
    assert hits == []
    assert env.control.records("/contacts") == []


def test_every_request_carries_a_timeout(eloqua_conn, monkeypatch):
    """Every requests call (worker side) and every httpx call (triggerer side) has finite timeouts.
    (The read-timeout faults above prove the timeouts are enforced.)"""
    import httpx

    seen_sync: list[tuple[str, object]] = []
    seen_async: list[tuple[str, dict]] = []
    real_request = requests.Session.request
    real_send = httpx.AsyncClient.send

    def spy_request(self, method, url, *args, **kwargs):
        if "/_emulator" not in url:
            seen_sync.append((f"{method} {url}", kwargs.get("timeout")))
        return real_request(self, method, url, *args, **kwargs)

    async def spy_send(self, request, *args, **kwargs):
        seen_async.append((f"{request.method} {request.url}", dict(request.extensions.get("timeout") or {})))
        return await real_send(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy_request)
    monkeypatch.setattr(httpx.AsyncClient, "send", spy_send)
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(eloqua_conn, extra={"timeout": 7}))
    eloqua_conn.control.configure(pending_polls=2)

    runs = run_split(data=matrix_contacts(4), deferrable=True)

    assert runs["wait"].state == "success", runs["wait"].error
    assert len(seen_sync) >= 5 and seen_async  # create, upload, sync start, sensor poke...; trigger polls
    for call, timeout in seen_sync:
        assert timeout == (7.0, 7.0), call
    for call, timeouts in seen_async:
        assert set(timeouts) == {"connect", "read", "write", "pool"}, call
        assert all(value is not None and value <= 7.0 for value in timeouts.values()), call
    assert [s["rows"] for s in syncs(eloqua_conn)] == [4]


# ================================================================== a load's own definition, across its tries
# Two loads at once, a killed run and the run after a failed one: tests/system/test_load_ownership.py.

TEMPLATE = "/activities/imports/1"  # the first definition created: the shared template


def _nightly(rows, **spec) -> dict:
    """The nightly shape of example_eloqua_accounts.py: a template found again by name and a one-task
    import from it, of activities (each row creates a record: a row loaded twice shows)."""
    return run_template(
        entity="activities",
        name="nightly activities",
        fields=ACTIVITY_FIELDS,
        identifier="ExternalId",
        # Rows of text go as CSV: padded so that 30 rows make 3 chunks.
        data=[dict(row, AssetName=f"{row['AssetName']} {'x' * 64}") for row in rows],
        chunk_bytes=SMALL_CHUNKS,
        **spec,
    )


def _loaded_once(env, rows) -> bool:
    """Every input row became exactly one record (activities: one per load of the row)."""
    from collections import Counter

    loaded = Counter(record[ACTIVITY_FIELDS["ExternalId"]] for record in env.control.records("/activities"))
    return loaded == Counter(row["ExternalId"] for row in rows)


def test_rows_staged_behind_the_loads_back_fail_the_task_naming_both_numbers(eloqua_conn):
    """Someone stages 3 rows into the load's own definition while its sync request is held: the
    sync processes 33 rows for the 30 the load staged, and the task says so instead of succeeding."""
    env = eloqua_conn
    env.control.add_fault(method="POST", path=r"^/syncs$", action="hold")

    def stage_behind_its_back() -> None:
        (load,) = [uri for uri in staged_rows(env) if uri != TEMPLATE]
        Site(env).stage(load, activities(3, start=501))
        env.control.release_held()

    watcher = when(lambda: env.control.held() == 1, stage_behind_its_back)
    runs = _nightly(activities(30), retries=1)
    watcher.join(10)

    load = runs["import"]
    assert load.state == "failed" and load.try_number == 1  # a retry would find the same count
    assert "processed 33 row(s), but this load staged 30 for it" in str(load.error)
    assert [s["rows"] for s in syncs(env)] == [33]


def test_a_retry_whose_load_definition_expired_creates_a_new_one(eloqua_conn, capfd, caplog):
    """Try 1 stages everything, then starting the sync is refused (400). Before try 2 looks, Eloqua
    auto-deletes the load definition (with what was staged): try 2 creates another and loads once."""
    env = eloqua_conn
    env.control.add_fault(method="POST", path=r"^/syncs$", status=400)
    first_load = "/activities/imports/2"
    env.control.add_fault(method="GET", path=f"^{first_load}$", action="hold")

    def expire_it() -> None:
        Site(env).call("DELETE", first_load)
        env.control.release_held()

    watcher = when(lambda: env.control.held() == 1, expire_it)
    runs = _nightly(activities(30), retries=1)
    watcher.join(10)

    assert runs["import"].state == "success", runs["import"].error
    assert runs["import"].try_number == 2
    assert "is gone (auto-deleted?); creating a new one" in captured(capfd, caplog)
    (sync,) = syncs(env)
    assert sync["rows"] == 30 and sync["syncedInstanceUri"] not in (first_load, TEMPLATE)
    assert _loaded_once(env, activities(30))


def test_a_retry_reuses_its_load_definition_and_clears_what_it_staged(eloqua_conn, capfd, caplog):
    """Try 1 stages 2 of 3 chunks and fails for good (a 400 on the 3rd) with its own cleanup failing
    too; try 2 finds its load definition, clears it and loads everything once."""
    env = eloqua_conn
    skip_first(env, "POST", r"/data$", count=2)
    env.control.add_fault(method="POST", path=r"/data$", status=400)
    env.control.add_fault(method="DELETE", path=r"/data$", status=400)

    runs = _nightly(activities(30), retries=1)

    assert runs["import"].state == "success", runs["import"].error
    assert runs["import"].try_number == 2
    output = captured(capfd, caplog)
    assert "Reusing load definition /activities/imports/2" in output
    assert "Retry: clearing /activities/imports/2's staging area" in output
    assert [(s["syncedInstanceUri"], s["rows"]) for s in syncs(env)] == [("/activities/imports/2", 30)]
    assert _loaded_once(env, activities(30))


@pytest.mark.parametrize(
    "fault",
    [{"status": 503, "times": None}, {"action": "drop", "times": 1}],
    ids=["post-syncs-503-every-time", "dropped-before-post-syncs-processed"],
)
def test_a_failed_runs_leftovers_never_reach_the_next_run(eloqua_conn, fault):
    """Run 1 stages every chunk into its own load definition, then starting its sync fails for good.
    The next run (a new task instance: its task state store starts empty) finds the template again,
    loads into a load definition of its own and never syncs run 1's rows. A run killed mid-upload,
    in a process of its own: tests/system/test_load_ownership.py."""
    env = eloqua_conn
    rows = activities(30)
    env.control.add_fault(method="POST", path=r"^/syncs$", **fault)
    first = _nightly(rows, http_retry_policy=FAST_RETRIES)
    assert first["import"].state == "failed"
    env.control.clear_faults()
    leftovers = {uri: n for uri, n in staged_rows(env).items() if n}
    assert leftovers and TEMPLATE not in leftovers  # run 1's rows sit in its own load definition
    assert syncs(env) == []

    second = _nightly(rows, http_retry_policy=FAST_RETRIES)

    assert second["import"].state == "success", second["import"].error
    assert second["create"].return_value == TEMPLATE  # the template was found again and reused
    summary = second["import"].return_value
    assert (summary["rows"], summary["rows_processed"], summary["created"]) == (30, 30, 30)
    (sync,) = syncs(env)
    assert sync["rows"] == 30 and sync["syncedInstanceUri"] not in leftovers
    assert _loaded_once(env, rows)
    # Run 1's leftovers were never synced; its load definition expires (autoDeleteDuration).
    assert {uri: n for uri, n in staged_rows(env).items() if uri in leftovers} == leftovers


# ================================================================== waiting: an outage, the deadline
# The import operator polling or deferring, and the sensor poking or deferring (its reschedule mode,
# where Airflow counts the wait across reschedules: tests/system/test_waits.py).

#: More failed answers in a row than the hook's retry policy takes in one look (5 attempts), so
#: the outage outlasts two whole looks. ``Retry-After: 0`` keeps the hook's own retries instant.
OUTAGE = 12
WAIT_MODES = {
    "operator-poll": {"mode": "import", "deferrable": False},
    "operator-deferred": {"mode": "import", "deferrable": True},
    "sensor-poke": {"mode": "split", "deferrable": False},
    "sensor-deferred": {"mode": "split", "deferrable": True},
}


@pytest.fixture
def every_clock(worker_clock, monkeypatch):
    """``worker_clock`` also for Airflow's sensor loop (poke mode: its run duration and its sleeps) and
    for the trigger's pauses: a deadline is reached by the code's own arithmetic in every wait mode,
    never by waiting for it."""
    import asyncio
    import types

    from airflow.sdk.bases import sensor as sensor_loop

    from airflow_provider_eloqua.triggers import eloqua as trigger_module

    def sleep(seconds: float) -> None:
        # At least a millisecond, as a real sleep takes: a loop that sleeps 0 s at its deadline goes on past it.
        worker_clock.slept.append(seconds)
        worker_clock.now += max(seconds, 0.001)

    async def pause(seconds: float) -> None:
        sleep(seconds)
        await real_pause(0)

    real_pause = asyncio.sleep
    monkeypatch.setattr(sensor_loop, "time", types.SimpleNamespace(monotonic=lambda: worker_clock.now, sleep=sleep))
    monkeypatch.setattr(trigger_module, "asyncio", types.SimpleNamespace(sleep=pause, wait_for=asyncio.wait_for))
    return worker_clock


def _wait(spec: dict, rows: int, timeout: float):
    """The waiting task's run: the import operator, or the sensor after create and upload."""
    if spec["mode"] == "import":
        return run_task(import_task(data=matrix_contacts(rows), timeout=timeout, deferrable=spec["deferrable"]))
    return run_split(data=matrix_contacts(rows), deferrable=spec["deferrable"], sensor={"timeout": timeout})["wait"]


@pytest.mark.parametrize("spec", list(WAIT_MODES.values()), ids=list(WAIT_MODES))
def test_a_transient_outage_while_waiting_is_waited_out(eloqua_conn, spec):
    env = eloqua_conn
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=OUTAGE, status=503, headers={"Retry-After": "0"})

    waiting = _wait(spec, 10, timeout=120)

    assert waiting.state == "success", waiting.error
    assert waiting.try_number == 1  # waited out inside the task, not by an Airflow retry
    assert waiting.return_value["status"] == "success"
    assert waiting.return_value["created"] == 10
    statuses = [r["status"] for r in api_requests(env, "GET", SYNC_GET)]
    assert statuses.count(503) == OUTAGE
    assert statuses[-1] == 200
    assert len(syncs(env)) == 1
    assert len(env.control.records("/contacts")) == 10


@pytest.mark.parametrize(
    "spec", [WAIT_MODES["operator-poll"], WAIT_MODES["sensor-poke"]], ids=["operator-poll", "sensor-poke"]
)
def test_an_outage_past_the_deadline_fails_naming_the_last_error(eloqua_conn, every_clock, spec):
    env = eloqua_conn
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=None, status=503, headers={"Retry-After": "0"})

    waiting = _wait(spec, 5, timeout=1)

    assert waiting.state == "failed"
    sync_uri = syncs(env)[0]["uri"]
    error = str(waiting.error)
    assert f"Eloqua sync {sync_uri} (status never read) had not ended" in error
    assert "the last look failed" in error and "503" in error
    assert env.control.records("/contacts") == []  # never polled to the end, so never applied


def test_sensor_timeout_names_the_sync_and_its_last_status(eloqua_conn, every_clock):
    eloqua_conn.control.configure(pending_polls=1_000_000)

    waiting = _wait(WAIT_MODES["sensor-poke"], 5, timeout=0.5)

    assert waiting.state == "failed"
    sync_uri = syncs(eloqua_conn)[0]["uri"]
    expected = f"Eloqua sync {sync_uri} (last seen 'pending') had not ended when the wait timed out after 0.5s"
    assert expected in str(waiting.error)


# ================================================================== inputs bigger than one sync: batches
# ``max_bytes_per_sync`` lowers Oracle's limit (about 250 MB per sync) so that a few kilobytes make
# several batches, one sync each. Exactly the input's records, one sync per batch with that batch's
# rows; restarts and retries never load a batch twice. The split path's hand-over to the sensor
# through XCom: tests/system/test_batches.py.

BATCH_BYTES = 2 * SMALL_CHUNKS  # two chunks per batch


def batch_rows(rows, fields, identifier) -> list[int]:
    """Rows per batch, cut the way the operators cut them."""
    from airflow_provider_eloqua.chunking import iter_row_chunks
    from airflow_provider_eloqua.staging import iter_batches

    per_batch: dict[int, int] = {}
    for index, chunk in iter_batches(iter_row_chunks(rows, list(fields), identifier, SMALL_CHUNKS), BATCH_BYTES):
        per_batch[index] = per_batch.get(index, 0) + chunk.rows
    return list(per_batch.values())


# Rows of text go as CSV (the smallest encoding that means the same): padded so that 60 rows
# still make six 1 KiB chunks, three batches of two.
BATCHED = [dict(row, AssetName=f"{row['AssetName']} {'x' * 64}") for row in activities(60)]
BATCHES = batch_rows(BATCHED, ACTIVITY_FIELDS, "ExternalId")


#: The matrix spec of the batched load (its DAG run: tests/system/test_batches.py).
BATCHED_LOAD = {
    "entity": "activities",
    "fields": ACTIVITY_FIELDS,
    "identifier": "ExternalId",
    "data": BATCHED,
    "chunk_bytes": SMALL_CHUNKS,
    "max_bytes_per_sync": BATCH_BYTES,
}


def _batched(**spec):
    return import_task(**BATCHED_LOAD, http_retry_policy=FAST_RETRIES, **spec)


def test_the_batched_input_cuts_into_three_batches():
    assert len(BATCHES) == 3 and sum(BATCHES) == 60


def test_big_input_is_loaded_in_batches_one_sync_each(eloqua_conn):
    from airflow_provider_eloqua.chunking import iter_row_chunks

    env = eloqua_conn
    run = run_task(_batched())

    assert run.state == "success", run.error
    assert [s["rows"] for s in syncs(env)] == BATCHES
    assert [s["status"] for s in syncs(env)] == ["success"] * 3
    assert len(env.control.records("/activities")) == 60
    summary = run.return_value
    assert summary["syncs"] == 3
    assert (summary["rows"], summary["chunks"]) == (60, 6)
    assert summary["bytes"] == sum(
        len(c.body) for c in iter_row_chunks(BATCHED, list(ACTIVITY_FIELDS), "ExternalId", SMALL_CHUNKS)
    )
    # the counts add up over the three syncs; sync_uri is the last one
    assert (summary["rows_processed"], summary["created"], summary["rejected"]) == (60, 60, 0)
    assert summary["status"] == "success"
    assert summary["sync_uri"] == syncs(env)[-1]["uri"]
    assert run.xcoms["sync_uri"] == summary["sync_uri"]


def test_big_input_without_start_sync_fails_and_stages_nothing(eloqua_conn):
    env = eloqua_conn
    uri = Site(env).create_import("/activities", ACTIVITY_FIELDS, "ExternalId")
    upload = EloquaUploadDataOperator(
        task_id="upload",
        definition_uri=uri,
        start_sync=False,
        data=BATCHED,
        chunk_bytes=SMALL_CHUNKS,
        max_bytes_per_sync=BATCH_BYTES,
    )

    run = run_task(upload)

    assert run.state == "failed"
    assert "cannot be loaded in batches" in str(run.error)
    assert set(staged_rows(env).values()) == {0}  # the template, and the load's copy it cleared
    assert syncs(env) == []


def test_dropped_post_in_batch_two_restarts_that_batch_only(eloqua_conn):
    """The second POST of batch 2 stages its rows and then drops the connection: batch 2 is cleared
    and staged again from its first chunk; batch 1 (already synced) is not touched."""
    env = eloqua_conn
    skip_first(env, "POST", r"/data$", count=3)  # batch 1's two chunks, batch 2's first
    env.control.add_fault(method="POST", path=r"/data$", times=1, action="drop_after")

    run = run_task(_batched(), retries=1)

    assert run.state == "success", run.error
    assert run.try_number == 1
    # 2 (batch 1) + 2 (batch 2, the second dropped after staging) + 2 (batch 2 again) + 2 (batch 3)
    assert len(env.control.state()["uploads"]) == 8
    assert len(api_requests(env, "DELETE", r"/data$")) == 1
    assert [s["rows"] for s in syncs(env)] == BATCHES
    assert len(env.control.records("/activities")) == 60
    assert run.return_value["created"] == 60


def test_errored_intermediate_sync_fails_the_try_and_the_retry_resumes_at_that_batch(eloqua_conn, capfd, caplog):
    env = eloqua_conn
    env.control.configure(force_status=["success", "error"])

    run = run_task(_batched(), retries=1)

    assert run.state == "success", run.error
    assert run.try_number == 2
    second = f"input rows {BATCHES[0] + 1}-{BATCHES[0] + BATCHES[1]}"
    assert f"of batch 2 ({second}) ended with status 'error'" in str(run.errors[0])
    assert "Batches 1-1 are loaded (syncs /syncs/100), so they are skipped; resuming at batch 2" in captured(
        capfd, caplog
    )
    # batch 1 once; batch 2 errored, then again; batch 3
    assert [s["status"] for s in syncs(env)] == ["success", "error", "success", "success"]
    assert [s["rows"] for s in syncs(env)] == [BATCHES[0], BATCHES[1], BATCHES[1], BATCHES[2]]
    assert len(env.control.records("/activities")) == 60
    summary = run.return_value
    assert (summary["rows"], summary["syncs"], summary["created"], summary["rows_processed"]) == (60, 3, 60, 60)


def test_retry_reattaches_to_an_intermediate_sync_still_running(eloqua_conn, capfd, caplog):
    """The first try dies waiting for batch 2's sync (a 400 on its GET, not retried); the retry waits
    for that same sync instead of staging batch 2 again, then loads batch 3."""
    env = eloqua_conn
    env.control.add_fault(method="GET", path=r"^/syncs/101$", times=1, status=400)

    run = run_task(_batched(), retries=1)

    assert run.state == "success", run.error
    assert run.try_number == 2
    assert "Reattaching to sync /syncs/101" in captured(capfd, caplog)
    assert len(data_posts(env)) == 6  # nothing uploaded twice
    assert [s["rows"] for s in syncs(env)] == BATCHES
    assert len(env.control.records("/activities")) == 60
    assert run.return_value["syncs"] == 3


def test_summary_and_rejects_add_up_over_all_batches(eloqua_conn, tmp_path):
    env = eloqua_conn
    rows = [dict(row, LastName=f"{row['LastName']} {'x' * 60}") for row in matrix_contacts(60)]  # 3 batches as CSV
    first_batch = batch_rows(rows, MATRIX_FIELDS, "Email")[0]
    bad = [5, first_batch + 3]  # one in batch 1, one in batch 2: the last batch is clean
    for row in bad:
        rows[row - 1]["Email"] = f"not-an-email-{row}"
    expected = batch_rows(rows, MATRIX_FIELDS, "Email")
    assert len(expected) >= 3 and sum(expected[:2]) > bad[1]
    rejects = tmp_path / "rejects.ndjson"

    run = run_task(
        import_task(data=rows, chunk_bytes=SMALL_CHUNKS, max_bytes_per_sync=BATCH_BYTES, rejects_path=str(rejects))
    )

    assert run.state == "success", run.error
    assert [s["rows"] for s in syncs(env)] == expected
    summary = run.return_value
    assert summary["syncs"] == len(expected)
    assert (summary["rows_processed"], summary["created"], summary["rejected"]) == (60, 58, 2)
    assert syncs(env)[-1]["status"] == "success"
    assert summary["status"] == "warning"  # earlier batches warned, so the load did
    assert summary["log_warnings"] >= 2  # warning entries of the sync logs, not rows
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [r["input_row"] for r in written] == bad
    assert len(env.control.records("/contacts")) == 58


def test_a_files_rejects_are_listed_once_per_sync_and_the_definition_never_read_back(eloqua_conn, tmp_path):
    import csv

    env = eloqua_conn
    rows = matrix_contacts(60)
    first_batch = batch_rows(rows, MATRIX_FIELDS, "Email")[0]
    bad = [5, first_batch + 3]
    for row in bad:
        rows[row - 1]["Email"] = f"not-an-email-{row}"
    source = write_csv(tmp_path / "contacts.csv", rows)
    rejects = tmp_path / "rejects.csv"

    run = run_task(
        import_task(
            path=str(source), chunk_bytes=SMALL_CHUNKS, max_bytes_per_sync=BATCH_BYTES, rejects_path=str(rejects)
        )
    )

    assert run.state == "success", run.error
    with rejects.open(newline="") as handle:
        assert [int(r["input_row"]) for r in csv.DictReader(handle)] == bad
    sync_uris = [s["uri"] for s in syncs(env)]
    assert len(sync_uris) >= 2
    listings = {uri: len(api_requests(env, "GET", rf"{uri}/rejects$")) for uri in sync_uris}
    # An earlier batch's rejects: once when its sync is reported, once more into the rejects file
    # (with the input rows found the first time); the last sync's: once.
    assert listings == {**{uri: 2 for uri in sync_uris[:-1]}, sync_uris[-1]: 1}
    # The definition the task created is never read back: the spec already says what it holds.
    assert api_requests(env, "GET", r"/contacts/imports/\d+$") == []


def test_lost_answer_to_a_middle_batchs_sync_resumes_after_that_batch(eloqua_conn):
    """POST /syncs of batch 2 creates the sync but its answer is lost. The retry finds that sync,
    waits for it as batch 2 (checking its rows) and then loads batch 3: the lost answer must not
    make the found sync look like the load's last."""
    env = eloqua_conn
    skip_first(env, "POST", r"^/syncs$", count=1)  # batch 1's sync
    env.control.add_fault(method="POST", path=r"^/syncs$", times=1, action="drop_after")

    run = run_task(_batched(), retries=1)

    assert run.state == "success", run.error
    assert run.try_number == 2
    assert [s["rows"] for s in syncs(env)] == BATCHES
    assert len(env.control.records("/activities")) == 60
    summary = run.return_value
    assert (summary["syncs"], summary["rows"], summary["rows_processed"]) == (3, 60, 60)
    assert summary["sync_rows"] == BATCHES[-1]


# ================================================================== which failures the task's retries meet
# A definition Eloqua refuses, in a real DAG run with retries=2: tests/system/test_retries.py.

ONE_ROW_SHORT = {
    "items": [
        {"statusCode": "ELQ-00001", "count": 4, "message": "Total records processed.", "severity": "information"}
    ],
    "totalResults": 1,
    "limit": 1000,
    "offset": 0,
    "hasMore": False,
}


def _empty_identifier_in_row_2():
    rows = matrix_contacts(5)
    rows[1]["Email"] = ""
    return rows


@pytest.mark.parametrize(
    ("setup", "rows", "says"),
    [
        (lambda env: env.control.configure(password="rotated"), matrix_contacts(5), "Check the user and password"),
        (lambda env: None, _empty_identifier_in_row_2(), "row 2: the identifier 'Email' is empty"),
        (
            lambda env: env.control.add_fault(method="GET", path=r"/logs$", status=200, body=ONE_ROW_SHORT, times=None),
            matrix_contacts(5),
            "processed 4 row(s)",
        ),
    ],
    ids=["credentials-refused", "bad-input", "row-count-mismatch"],
)
def test_a_failure_a_retry_cannot_change_fails_on_the_first_try(eloqua_conn, setup, rows, says):
    from airflow.sdk.exceptions import AirflowFailException

    setup(eloqua_conn)

    run = run_task(import_task(data=rows), retries=2)

    assert run.state == "failed"
    assert run.try_number == 1  # retries=2, none used
    assert isinstance(run.error, AirflowFailException) and says in str(run.error)


# ================================================================== a retry resumes only the same load
# The first try started a sync and failed, then something the load is made of changed before the
# retry: the retry loads what the task now describes and says why the earlier work was not reused.
# Try 1's first look at its sync is held by the emulator until the test has made the change. After
# a Clear (the DAG changed, or the task succeeded): the next section.

FIRST_NAME = "{{Contact.Field(C_FirstName)}}"
WRONG_MAPPING = {**MATRIX_FIELDS, "FirstName": "{{Contact.Field(C_Title)}}"}


@pytest.fixture
def same_load_env(eloqua_conn):
    # A sync is pending at its first look and done at its second.
    eloqua_conn.control.configure(pending_polls=1, active_polls=0)
    return eloqua_conn


def _named(rows, version: str):
    return [dict(row, FirstName=f"{row['FirstName']} {version}") for row in rows]


def _fail_first_sync_look_after(env, change) -> object:
    """Hold try 1's first look at its sync; once held, ``change()``, then let try 1 fail (a 400 on
    its next look, which is not retried) with its sync still running."""
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=1, action="hold")

    def change_then_fail() -> None:
        change()
        env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=1, status=400)
        env.control.release_held()

    return when(lambda: env.control.held() == 1, change_then_fail)


def template_body(fields):
    return {"name": "team template", "fields": fields, "identifierFieldName": "Email", "isSyncTriggeredOnImport": False}


def first_names(env) -> dict[str, str]:
    return {r["identifier"]: r.get(FIRST_NAME) for r in env.control.records("/contacts")}


def test_a_retry_after_the_input_file_changed_loads_the_new_input(same_load_env, tmp_path, capfd, caplog):
    env = same_load_env
    path = write_csv(tmp_path / "contacts.csv", _named(matrix_contacts(100), "v1"))
    watcher = _fail_first_sync_look_after(env, lambda: write_csv(path, _named(matrix_contacts(150), "v2")))

    run = run_task(import_task(path=str(path)), retries=1)
    watcher.join(5)

    assert run.state == "success", run.error
    assert run.try_number == 2
    summary = run.return_value
    assert (summary["rows"], summary["rows_processed"]) == (150, 150)
    names = first_names(env)
    assert len(names) == 150 and all(name.endswith(" v2") for name in names.values())
    output = captured(capfd, caplog)
    assert "New load: the input changed" in output
    # the earlier sync had ended, so its load definition was deleted; the new load deleted its own
    assert staged_rows(env) == {}
    assert [s["rows"] for s in syncs(env)] == [100, 150]


def test_a_retry_with_the_same_input_file_reattaches(same_load_env, tmp_path, capfd, caplog):
    env = same_load_env
    path = write_csv(tmp_path / "contacts.csv", matrix_contacts(30))
    watcher = _fail_first_sync_look_after(env, lambda: None)

    run = run_task(import_task(path=str(path)), retries=1)
    watcher.join(5)

    assert run.state == "success", run.error
    assert run.try_number == 2
    assert "Reattaching to sync /syncs/100" in captured(capfd, caplog)
    assert [s["rows"] for s in syncs(env)] == [30]
    assert len(api_requests(env, "POST", r"/data$")) == 1


def test_a_retry_after_the_template_mapping_changed_loads_with_the_new_mapping(same_load_env, capfd, caplog):
    env = same_load_env
    site = Site(env)
    template = site.create_import(fields=WRONG_MAPPING)
    watcher = _fail_first_sync_look_after(
        env, lambda: site.call("PUT", template, template_body({**MATRIX_FIELDS, "FirstName": FIRST_NAME}))
    )

    run = run_task(import_task(definition_uri=template, data=matrix_contacts(20)), retries=1)
    watcher.join(5)

    assert run.state == "success", run.error
    assert run.try_number == 2
    assert first_names(env) == {f"person{i}@example.com": f"First{i}" for i in range(1, 21)}
    assert f"New load: the template {template} changed" in captured(capfd, caplog)


# ================================================================== the try after a Clear
# A run loaded (or failed for good), then a user cleared the task (tests/task_runner.py's
# clear_and_rerun: max_tries grows, the task state store is kept), maybe after changing what the load
# is made of: the try after the Clear loads what the task now describes and says why in the log. One
# Clear end to end in Airflow (a sync gone while deferred): tests/system/test_same_load.py.


def _one_bad_email():
    rows = matrix_contacts(5)
    rows[2]["Email"] = "bad-3"
    return rows


@pytest.mark.parametrize(
    ("setup", "spec", "fixed", "says"),
    [
        (
            lambda env: env.control.configure(force_status=["warning"]),
            {"on_warning": "fail", "data": matrix_contacts(5)},
            {"on_warning": "fail", "data": matrix_contacts(5)},  # the cause was in Eloqua: the same task is cleared
            "New load: an earlier try refused the outcome of sync /syncs/100",
        ),
        (
            lambda env: None,
            {"max_rejected_rows": 0, "data": _one_bad_email()},
            {"max_rejected_rows": 0, "data": matrix_contacts(5)},  # the input is fixed, then the task cleared
            "New load: the input changed",
        ),
    ],
    ids=["on-warning-fail", "too-many-rejects"],
)
def test_a_refused_outcome_fails_without_retries_and_the_try_after_a_clear_loads_again(
    eloqua_conn, capfd, caplog, setup, spec, fixed, says
):
    """A retry cannot change what Eloqua did: the task fails on its first try, saying what to do, and
    the try after a Clear is a new load."""
    env = eloqua_conn
    setup(env)
    first = run_task(import_task(**spec), retries=2)

    assert first.state == "failed"
    assert first.try_number == 1  # retries=2, none used
    assert "A retry cannot change what Eloqua did, so the task is not retried" in str(first.error)

    result = clear_and_rerun(import_task(**fixed), first, retries=2)

    assert result.state == "success", result.error
    assert result.try_number == 2
    assert says in captured(capfd, caplog)
    assert [s["status"] for s in syncs(env)] == ["warning", "success"]
    assert sorted(r["{{Contact.Field(C_EmailAddress)}}"] for r in env.control.records("/contacts")) == sorted(
        row["Email"] for row in matrix_contacts(5)
    )


def test_a_clear_after_accepting_a_refused_warning_judges_the_same_sync_again(eloqua_conn, capfd, caplog):
    env = eloqua_conn
    env.control.configure(force_status=["warning"])
    first = run_task(import_task(on_warning="fail", data=matrix_contacts(5)), retries=2)
    assert (first.state, first.try_number) == ("failed", 1)

    result = clear_and_rerun(import_task(data=matrix_contacts(5)), first, retries=2)

    assert result.state == "success", result.error
    assert result.try_number == 2
    assert result.return_value["status"] == "warning"
    output = captured(capfd, caplog)
    assert "Sync /syncs/100, whose outcome an earlier try refused (judged by" in output
    assert "is judged again by" in output
    assert [s["status"] for s in syncs(env)] == ["warning"]  # nothing loaded again
    assert len(api_requests(env, "POST", r"/data$")) == 1


def test_a_clear_after_the_template_gained_a_column_loads(same_load_env):
    env = same_load_env
    site = Site(env)
    template = site.create_import(fields={"Email": MATRIX_FIELDS["Email"], "FirstName": FIRST_NAME})
    first = run_task(import_task(definition_uri=template, data=matrix_contacts(10)), retries=1)
    assert first.state == "failed"
    assert "the definition's fields are 'Email', 'FirstName'" in str(first.error)
    site.call("PUT", template, template_body(MATRIX_FIELDS))  # the user adds LastName to the template

    result = clear_and_rerun(import_task(definition_uri=template, data=matrix_contacts(10)), first, retries=1)

    assert result.state == "success", result.error
    records = env.control.records("/contacts")
    assert sorted(r["{{Contact.Field(C_LastName)}}"] for r in records) == sorted(f"Last{i}" for i in range(1, 11))


def test_a_clear_after_the_operator_fields_changed_loads_with_the_new_fields(same_load_env, capfd, caplog):
    env = same_load_env
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=1, status=400)  # try 1 fails, sync started
    first = run_task(import_task(fields=WRONG_MAPPING, data=matrix_contacts(8)))
    assert first.state == "failed"

    result = clear_and_rerun(import_task(data=matrix_contacts(8)), first)  # the mapping fixed

    assert result.state == "success", result.error
    assert first_names(env) == {f"person{i}@example.com": f"First{i}" for i in range(1, 9)}
    assert "New load: the definition arguments changed" in captured(capfd, caplog)
    assert len(api_requests(env, "POST", r"/syncs$")) == 2


def test_clearing_a_successful_task_says_it_loads_again(same_load_env, capfd, caplog):
    env = same_load_env
    first = run_task(import_task(data=matrix_contacts(5)))
    assert first.state == "success", first.error

    result = clear_and_rerun(import_task(data=matrix_contacts(5)), first)

    assert result.state == "success", result.error
    assert "New load: this task loaded its input before (sync /syncs/100)" in captured(capfd, caplog)
    assert [s["rows"] for s in syncs(env)] == [5, 5]


def test_a_sync_gone_from_eloqua_fails_without_retries_and_a_clear_loads_again(same_load_env, capfd, caplog):
    """The emulator restarts (losing every sync) while try 1 waits in the worker. Whether the rows
    were loaded is unknown: try 1 fails for good, naming the way out, and the try after a Clear loads
    again. The same while deferred, Cleared in Airflow: tests/system/test_same_load.py."""
    env = same_load_env
    env.control.configure(pending_polls=1_000_000)
    # Once try 1 has its sync's answer and has looked at the sync (never in the middle of a request).
    watcher = when(lambda: bool(api_requests(env, "GET", r"/syncs/\d+$")), env.control.reset)

    first = run_task(import_task(data=matrix_contacts(5)), retries=2)
    watcher.join(5)

    assert first.state == "failed"
    assert first.try_number == 1  # retries=2, none used: a retry could load the rows twice
    assert "/syncs/100, which this task started over 5 staged row(s), is gone from Eloqua" in str(first.error)
    assert "to load the input again, Clear this task" in str(first.error)

    result = clear_and_rerun(import_task(data=matrix_contacts(5)), first, retries=2)

    assert result.state == "success", result.error
    assert result.try_number == 2
    assert "New load: /syncs/100, which an earlier try of this task started, is gone" in captured(capfd, caplog)
    assert len(env.control.records("/contacts")) == 5
    assert staged_rows(env) == {}


# ------------------------------------------------------------------ links while a task fails, retries or waits


def _links(context) -> dict:
    """The task's ``eloqua_links`` XCom, as Bulk API URIs (the site's base URL taken off)."""
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

    base = EloquaHook().base_url
    return {kind: url.removeprefix(base) for kind, url in context["ti"].xcoms["eloqua_links"].items()}


def test_a_deferred_import_links_its_sync_and_load_definition_before_it_defers(eloqua_conn):
    context = task_context("load")
    with pytest.raises(TaskDeferred) as deferred:
        import_operator("deferred links", data=contacts(2), deferrable=True).execute(context)

    (sync,) = syncs(eloqua_conn)
    assert deferred.value.trigger.sync_uri == sync["uri"]
    assert _links(context) == {"sync": sync["uri"], "definition": sync["syncedInstanceUri"]}


def test_a_retry_that_reattaches_and_fails_links_the_sync_and_load_definition(eloqua_conn):
    """The first try loses its first look at its sync (400); the retry reattaches to that sync, which
    ends ``error``: the failed retry still shows the sync and the load definition."""
    eloqua_conn.control.configure(force_status=["error"])
    eloqua_conn.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=1, status=400)

    run = run_task(import_operator("retry links", data=contacts(2)), retries=1)

    assert run.state == "failed" and run.try_number == 2
    assert "ended with status 'error'" in str(run.error)
    (sync,) = syncs(eloqua_conn)  # reattached, not synced again
    assert _links(run.context) == {"sync": sync["uri"], "definition": sync["syncedInstanceUri"]}


def test_an_import_whose_first_batch_sync_fails_links_that_sync(eloqua_conn):
    """Batches: the load waits for the first batch's sync in the worker; it ends ``error`` and the task
    fails there, before the load returns: the sync and the load definition are linked already."""
    eloqua_conn.control.configure(force_status=["error"])
    operator = import_operator("batch links", data=contacts(150), chunk_bytes=1024, max_bytes_per_sync=1024)

    run = run_task(operator)

    assert run.state == "failed" and "ended with status 'error'" in str(run.error)
    (sync,) = syncs(eloqua_conn)  # the first batch's, the only one started
    assert _links(run.context) == {"sync": sync["uri"], "definition": sync["syncedInstanceUri"]}


def test_an_upload_whose_sync_is_refused_links_the_template_it_read(eloqua_conn):
    template = define_contacts("template links")
    eloqua_conn.control.add_fault(method="POST", path=r"^/syncs$", times=None, status=400)

    run = run_task(EloquaUploadDataOperator(task_id="upload", definition_uri=template, data=contacts(2)))

    assert run.state == "failed" and isinstance(run.error, EloquaApiError)
    assert _links(run.context) == {"definition": template}  # the template, not the copy staged into


def test_a_sync_operator_whose_sync_is_refused_links_the_definition(eloqua_conn):
    template = define_contacts("sync links")
    eloqua_conn.control.add_fault(method="POST", path=r"^/syncs$", times=None, status=400)

    run = run_task(EloquaCreateSyncOperator(task_id="sync", synced_instance_uri=template))

    assert run.state == "failed"
    assert _links(run.context) == {"definition": template}


# ------------------------------------------------------------------ a create whose answer is lost


def test_a_create_whose_answer_is_lost_is_found_on_the_retry_not_created_twice(eloqua_conn, capfd, caplog):
    """Eloqua creates the definition and the connection drops before the answer: the retry finds it by
    its exact name and properties (``q=name='…'``) and returns it; templates are never auto-deleted."""
    eloqua_conn.control.add_fault(method="POST", path=r"^/contacts/imports$", times=1, action="drop_after")
    operator = EloquaCreateImportOperator(
        task_id="define", entity="contacts", name="lost answer", fields=CONTACT_FIELDS, identifier_field_name="Email"
    )

    run = run_task(operator, retries=1)

    assert run.state == "success", run.error
    assert run.try_number == 2
    (definition,) = [d["uri"] for d in eloqua_conn.control.state()["definitions"]]
    assert run.return_value == definition
    assert len(api_requests(eloqua_conn, "POST", r"/contacts/imports$")) == 1
    assert "an earlier try's create may have lost its answer" in captured(capfd, caplog)


def test_a_retry_creates_the_definition_when_the_one_named_so_differs(eloqua_conn):
    """A definition of the same name but other properties is not taken for the lost one."""
    define_contacts("same name")  # FirstName and Email
    eloqua_conn.control.add_fault(method="POST", path=r"^/contacts/imports$", times=1, status=503)
    operator = EloquaCreateImportOperator(
        task_id="define",
        entity="contacts",
        name="same name",
        fields={"Email": CONTACT_FIELDS["Email"]},
        identifier_field_name="Email",
        http_retry_policy={"max_attempts": 1},
    )

    run = run_task(operator, retries=1)

    assert run.state == "success", run.error
    assert run.try_number == 2
    assert len(eloqua_conn.control.state()["definitions"]) == 2
