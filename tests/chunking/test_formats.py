"""iter_file_chunks: one parser per input format (pure, no HTTP)."""

from __future__ import annotations

import io
import json

import pytest

from airflow_provider_eloqua.chunking import (
    CSV_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    infer_format,
    iter_file_chunks,
)
from airflow_provider_eloqua.exceptions import EloquaInputError
from tests.chunking.helpers import (
    FIELDS,
    HEADER,
    contact,
    csv_rows,
    decoded_rows,
)

# ---------------------------------------------------------------------------------------------
# iter_file_chunks
# ---------------------------------------------------------------------------------------------


def test_file_chunks_dispatch():
    rows = [contact(i) for i in range(20)]
    csv_data = HEADER + b"".join(csv_rows(20))
    (c,) = list(iter_file_chunks(io.BytesIO(csv_data), "csv", FIELDS, "Email", 4096))
    assert (c.content_type, c.rows, c.body) == (CSV_CONTENT_TYPE, 20, csv_data)
    # Rows of text only go as CSV (the smallest encoding that means the same) ...
    (j,) = list(iter_file_chunks(io.BytesIO(json.dumps(rows).encode()), "json", FIELDS, "Email", 4096))
    assert (j.content_type, j.rows, decoded_rows(j)) == (CSV_CONTENT_TYPE, 20, rows)
    nd = b"\n".join(json.dumps(r).encode() for r in rows)
    chunks = list(iter_file_chunks(io.BytesIO(nd), "ndjson", FIELDS, "Email", 1024))
    assert {ch.content_type for ch in chunks} == {CSV_CONTENT_TYPE}
    assert [r for ch in chunks for r in decoded_rows(ch)] == rows
    assert all(len(ch.body) <= 1024 for ch in chunks)
    # ... and rows holding a null (or a number) as JSON.
    rows[0]["Country"] = None
    (j,) = list(iter_file_chunks(io.BytesIO(json.dumps(rows).encode()), "json", FIELDS, "Email", 4096))
    assert (j.content_type, j.rows, json.loads(j.body)) == (JSON_CONTENT_TYPE, 20, rows)


def test_file_chunks_json_rows_validated():
    data = b'[{"Email": "a"}, {"Email": "b", "Tags": [1]}]'
    with pytest.raises(EloquaInputError, match=r"^row 2: keys that are not fields of the import definition: 'Tags'"):
        list(iter_file_chunks(io.BytesIO(data), "json", FIELDS, "Email", 4096))


def test_file_chunks_bad_format():
    with pytest.raises(EloquaInputError, match=r"format='xml' is not supported"):
        iter_file_chunks(io.BytesIO(b""), "xml", FIELDS, "Email", 4096)


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
