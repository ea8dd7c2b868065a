"""Bad-input matrix: every malformed input or definition fails the task with an error naming the
problem, and leaves NOTHING staged in Eloqua (checked in the emulator's state and request log).

Input errors found before the first POST send no data at all; a bad row found after earlier chunks
were POSTed makes the upload clear the definition's staging area before the task fails.
"""

from __future__ import annotations

import json

import pytest
from airflow.dag_processing.dagbag import DagBag

from tests.dag_runner import install_dag_file
from tests.system.dags.matrix import (
    CONTACT_FIELDS,
    DAG_FILE,
    api_requests,
    assert_nothing_staged,
    captured,
    contacts,
    data_posts,
    run_matrix,
    write_csv,
)

HEADER = b"Email,FirstName,LastName\n"
SMALL_CHUNKS = 1024
LATE_CHUNKS = 16 * 1024


@pytest.fixture
def env(airflow_db, eloqua_conn):
    return eloqua_conn


def _run_file(monkeypatch, tmp_path, content: bytes, name: str = "input.csv", **spec):
    path = tmp_path / name
    path.write_bytes(content)
    return run_matrix(monkeypatch, mode="import", path=str(path), **spec)


def _assert_failed_without_staging(env, result, output: str, *messages: str) -> None:
    assert result.state == "failed"
    assert result["import"].state == "failed"
    for message in messages:
        assert message in output
    assert data_posts(env) == []
    assert api_requests(env, "POST", r"/syncs$") == []
    assert_nothing_staged(env)


# ------------------------------------------------------------------ malformed files


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (HEADER + b'a@example.com,"Ann,Smith\nb@example.com,B,C\n', "CSV row 1: a quoted field is never closed"),
        (HEADER + b"a@example.com,A,S\nb@example.com,B\n", "CSV row 2 has 2 fields; the header has 3 columns"),
        (HEADER + b"a@example.com,A,S,extra\n", "CSV row 1 has 4 fields; the header has 3 columns"),
        (HEADER + b"a@example.com,J\xe9r\xf4me,S\n", "CSV row 1 is not valid UTF-8"),
        (b"FirstName,LastName\nA,S\n", "the CSV header lacks the identifier column 'Email'"),
        (b"Email,FirstName,Phone\na@example.com,A,1\n", "not fields of the import definition: 'Phone'"),
        (HEADER + b"a@example.com," + b"A" * 2000 + b",S\n", "CSV row 1 is larger than the 999 bytes a chunk has"),
    ],
    ids=["unbalanced-quote", "short-row", "long-row", "not-utf8", "no-identifier-column", "unknown-column", "huge-row"],
)
def test_malformed_csv_fails_before_anything_is_staged(env, monkeypatch, tmp_path, capfd, caplog, content, message):
    result = _run_file(monkeypatch, tmp_path, content, chunk_bytes=SMALL_CHUNKS)

    _assert_failed_without_staging(env, result, captured(capfd, caplog), "EloquaInputError", message)


def test_utf8_bom_is_accepted_and_stripped(env, monkeypatch, tmp_path):
    rows = contacts(7)
    path = write_csv(tmp_path / "bom.csv", rows)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())

    result = run_matrix(monkeypatch, mode="import", path=str(path))

    assert result.state == "success", result.tasks
    assert result["import"].return_value["rows"] == 7
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
def test_bad_json_rows_fail_before_anything_is_staged(env, monkeypatch, capfd, caplog, rows, message):
    result = run_matrix(monkeypatch, mode="import", data=rows, chunk_bytes=SMALL_CHUNKS)

    _assert_failed_without_staging(env, result, captured(capfd, caplog), message)


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_bad_row_late_in_the_input_clears_what_was_already_staged(env, monkeypatch, tmp_path, capfd, caplog, fmt):
    """Chunking validates a read block (1 MiB of CSV) or a batch (1,000 JSON rows) at a time, so the
    bad row sits beyond the first block or batch: earlier chunks are POSTed before it is found."""
    bad = 19_000 if fmt == "csv" else 2_500
    rows = contacts(bad + 100)
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

    result = run_matrix(monkeypatch, mode="import", path=str(path), chunk_bytes=LATE_CHUNKS)

    assert result.state == "failed"
    output = captured(capfd, caplog)
    assert message in output
    assert "Cleared the staging area" in output
    posts = data_posts(env)
    assert len(posts) >= 2 and all(p["status"] == 204 for p in posts)  # earlier chunks did reach Eloqua
    assert len(api_requests(env, "DELETE", r"/data$")) == 1
    assert api_requests(env, "POST", r"/syncs$") == []
    assert_nothing_staged(env)


def test_bad_row_late_in_xcom_rows_clears_staging_in_the_upload_operator(env, monkeypatch, capfd, caplog):
    rows = contacts(1_500)
    rows[1_399] = {"Email": "x@example.com", "Unknown": "1"}

    result = run_matrix(monkeypatch, mode="split", data=rows, chunk_bytes=LATE_CHUNKS)

    assert result["create"].state == "success"
    assert result["upload"].state == "failed"
    assert result.state == "failed"
    assert "row 1400: keys that are not fields of the import definition: 'Unknown'" in captured(capfd, caplog)
    assert len(data_posts(env)) >= 2
    assert len(api_requests(env, "DELETE", r"/data$")) == 1
    assert_nothing_staged(env)


