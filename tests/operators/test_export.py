"""The export operators without a DAG run: what they template, what they refuse when defined, how they defer,
and their tries (a retry mid-download, an import then an export) through tests/task_runner.py.

Execution in real DAG runs is in tests/system/test_exports.py and tests/system/test_example_dags.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pendulum
import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.operators.eloqua import (
    EloquaCreateExportOperator,
    EloquaDownloadSyncOperator,
    EloquaExportOperator,
)
from tests.dag_runner import connection_json
from tests.sync.helpers import Store, requests_to

FIELDS = {"Email": "{{Contact.Field(C_EmailAddress)}}"}
FILTER = "'{{Contact.Field(C_Country)}}' = 'Belgium'"


def _export(**kwargs) -> EloquaExportOperator:
    return EloquaExportOperator(
        **{
            "task_id": "export",
            "entity": "contacts",
            "name": "n",
            "fields": FIELDS,
            "path": "out/{{ ds }}.csv",
            **kwargs,
        }
    )


def test_eloqua_markup_is_never_rendered_by_jinja_but_the_window_and_path_are():
    operator = _export(filter=FILTER, since="{{ data_interval_start }}", until="{{ data_interval_end }}")
    assert "fields" not in operator.template_fields and "filter" not in operator.template_fields
    start = pendulum.datetime(2026, 12, 1, tz="UTC")
    operator.render_template_fields(
        {"data_interval_start": start, "data_interval_end": start.add(days=1), "ds": "2026-12-01"}
    )
    assert operator.fields == FIELDS and operator.filter == FILTER
    assert operator.path == "out/2026-12-01.csv"
    assert str(operator.since).startswith("2026-12-01") and str(operator.until).startswith("2026-12-02")
    assert "fields" not in EloquaCreateExportOperator.template_fields


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lag": "an hour"}, "^lag must be"),
        ({"row_limit": 0}, "^row_limit must be a positive integer"),
        ({"row_limit": None}, "^row_limit must be a positive integer"),
        ({"entity": None, "name": None, "fields": None}, "give definition_uri, or entity, name and fields"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_defined(kwargs, message):
    with pytest.raises(EloquaInputError, match=message):
        _export(**kwargs)


def test_the_download_operator_refuses_a_bad_row_limit_when_the_dag_is_defined():
    with pytest.raises(EloquaInputError, match=r"^row_limit must be a positive integer"):
        EloquaDownloadSyncOperator(task_id="d", sync_uri="/syncs/1", path="c.csv", row_limit=-5)


def test_every_operator_is_importable_from_operators_eloqua():
    import airflow_provider_eloqua.operators.eloqua as module

    assert {"EloquaCreateExportOperator", "EloquaExportOperator", "EloquaDownloadSyncOperator"} <= set(module.__all__)
    assert EloquaDownloadSyncOperator.template_fields == ("sync_uri", "path", "format", "since", "until")


class Events(dict):
    """The task's ``outlet_events``: what an operator attaches to each alias."""

    def __missing__(self, key):
        self[key] = SimpleNamespace(added=[], add=lambda asset, extra: self[key].added.append((asset, extra)))
        return self[key]


def _context(store: Store, task_id: str = "export") -> dict:
    pushed: dict = {}
    ti = SimpleNamespace(
        dag_id="d", task_id=task_id, run_id="r", map_index=-1, xcom_push=lambda key, value: pushed.update({key: value})
    )
    return {"ti": ti, "task_state_store": store, "outlet_events": Events(), "pushed": pushed}


