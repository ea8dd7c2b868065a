"""Input refused before a definition is created, or its definition deleted when found bad later.

The engine against the emulator over loopback HTTP, with a dict-backed checkpoint: the input's
first chunk is read and checked before the load definition is created; a bad row found only while
streaming deletes the load's own definition before the task fails. Either way nothing is left in
Eloqua.
"""

from __future__ import annotations

import pytest

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.load.checkpoint import Checkpoint
from airflow_provider_eloqua.load.engine import Load
from airflow_provider_eloqua.load.load_definition import from_spec
from airflow_provider_eloqua.load.spec import DefinitionSpec, InputSpec, UploadSpec
from tests.dag_runner import connection_json
from tests.load.test_checkpoint import Store

FIELDS = {
    "Email": "{{Contact.Field(C_EmailAddress)}}",
    "FirstName": "{{Contact.Field(C_FirstName)}}",
}
SPEC = DefinitionSpec("imports", "contacts", "read ahead", FIELDS, "Email")


@pytest.fixture
def hook(emulator, monkeypatch) -> EloquaHook:
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_READ_AHEAD", connection_json(emulator))
    return EloquaHook("eloqua_read_ahead")


def _load(hook: EloquaHook, source: InputSpec, chunk_bytes: int = 30 * 1024 * 1024) -> Load:
    return Load(
        hook,
        Checkpoint(Store()),
        blueprint=lambda: from_spec(SPEC, "0123456789ab"),
        source=source,
        upload=UploadSpec(chunk_bytes=chunk_bytes),
        poll_interval=0.05,
    )


def _csv(tmp_path, text: str, name: str = "contacts.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _nothing_created(emulator) -> None:
    assert emulator.control.state()["definitions"] == []
    assert [r for r in emulator.control.requests() if r["method"] == "POST"] == []


def test_an_empty_identifier_in_row_2_fails_before_a_definition_is_created(hook, emulator):
    rows = [{"Email": "a@x.io", "FirstName": "A"}, {"Email": " ", "FirstName": "B"}]
    with pytest.raises(EloquaInputError, match="row 2: the identifier 'Email' is empty"):
        _load(hook, InputSpec(data=rows)).run()
    _nothing_created(emulator)


def test_an_unclosed_quote_fails_before_a_definition_is_created(hook, emulator, tmp_path):
    path = _csv(tmp_path, 'Email,FirstName\na@x.io,"Ann\nb@x.io,Bob\n')
    with pytest.raises(EloquaInputError, match="quote"):
        _load(hook, InputSpec(path=path)).run()
    _nothing_created(emulator)


def test_a_column_that_is_no_field_fails_before_a_definition_is_created(hook, emulator, tmp_path):
    path = _csv(tmp_path, "Email,Shoe\na@x.io,42\n")
    with pytest.raises(EloquaInputError, match="'Shoe'"):
        _load(hook, InputSpec(path=path)).run()
    _nothing_created(emulator)


def test_a_bad_row_found_while_streaming_deletes_the_load_definition(hook, emulator, tmp_path):
    """Row 150 lies beyond the first chunk: the definition exists by then, so it is deleted."""
    lines = [f"p{i}@example.com,First{i}" if i != 150 else ",Nobody" for i in range(1, 201)]
    path = _csv(tmp_path, "Email,FirstName\n" + "\n".join(lines) + "\n")
    with pytest.raises(EloquaInputError, match="row 150"):
        _load(hook, InputSpec(path=path), chunk_bytes=1024).run()
    assert [r["status"] for r in emulator.control.requests() if r["method"] == "POST" and "/data" in r["path"]]
    assert emulator.control.state()["definitions"] == []
    assert emulator.control.state()["syncs"] == []


@pytest.mark.parametrize(("name", "what"), [("empty.csv", "not even a header line"), ("empty.json", "not even")])
def test_a_0_byte_csv_or_json_file_fails_before_a_definition_is_created(hook, emulator, tmp_path, name, what):
    path = _csv(tmp_path, "", name)
    with pytest.raises(EloquaInputError, match=f"is empty \\(0 bytes, {what}"):
        _load(hook, InputSpec(path=path)).run()
    _nothing_created(emulator)


@pytest.mark.parametrize(
    ("name", "text"), [("empty.ndjson", ""), ("header.csv", "Email,FirstName\n"), ("array.json", "[]")]
)
def test_input_without_rows_loads_nothing_and_leaves_no_definition(hook, emulator, tmp_path, name, text):
    result = _load(hook, InputSpec(path=_csv(tmp_path, text, name))).run()
    assert (result.totals.rows, result.sync_uri) == (0, None)
    assert emulator.control.state()["definitions"] == []  # created, then deleted: no sync will use it


def test_a_directory_is_not_a_file(tmp_path):
    with pytest.raises(EloquaInputError, match="is not a file"):
        InputSpec(path=str(tmp_path))


def test_a_template_that_does_not_exist_fails_naming_it(hook, emulator):
    from airflow_provider_eloqua import urls
    from airflow_provider_eloqua.load.load_definition import from_template

    with pytest.raises(EloquaInputError, match=r"definition_uri /contacts/imports/99 does not exist in Eloqua"):
        from_template(hook, urls.parse_definition_uri("/contacts/imports/99"), "0123456789ab", "P2D")
    assert emulator.control.state()["definitions"] == []
