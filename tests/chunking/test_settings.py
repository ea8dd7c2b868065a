"""Chunk size, format inference and column checks (pure, no HTTP)."""

from __future__ import annotations

import io

import pytest

from airflow_provider_eloqua.chunking import (
    CSV_CONTENT_TYPE,
    DEFAULT_CHUNK_BYTES,
    JSON_CONTENT_TYPE,
    MAX_CHUNK_BYTES,
    MIN_CHUNK_BYTES,
    check_chunk_bytes,
    check_columns,
    infer_format,
    iter_csv_chunks,
    iter_file_chunks,
    iter_json_chunks,
)
from airflow_provider_eloqua.exceptions import EloquaError, EloquaInputError
from tests.chunking.helpers import (
    FIELDS,
    HEADER,
)

# ---------------------------------------------------------------------------------------------
# constants and settings
# ---------------------------------------------------------------------------------------------


def test_constants():
    assert DEFAULT_CHUNK_BYTES == 31_457_280
    assert DEFAULT_CHUNK_BYTES < MAX_CHUNK_BYTES == 32_000_000 < 32 * 1024 * 1024
    assert MIN_CHUNK_BYTES == 1024
    assert CSV_CONTENT_TYPE == "text/csv; charset=utf-8"
    assert JSON_CONTENT_TYPE == "application/json"
    assert issubclass(EloquaInputError, EloquaError)


@pytest.mark.parametrize("value", [MIN_CHUNK_BYTES, DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, 5000])
def test_check_chunk_bytes_accepts(value):
    assert check_chunk_bytes(value) == value


@pytest.mark.parametrize("value", [MIN_CHUNK_BYTES - 1, MAX_CHUNK_BYTES + 1, 0, -5, 33_554_432])
def test_check_chunk_bytes_rejects_out_of_range(value):
    with pytest.raises(EloquaInputError, match=rf"chunk_bytes={value} is outside \[1024, 32000000\]"):
        check_chunk_bytes(value)


@pytest.mark.parametrize("value", ["2048", 2048.0, True, None])
def test_check_chunk_bytes_rejects_non_int(value):
    with pytest.raises(EloquaInputError, match=r"chunk_bytes must be an integer"):
        check_chunk_bytes(value)


def test_chunk_bytes_is_checked_when_called_not_when_iterated():
    with pytest.raises(EloquaInputError, match=r"chunk_bytes=100 "):
        iter_csv_chunks(io.BytesIO(HEADER), FIELDS, "Email", 100)
    with pytest.raises(EloquaInputError, match=r"chunk_bytes=100 "):
        iter_json_chunks([], FIELDS, "Email", 100)
    with pytest.raises(EloquaInputError, match=r"chunk_bytes=100 "):
        iter_file_chunks(io.BytesIO(b""), "json", FIELDS, "Email", 100)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/data/contacts.csv", "csv"),
        ("CONTACTS.CSV", "csv"),
        ("s3://bucket/a.b/rows.json", "json"),
        ("rows.ndjson", "ndjson"),
        ("rows.JSONL", "ndjson"),
    ],
)
def test_infer_format_from_extension(path, expected):
    assert infer_format(path, None) == expected


@pytest.mark.parametrize(
    ("given", "expected"), [("csv", "csv"), ("JSON", "json"), (" ndjson ", "ndjson"), ("jsonl", "ndjson")]
)
def test_infer_format_explicit_wins(given, expected):
    assert infer_format("export.txt", given) == expected


def test_infer_format_rejects_unknown_format_naming_it():
    with pytest.raises(EloquaInputError, match=r"format='xlsx' is not supported; use one of csv, json, ndjson"):
        infer_format("a.csv", "xlsx")


@pytest.mark.parametrize("path", ["contacts", "contacts.txt", ".csv", "dir.csv/contacts"])
def test_infer_format_rejects_unknown_extension_naming_path(path):
    with pytest.raises(EloquaInputError) as info:
        infer_format(path, None)
    assert repr(path) in str(info.value)
    assert "set format" in str(info.value)


@pytest.mark.parametrize("path", ["contacts.csv.gz", "rows.json.zip"])
def test_infer_format_rejects_compressed_files(path):
    with pytest.raises(EloquaInputError, match=r"compressed files are not supported") as info:
        infer_format(path, None)
    assert repr(path) in str(info.value)


# ---------------------------------------------------------------------------------------------
# check_columns
# ---------------------------------------------------------------------------------------------


def test_check_columns_accepts_subset_in_any_order():
    check_columns(["Country", "Email"], FIELDS, "Email", "the header")
    check_columns(["Email"], {"Email": "{{Contact.Field(C_EmailAddress)}}"}, "Email", "the header")


def test_check_columns_names_unknown_columns():
    with pytest.raises(EloquaInputError) as info:
        check_columns(["Email", "Phone", "Fax"], FIELDS, "Email", "the header of a.csv")
    text = str(info.value)
    assert text.startswith(
        "the header of a.csv has columns that are not fields of the import definition: 'Phone', 'Fax'"
    )
    assert "'Company', 'Country', 'Email', 'FirstName', 'LastName'" in text


def test_check_columns_names_duplicates():
    with pytest.raises(EloquaInputError, match=r"the header names these columns more than once: 'Email'$"):
        check_columns(["Email", "Country", "Email"], FIELDS, "Email", "the header")


def test_check_columns_requires_identifier():
    with pytest.raises(
        EloquaInputError, match=r"the header lacks the identifier column 'Email' \(columns: 'Country'\)"
    ):
        check_columns(["Country"], FIELDS, "Email", "the header")


def test_check_columns_rejects_empty():
    with pytest.raises(EloquaInputError, match=r"the header is empty"):
        check_columns([], FIELDS, "Email", "the header")


def test_check_columns_rejects_identifier_outside_fields():
    with pytest.raises(EloquaInputError, match=r"identifier 'Id' is not one of the import definition's fields"):
        check_columns(["Email"], FIELDS, "Id", "the header")


def test_check_columns_rejects_empty_fields():
    with pytest.raises(EloquaInputError, match=r"fields is empty"):
        check_columns(["Email"], [], "Email", "the header")