def test_a_deferrable_export_defers_until_the_lag_has_passed_asking_eloqua_nothing(emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(emulator))
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    operator = _export(path=str(tmp_path / "c.csv"), until=until.isoformat(), lag="PT1H", deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(_context(Store()))
    trigger = deferred.value.trigger
    assert type(trigger).__name__ == "DateTimeTrigger" and trigger.moment == until + timedelta(hours=1)
    assert deferred.value.method_name == "execute_complete"
    assert [r for r in emulator.control.requests() if "/exports" in r["path"]] == []


def test_a_deferrable_export_defers_on_its_sync_and_resumes_to_write_the_file(emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(emulator))
    emulator.control.seed(
        "/contacts", count=3, template={FIELDS["Email"]: "p{n}@example.com"}, updatedAt="2026-11-01T00:00:00"
    )
    operator = _export(path=str(tmp_path / "c.csv"), deferrable=True, lag=0)  # until: now
    store = Store()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(_context(store))
    trigger = deferred.value.trigger
    assert type(trigger).__name__ == "EloquaSyncTrigger"
    sync_uri = trigger.sync_uri
    while True:  # what the trigger does in the triggerer
        from airflow_provider_eloqua.hooks.eloqua import EloquaHook

        status = EloquaHook().get_sync(sync_uri)["status"]
        if status in ("success", "error"):
            break
    event = {"status": "terminal", "sync_uri": sync_uri, "sync_status": status, "message": ""}
    from airflow.sdk import AssetAlias

    context = _context(store) | {"outlet_events": Events()}
    summary = operator.execute_complete(context, event)
    assert summary["rows"] == 3 and summary["sync_uri"] == sync_uri
    ((asset, extra),) = context["outlet_events"][AssetAlias("eloqua-export:eloqua_default:d.export")].added
    assert asset.uri == (tmp_path / "c.csv").as_uri()
    assert extra["source"] == "eloqua://AcmeCorp/contacts" and extra["rows"] == 3


def test_a_template_definition_is_copied_with_the_window_and_never_changed(emulator, monkeypatch, tmp_path):
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(emulator))
    emulator.control.seed(
        "/activities", count=8, activityType="EmailSend", createdAt="2026-11-01T06:00:00", stepSeconds=3600
    )
    create = EloquaCreateExportOperator(
        task_id="create",
        entity="activities",
        activity_type="EmailSend",
        name="Sends template",
        fields={"Id": "{{Activity.Id}}", "At": "{{Activity.CreatedAt}}"},
        filter="'{{Activity.Asset.Id}}' != '0'",
    )
    store = Store()
    template = create.execute(_context(store))
    assert create.execute(_context(store)) == template  # a retry returns the same definition
    before = EloquaHook().get_definition(template)
    assert before["filter"] == "'{{Activity.Type}}' = 'EmailSend' AND '{{Activity.Asset.Id}}' != '0'"

    export = EloquaExportOperator(
        task_id="export",
        definition_uri=template,
        path=str(tmp_path / "sends.csv"),
        since="2026-11-01T08:00:00Z",
        until="2026-11-01T12:00:00Z",
        lag=0,
        poll_interval=0.01,
    )
    context = _context(Store())
    summary = export.execute(context)
    assert summary["rows"] == 4  # 08:00, 09:00, 10:00, 11:00
    links = context["pushed"]["eloqua_links"]  # the task's links: its sync, and the template it was given
    assert links["sync"].endswith(summary["sync_uri"]) and links["definition"].endswith(template)
    assert (tmp_path / "sends.csv").read_text().splitlines()[0] == "Id,At"
    assert EloquaHook().get_definition(template) == before  # the template is read, never changed
    exports = [d["uri"] for d in emulator.control.state()["definitions"] if "/exports/" in d["uri"]]
    assert exports == [template]  # the export's own copy is deleted


def test_a_template_that_is_not_an_export_is_refused_before_anything_is_created(emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(emulator))
    export = EloquaExportOperator(task_id="export", definition_uri="/contacts/imports/3", path=str(tmp_path / "c.csv"))
    with pytest.raises(EloquaInputError, match="must be an export definition"):
        export.execute(_context(Store()))


