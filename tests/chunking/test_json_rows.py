"""JSON rows: airflow_provider_eloqua.chunking.json_rows (pure, no HTTP)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import types
from collections import OrderedDict
from decimal import Decimal

import pytest

from airflow_provider_eloqua.chunking import (
    JSON_CONTENT_TYPE,
    iter_json_chunks,
    json_rows,
)
from airflow_provider_eloqua.exceptions import EloquaInputError
from tests.chunking.helpers import (
    FIELDS,
    contact,
    json_error,
)

# ---------------------------------------------------------------------------------------------
# JSON rows
# ---------------------------------------------------------------------------------------------


def test_json_single_chunk():
    rows = [contact(1), contact(2, Company=None)]
    (chunk,) = list(iter_json_chunks(rows, FIELDS, "Email"))
    assert chunk.content_type == JSON_CONTENT_TYPE
    assert (chunk.rows, chunk.first_row) == (2, 1)
    assert chunk.body == json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()
    assert "Müller".encode() in chunk.body


def test_json_converts_scalars():
    """Dates go out as Eloqua reads them (docs/eloqua-behaviour.md, "Date values"): no fractions, no offset."""
    row = {
        "Email": "a@b.c",
        "FirstName": dt.datetime(2024, 5, 6, 7, 8, 9, 123456),
        "LastName": dt.date(2024, 5, 6),
        "Company": Decimal("12.50"),
        "Country": True,
    }
    (chunk,) = list(iter_json_chunks([row], FIELDS, "Email"))
    assert json.loads(chunk.body) == [
        {
            "Email": "a@b.c",
            "FirstName": "2024-05-06 07:08:09",
            "LastName": "2024-05-06",
            "Company": "12.50",
            "Country": True,
        }
    ]


def test_json_refuses_a_datetime_with_a_time_zone_naming_row_and_key():
    rows = [contact(1), {**contact(2), "FirstName": dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)}]
    with pytest.raises(
        EloquaInputError, match=r"row 2: key 'FirstName': 2024-05-06T07:08:09\+00:00 carries a time zone"
    ):
        list(iter_json_chunks(rows, FIELDS, "Email"))


def test_json_plain_scalars_kept():
    rows = [{"Email": "a@b.c", "FirstName": 1, "LastName": 2.5, "Company": False, "Country": None}]
    (chunk,) = list(iter_json_chunks(rows, FIELDS, "Email"))
    assert chunk.body == b'[{"Email":"a@b.c","FirstName":1,"LastName":2.5,"Company":false,"Country":null}]'


def test_json_text_with_braces_and_brackets_is_plain_text():
    rows = [contact(i, Company="{Acme} [EMEA] {{x}}" if i % 2 else "Acme") for i in range(2500)]
    chunks = list(iter_json_chunks(rows, FIELDS, "Email"))
    assert [r for c in chunks for r in json.loads(c.body)] == rows


def test_json_accepts_any_mapping_and_integer_identifier():
    rows = [types.MappingProxyType({"Id": 5, "Email": "a@b.c"}), OrderedDict(Id=6)]
    (chunk,) = list(iter_json_chunks(rows, ["Id", "Email"], "Id"))
    assert chunk.body == b'[{"Id":5,"Email":"a@b.c"},{"Id":6}]'


def test_json_empty_yields_nothing():
    assert list(iter_json_chunks([], FIELDS, "Email")) == []
    assert list(iter_json_chunks(iter(()), FIELDS, "Email")) == []


def test_json_many_chunks_cover_the_input():
    rows = [contact(i) for i in range(2500)]
    chunks = list(iter_json_chunks(rows, FIELDS, "Email", 4096))
    assert len(chunks) > 30
    assert all(len(c.body) <= 4096 for c in chunks)
    assert [r for c in chunks for r in json.loads(c.body)] == rows
    first = 1
    for c in chunks:
        assert c.first_row == first
        assert c.rows == len(json.loads(c.body))
        first += c.rows
    for c, nxt in itertools.pairwise(chunks):
        row_bytes = len(json.dumps(rows[nxt.first_row - 1], ensure_ascii=False, separators=(",", ":")).encode())
        assert len(c.body) + 1 + row_bytes > 4096


def test_json_chunk_exactly_at_the_limit():
    # each row {"Email":"<20 chars>"} is 32 bytes; "[" + 31 rows + 30 commas + "]" = 1024
    rows = [{"Email": f"{i:02d}" + "x" * 18} for i in range(31)]
    size = len(json.dumps(rows, separators=(",", ":")).encode())
    assert size == 2 + 31 * 32 + 30 == 1024
    (chunk,) = list(iter_json_chunks(rows, ["Email"], "Email", 1024))
    assert len(chunk.body) == 1024
    chunks = list(iter_json_chunks([*rows, {"Email": "y"}], ["Email"], "Email", 1024))
    assert [(len(c.body), c.rows, c.first_row) for c in chunks] == [(1024, 31, 1), (15, 1, 32)]


def test_json_rows_are_consumed_lazily():
    taken = []

    def gen():
        for i in range(100_000):
            taken.append(i)
            yield contact(i)

    it = iter_json_chunks(gen(), FIELDS, "Email", 4096)
    first = next(it)
    assert first.first_row == 1
    assert len(taken) <= 2 * json_rows._JSON_BATCH


@pytest.mark.parametrize("row", ["a@b.c", ["a@b.c"], None, 5])
def test_json_row_not_a_mapping(row):
    text = json_error([contact(1), contact(2), row])
    assert text.startswith(f"row 3: is not a mapping of field name to value (got {type(row).__name__})")


def test_json_unknown_keys():
    text = json_error([contact(1), {"Email": "a@b.c", "Phone": "1", "Fax": "2"}])
    assert text.startswith("row 2: keys that are not fields of the import definition: 'Phone', 'Fax'")


def test_json_missing_identifier():
    assert json_error([contact(1), {"Country": "DE"}]) == "row 2: lacks the identifier key 'Email'"


@pytest.mark.parametrize("value", ["", "   ", None])
def test_json_empty_identifier(value):
    assert json_error([contact(1), contact(2), contact(3, Email=value)]) == "row 3: the identifier 'Email' is empty"


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], {1, 2}, (1,), OrderedDict(a=1), []])
def test_json_nested_values(value):
    text = json_error([contact(1), contact(2, Company=value)])
    assert text.startswith(f"row 2: key 'Company': nested values cannot be sent to Eloqua (got {type(value).__name__})")


@pytest.mark.parametrize("value", [b"bytes", dt.time(1, 2), object()])
def test_json_other_values(value):
    text = json_error([contact(1, Company=value)])
    assert text.startswith(f"row 1: key 'Company': a {type(value).__name__} value cannot be sent to Eloqua")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), Decimal("NaN"), Decimal("-Infinity")])
def test_json_non_finite_numbers(value):
    text = json_error([contact(1), contact(2, Company=value)])
    assert text == f"row 2: key 'Company': {value!r} cannot be sent to Eloqua (not a finite number)"


def test_json_lone_surrogate():
    text = json_error([contact(1, Company="bad \ud800 text")])
    assert text.startswith("row 1: key 'Company': the text cannot be encoded as UTF-8")


def test_json_row_larger_than_chunk():
    text = json_error([contact(1), contact(2, Company="x" * 2000)], 1024)
    assert text.startswith("row 2: is ") and "more than fits in one chunk (chunk_bytes=1024" in text


def test_json_error_raised_before_the_chunk_holding_the_bad_row():
    rows = [contact(i) for i in range(5000)]
    rows[3500] = contact(3500, Company=[1])
    yielded = []
    with pytest.raises(EloquaInputError, match=r"^row 3501: key 'Company': nested values"):
        for chunk in iter_json_chunks(rows, FIELDS, "Email", 8192):
            yielded.append(chunk)
    assert yielded
    assert all(c.first_row + c.rows - 1 < 3501 for c in yielded)


def test_json_row_numbers_past_the_first_batch():
    rows = [contact(i) for i in range(2500)]
    rows[2222] = {"Email": "a@b.c", "Phone": "1"}
    assert json_error(rows).startswith("row 2223: keys that are not fields")


@pytest.mark.parametrize("rows", ["a@b.c", b"x", {"Email": "a@b.c"}, 5])
def test_json_rows_must_be_an_iterable_of_rows(rows):
    with pytest.raises(EloquaInputError, match=r"rows must be an iterable"):
        iter_json_chunks(rows, FIELDS, "Email")
