"""Blank identifiers: refused alike by CSV and JSON inputs, except where Oracle documents them
(a custom object record's Id or ExternalId, left blank to create new records)."""

from __future__ import annotations

import io
import json

import pytest

from airflow_provider_eloqua.chunking import iter_csv_chunks, iter_file_chunks, iter_json_chunks
from airflow_provider_eloqua.chunking.columns import blank_creates_records
from airflow_provider_eloqua.exceptions import EloquaInputError

FIELDS = ["Id", "Email"]
ROWS = [{"Id": "", "Email": "a@example.com"}, {"Id": None, "Email": "b@example.com"}, {"Id": "7", "Email": "c@x.y"}]
CSV = b'Id,Email\n,a@example.com\n"",b@example.com\n7,c@x.y\n'


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        ("{{CustomObject[9].Id}}", True),
        ("{{CustomObject[9].ExternalId}}", True),
        (" {{CustomObject[12].Id}} ", True),
        ("{{CustomObject[9].Field[103]}}", False),
        ("{{Contact.Field(C_EmailAddress)}}", False),
        ("{{Contact.Id}}", False),
        (None, False),
    ],
)
def test_blank_creates_records_only_for_custom_object_record_ids(statement, allowed):
    assert blank_creates_records(statement) is allowed


def test_blank_identifiers_are_refused_by_default_in_every_format():
    with pytest.raises(EloquaInputError, match=r"^row 1: the identifier 'Id' is empty$"):
        list(iter_json_chunks(ROWS, FIELDS, "Id"))
    with pytest.raises(EloquaInputError, match=r"^CSV row 1: the identifier 'Id' is empty$"):
        list(iter_csv_chunks(io.BytesIO(CSV), FIELDS, "Id"))
    ndjson = b"".join(json.dumps(row).encode() + b"\n" for row in ROWS)
    with pytest.raises(EloquaInputError, match=r"^row 1: the identifier 'Id' is empty$"):
        list(iter_file_chunks(io.BytesIO(ndjson), "ndjson", FIELDS, "Id"))


def test_blank_identifiers_pass_where_they_create_records_in_every_format():
    (chunk,) = list(iter_json_chunks(ROWS, FIELDS, "Id", blank_identifiers=True))
    assert json.loads(chunk.body) == ROWS
    (chunk,) = list(iter_csv_chunks(io.BytesIO(CSV), FIELDS, "Id", blank_identifiers=True))
    assert chunk.body == CSV and chunk.rows == 3
    ndjson = b"".join(json.dumps(row).encode() + b"\n" for row in ROWS)
    (chunk,) = list(iter_file_chunks(io.BytesIO(ndjson), "ndjson", FIELDS, "Id", blank_identifiers=True))
    assert json.loads(chunk.body) == ROWS
    # the identifier column itself is still required
    with pytest.raises(EloquaInputError, match="lacks the identifier"):
        list(iter_json_chunks([{"Email": "a@example.com"}], FIELDS, "Id", blank_identifiers=True))