def test_a_deferred_export_whose_sync_failed_fails_on_resuming_instead_of_syncing_again(
    emulator, monkeypatch, tmp_path
):
    from airflow_provider_eloqua.exceptions import EloquaSyncError
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(emulator))
    emulator.control.configure(force_status="error")
    operator = _export(path=str(tmp_path / "c.csv"), deferrable=True, lag=0)
    store = Store()
    deferring = _context(store)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(deferring)
    sync_uri = deferred.value.trigger.sync_uri
    (definition_uri,) = [d["uri"] for d in emulator.control.state()["definitions"] if "/exports/" in d["uri"]]
    base = EloquaHook().base_url
    linked = {"sync": base + sync_uri, "definition": base + definition_uri}
    assert deferring["pushed"]["eloqua_links"] == linked  # shown while the task is deferred
    while (status := EloquaHook().get_sync(sync_uri)["status"]) not in ("success", "error"):
        pass  # what the trigger does in the triggerer
    event = {"status": "terminal", "sync_uri": sync_uri, "sync_status": status, "message": ""}
    resumed = _context(store)
    with pytest.raises(EloquaSyncError, match=f"{sync_uri} .* ended with status 'error'"):
        operator.execute_complete(resumed, event)
    assert resumed["pushed"]["eloqua_links"] == linked  # and by the failed task
    assert len(requests_to(emulator, "POST", "/syncs")) == 1  # judged, not synced again
    assert not (tmp_path / "c.csv").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"page_size": 0}, "^page_size must be"),
        ({"format": "xml"}, "^format must be"),
        ({"path": "out/"}, "^path must"),
    ],
)
def test_bad_output_settings_are_refused_before_the_template_is_read(emulator, monkeypatch, kwargs, message):
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(emulator))
    export = EloquaExportOperator(
        task_id="export", definition_uri="/contacts/exports/3", **{"path": "out/c.csv", **kwargs}
    )
    with pytest.raises(EloquaInputError, match=message):
        export.execute(_context(Store()))
    assert emulator.control.requests() == []


def test_the_download_operator_reads_the_sync_once_and_records_the_file(emulator, monkeypatch, tmp_path):
    from airflow.sdk import AssetAlias

    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(emulator))
    emulator.control.seed("/contacts", count=2, template={FIELDS["Email"]: "p{n}@example.com"})
    started = _export(path=str(tmp_path / "unused.csv"), wait=False, lag=0).execute(_context(Store()))
    sync_uri = started["sync_uri"]
    while EloquaHook().get_sync(sync_uri)["status"] not in ("success", "warning", "error"):
        pass  # what the sensor does
    emulator.control.clear_requests()
    download = EloquaDownloadSyncOperator(task_id="download", sync_uri=sync_uri, path=str(tmp_path / "c.csv"))
    context = _context(Store(), "download")
    summary = download.execute(context)
    assert summary["rows"] == 2 and summary["sync_uri"] == sync_uri
    assert len(requests_to(emulator, "GET", sync_uri)) == 1  # read once, passed down
    links = context["pushed"]["eloqua_links"]
    assert links["sync"].endswith(sync_uri) and "/contacts/exports/" in links["definition"]
    ((asset, extra),) = context["outlet_events"][AssetAlias("eloqua-export:eloqua_default:d.download")].added
    assert asset.uri == (tmp_path / "c.csv").as_uri() and extra["source"] == "eloqua://AcmeCorp/contacts"


def test_a_download_of_a_failed_sync_fails_linking_the_sync_and_its_definition(emulator, monkeypatch, tmp_path):
    from airflow_provider_eloqua.exceptions import EloquaSyncError
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(emulator))
    emulator.control.configure(force_status="error")
    started = _export(path=str(tmp_path / "unused.csv"), wait=False, lag=0).execute(_context(Store()))
    sync_uri = started["sync_uri"]
    while (sync := EloquaHook().get_sync(sync_uri))["status"] not in ("success", "warning", "error"):
        pass  # what the sensor does
    download = EloquaDownloadSyncOperator(task_id="download", sync_uri=sync_uri, path=str(tmp_path / "c.csv"))
    context = _context(Store(), "download")
    with pytest.raises(EloquaSyncError):
        download.execute(context)
    base = EloquaHook().base_url
    assert context["pushed"]["eloqua_links"] == {
        "sync": base + sync_uri,
        "definition": base + sync["syncedInstanceUri"],
    }


