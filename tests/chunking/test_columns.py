"""columns.py: input columns against the definition's fields, and blank identifiers, refused alike by CSV and
JSON inputs except where Oracle documents them (a custom object record's Id or ExternalId, left blank to create
new records). Pure, no HTTP."""

from __future__ import annotations

import io
import json

import pytest

from airflow_provider_eloqua.chunking import (
    check_columns,
    iter_csv_chunks,
    iter_file_chunks,
    iter_json_chunks,
)
from airflow_provider_eloqua.chunking.columns import blank_creates_records
from airflow_provider_eloqua.exceptions import EloquaInputError
from tests.chunking.helpers import (
    FIELDS,
)

ID_FIELDS = ["Id", "Email"]
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
        list(iter_json_chunks(ROWS, ID_FIELDS, "Id"))
    with pytest.raises(EloquaInputError, match=r"^CSV row 1: the identifier 'Id' is empty$"):
        list(iter_csv_chunks(io.BytesIO(CSV), ID_FIELDS, "Id"))
    ndjson = b"".join(json.dumps(row).encode() + b"\n" for row in ROWS)
    with pytest.raises(EloquaInputError, match=r"^row 1: the identifier 'Id' is empty$"):
        list(iter_file_chunks(io.BytesIO(ndjson), "ndjson", ID_FIELDS, "Id"))


def test_blank_identifiers_pass_where_they_create_records_in_every_format():
    (chunk,) = list(iter_json_chunks(ROWS, ID_FIELDS, "Id", blank_identifiers=True))
    assert json.loads(chunk.body) == ROWS
    (chunk,) = list(iter_csv_chunks(io.BytesIO(CSV), ID_FIELDS, "Id", blank_identifiers=True))
    assert chunk.body == CSV and chunk.rows == 3
    ndjson = b"".join(json.dumps(row).encode() + b"\n" for row in ROWS)
    (chunk,) = list(iter_file_chunks(io.BytesIO(ndjson), "ndjson", ID_FIELDS, "Id", blank_identifiers=True))
    assert json.loads(chunk.body) == ROWS
    # the identifier column itself is still required
    with pytest.raises(EloquaInputError, match="lacks the identifier"):
        list(iter_json_chunks([{"Email": "a@example.com"}], ID_FIELDS, "Id", blank_identifiers=True))


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