# ------------------------------------------------------------------ empty input


@pytest.mark.parametrize("source", ["header-only", "blank-lines", "empty-list"], ids=lambda s: s)
def test_empty_input_is_skipped_with_a_log_line(env, monkeypatch, tmp_path, capfd, caplog, source):
    """Documented decision: no rows is not an error; nothing is staged, no sync is started,
    the task succeeds with rows=0 and sync_uri None and logs why, and its load definition is deleted."""
    if source == "empty-list":
        spec = {"data": []}
    else:
        content = {"header-only": HEADER, "blank-lines": HEADER + b"\n\n"}[source]
        path = tmp_path / "empty.csv"
        path.write_bytes(content)
        spec = {"path": str(path)}

    result = run_matrix(monkeypatch, mode="import", **spec)

    assert result.state == "success", result.tasks
    value = result["import"].return_value
    assert value["rows"] == 0 and value["sync_uri"] is None and value["status"] is None
    assert "The input has no rows: nothing was staged and no sync was started" in captured(capfd, caplog)
    assert data_posts(env) == []
    assert api_requests(env, "POST", r"/syncs$") == []
    assert_nothing_staged(env)
    assert env.control.state()["definitions"] == []


def test_a_0_byte_csv_fails_as_a_broken_export_before_anything_is_sent(env, monkeypatch, tmp_path, capfd, caplog):
    """Documented decision: a CSV with no rows still has its header line, so 0 bytes is a broken upstream."""
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    result = run_matrix(monkeypatch, mode="import", path=str(path), retries=2)

    assert result.state == "failed"
    assert result["import"].try_number == 1  # bad input: not retried
    assert "is empty (0 bytes, not even a header line)" in captured(capfd, caplog)
    assert api_requests(env, "POST") == []


def test_empty_input_skips_the_downstream_sensor(env, monkeypatch, capfd, caplog):
    """In the create -> upload -> sensor DAG an empty input must not fail the sensor on a None sync_uri."""
    result = run_matrix(monkeypatch, mode="split", data=[])

    assert result["upload"].state == "success"
    assert result["upload"].return_value["sync_uri"] is None
    assert result["wait"].state == "skipped"
    assert result.state == "success"
    assert "no sync to wait for" in captured(capfd, caplog)
    assert api_requests(env, "POST", r"/syncs$") == []
    assert_nothing_staged(env)


# ------------------------------------------------------------------ bad definitions


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"fields": {f"Col{i}": f"{{{{Contact.Field(C_X{i})}}}}" for i in range(101)}, "identifier": "Col0"},
            "fields has 101 entries; Eloqua allows at most 100",
        ),
        (
            {"fields": {**CONTACT_FIELDS, "LastName": "Contact.Field(C_LastName)"}},
            "fields['LastName'] must be an Eloqua markup statement",
        ),
        ({"fields": {**CONTACT_FIELDS, "FirstName": ""}}, "fields['FirstName'] must be an Eloqua markup statement"),
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
def test_bad_definition_fails_before_any_request(env, monkeypatch, capfd, caplog, spec, message):
    result = run_matrix(monkeypatch, mode="import", data=contacts(3), **spec)

    assert result.state == "failed"
    output = captured(capfd, caplog)
    assert "EloquaInputError" in output and message in output
    assert api_requests(env) == []  # not even authentication: the definition was refused locally
    assert_nothing_staged(env)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"entity": "leads"}, "entity must be one of contacts, accounts, activities"),
        ({"entity": "events"}, "parent_id is required for entity 'events'"),
        ({"entity": "customObjects"}, "parent_id is required for entity 'customObjects'"),
    ],
    ids=["unknown-entity", "events-without-parent", "custom-objects-without-parent"],
)
@pytest.mark.parametrize("mode", ["import", "split"])
def test_impossible_entity_fails_at_dag_parse(env, monkeypatch, spec, message, mode):
    monkeypatch.setenv("ELOQUA_MATRIX_SPEC", json.dumps({"mode": mode, "data": contacts(1), **spec}))

    bag = DagBag(dag_folder=str(install_dag_file(DAG_FILE)))

    (error,) = bag.import_errors.values()
    assert "EloquaInputError" in error and message in error
    assert api_requests(env) == []


@pytest.mark.parametrize("where", ["missing", "directory"])
def test_an_input_path_that_is_not_a_file_fails_before_any_definition_is_created(
    env, monkeypatch, tmp_path, capfd, caplog, where
):
    path = tmp_path / "no-such.csv" if where == "missing" else tmp_path / "a-directory.csv"
    if where == "directory":
        path.mkdir()

    result = run_matrix(monkeypatch, mode="import", path=str(path))

    message = "does not exist" if where == "missing" else "is not a file (a directory?)"
    _assert_failed_without_staging(env, result, captured(capfd, caplog), "EloquaInputError", str(path), message)
    assert api_requests(env) == []  # nothing at all was sent: no definition left behind