def test_an_export_whose_sync_fails_in_the_worker_links_its_sync_and_template(emulator, monkeypatch, tmp_path):
    """Waiting in the worker (not deferrable), the sync ends ``error`` inside the export: the failed
    task shows that sync, and the template it was given (not the copy it synced)."""
    from airflow_provider_eloqua.exceptions import EloquaSyncError
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(emulator))
    template = EloquaCreateExportOperator(task_id="create", entity="contacts", name="links", fields=FIELDS).execute(
        _context(Store())
    )
    emulator.control.configure(force_status="error")
    export = EloquaExportOperator(
        task_id="export", definition_uri=template, path=str(tmp_path / "c.csv"), lag=0, poll_interval=0.01
    )
    context = _context(Store())
    with pytest.raises(EloquaSyncError):
        export.execute(context)
    (sync,) = emulator.control.state()["syncs"]
    base = EloquaHook().base_url
    assert context["pushed"]["eloqua_links"] == {"sync": base + sync["uri"], "definition": base + template}


def test_a_create_export_whose_answer_is_lost_is_found_on_the_retry_not_created_twice(emulator, monkeypatch):
    from tests.task_runner import run_task

    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(emulator))
    emulator.control.add_fault(method="POST", path=r"^/contacts/exports$", times=1, action="drop_after")
    create = EloquaCreateExportOperator(task_id="create", entity="contacts", name="lost export", fields=FIELDS)

    run = run_task(create, retries=1)

    assert run.state == "success", run.error
    assert run.try_number == 2
    (definition,) = [d["uri"] for d in emulator.control.state()["definitions"]]
    assert run.return_value == definition
    assert len(requests_to(emulator, "POST", "/contacts/exports")) == 1


SENDS_FILTER = "'{{Activity.Asset.Id}}' != '0'"
SENDS = {
    "entity": "activities",
    "activity_type": "EmailSend",
    "name": "Sends",
    "fields": {"Id": "{{Activity.Id}}", "At": "{{Activity.CreatedAt}}"},
    "filter": SENDS_FILTER,
}


@pytest.mark.parametrize("described_by", ["arguments", "template", "member_of"])
def test_one_try_parses_the_export_filter_once_however_many_parts_it_syncs(
    emulator, monkeypatch, tmp_path, described_by
):
    """The typed description is validated once and passed down: through one try that splits its window
    into parts, each with a definition of its own, the filter and ``member_of`` are each parsed once."""
    from airflow_provider_eloqua.export import filters, spec
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook
    from tests.task_runner import run_task

    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(emulator))
    emulator.control.seed(
        "/activities", count=40, activityType="EmailSend", createdAt="2026-11-01T00:00:00", stepSeconds=900
    )
    emulator.control.configure(activity_sync_cap=15, activity_sync_cap_outcome="truncate")
    description: dict = SENDS
    if described_by == "template":
        body = {**spec.ExportSpec(**SENDS).body(), "name": "Sends template"}
        description = {"definition_uri": EloquaHook().create_definition("activities", body, None, "exports")["uri"]}
    elif described_by == "member_of":
        emulator.control.seed("/contacts", count=3, template={FIELDS["Email"]: "p{n}@example.com"})
        emulator.control.define_container("ContactList", 12, ["p1@example.com", "p3@example.com"])
        description = {
            "entity": "contacts",
            "name": "List",
            "fields": FIELDS,
            "filter": FILTER,
            "member_of": "ContactList[12]",
        }
    parsed: list[str] = []
    members: list[str] = []
    parse, parse_member = filters._Parser.parse, spec.parse_member
    monkeypatch.setattr(filters._Parser, "parse", lambda parser: parsed.append(parser.text) or parse(parser))
    monkeypatch.setattr(spec, "parse_member", lambda text: members.append(text) or parse_member(text))
    export = EloquaExportOperator(
        task_id="export",
        **description,
        path=str(tmp_path / "out.csv"),
        since="2026-11-01T00:00:00Z",
        until="2026-11-02T00:00:00Z",
        lag=0,
        poll_interval=0.01,
        row_limit=15,
    )

    run = run_task(export)

    assert run.state == "success", run.error
    if described_by == "member_of":
        assert parsed == [FILTER] and members == ["ContactList[12]"]
    else:
        assert run.return_value["rows"] == 40 and len(run.return_value["syncs"]) >= 3  # a definition per part
        assert parsed == [
            f"'{{{{Activity.Type}}}}' = 'EmailSend' AND {SENDS_FILTER}" if described_by == "template" else SENDS_FILTER
        ]


# ------------------------------------------------------------------ through the task's tries (tests/task_runner.py)

EMAIL = FIELDS["Email"]
CONTACT_FIELDS = {
    "Email": EMAIL,
    "FirstName": "{{Contact.Field(C_FirstName)}}",
    "LastName": "{{Contact.Field(C_LastName)}}",
}


def _read_csv(path) -> list[dict[str, str]]:
    import csv
    import io

    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def test_a_retry_mid_download_reattaches_to_its_sync_and_the_file_is_exact(emulator, monkeypatch, tmp_path):
    from tests.task_runner import run_task

    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(emulator))
    emulator.control.seed(
        "/contacts", count=25, template={EMAIL: "person{n}@example.com"}, updatedAt="2026-11-01T00:00:00"
    )
    # the second page fails past the hook's retries: the first try fails mid-download
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+/data$", query="offset=10(&|$)", status=503, times=2)
    target = tmp_path / "contacts.csv"
    export = _export(
        name="export test",
        fields=CONTACT_FIELDS,
        path=str(target),
        lag=0,
        poll_interval=0.01,
        page_size=10,
        http_retry_policy={"max_attempts": 2, "initial_wait": 0.01, "max_wait": 0.05},
    )

    run = run_task(export, retries=1)

    assert run.state == "success", run.error
    assert run.try_number == 2
    assert "503" in str(run.errors[0])
    emails = [row["Email"] for row in _read_csv(target)]
    assert run.return_value["rows"] == len(emails) == len(set(emails)) == 25
    assert len(requests_to(emulator, "POST", "/syncs")) == 1  # the retry reattached, nothing synced again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.csv"]  # no unfinished file left


def test_an_import_followed_by_an_export_round_trips_exactly(emulator, monkeypatch, tmp_path):
    """Quotes, commas and non-ASCII letters come back from Eloqua as they went in."""
    from airflow_provider_eloqua.operators.eloqua import EloquaImportOperator
    from tests.task_runner import run_task

    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_DEFAULT", connection_json(emulator))
    emulator.control.set_clock(now="2026-11-01T12:00:00")  # the import stamps its records inside the window
    rows = [
        {"Email": f"person{n}@example.com", "FirstName": f'Ann "{n}", Jr.', "LastName": f"Müller-Ñúñez {n}"}
        for n in range(1, 31)
    ]
    load = EloquaImportOperator(
        task_id="import",
        entity="contacts",
        name="round trip",
        fields=CONTACT_FIELDS,
        identifier_field_name="Email",
        data=rows,
        poll_interval=0.01,
        timeout=60,
    )
    target = tmp_path / "contacts.ndjson"
    export = _export(
        name="export test",
        fields=CONTACT_FIELDS,
        path=str(target),
        since="2026-11-01T00:00:00Z",
        until="2026-11-02T00:00:00Z",
        lag=0,
        poll_interval=0.01,
    )

    imported = run_task(load)
    exported = run_task(export)

    assert imported.state == exported.state == "success", (imported.error, exported.error)
    assert imported.return_value["created"] == 30
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert exported.return_value["rows"] == 30
    assert sorted(lines, key=lambda r: r["Email"]) == sorted(rows, key=lambda r: r["Email"])
