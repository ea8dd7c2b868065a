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
    CSV_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    iter_json_chunks,
    iter_record_chunks,
    iter_row_chunks,
    json_rows,
)
from airflow_provider_eloqua.content import DEFAULT_CHUNK_BYTES
from airflow_provider_eloqua.exceptions import EloquaInputError
from tests.chunking.helpers import (
    FIELDS,
    contact,
    decoded_rows,
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


BATCH = 1000  # rows validated and encoded together


def row(i: int, **extra) -> dict:
    """A contact with text in every one of the five fields."""
    return contact(i, Company=f"Company {i % 7}", **extra)


def rows_of(chunks) -> list[dict]:
    return [row for chunk in chunks for row in decoded_rows(chunk)]


def check_cover(chunks, rows, chunk_bytes):
    """Every row once, in order, with continuous row numbers, and no body over the limit."""
    assert rows_of(chunks) == rows
    first = 1
    for chunk in chunks:
        assert chunk.first_row == first
        assert chunk.rows == len(decoded_rows(chunk))
        assert len(chunk.body) <= chunk_bytes
        first += chunk.rows


def test_text_rows_go_as_csv_in_fewer_bytes():
    rows = [
        contact(i, Company=["Acme, Inc.", 'The "Best" Co', "Zoë & Søn", "plain"][i % 4], FirstName="Jörg")
        for i in range(2500)
    ]
    assert all(len(r) == 5 for r in rows)
    (chunk,) = list(iter_row_chunks(rows, FIELDS, "Email"))
    assert chunk.content_type == CSV_CONTENT_TYPE
    assert chunk.body.startswith(b"Email,FirstName,LastName,Country,Company\n")  # the first row's keys
    assert (chunk.rows, chunk.first_row) == (2500, 1)
    assert decoded_rows(chunk) == rows
    assert b'"Acme, Inc."' in chunk.body and b'"The ""Best"" Co"' in chunk.body
    (as_json,) = list(iter_json_chunks(rows, FIELDS, "Email"))
    assert len(chunk.body) < 0.6 * len(as_json.body)


def test_csv_chunks_respect_the_limit_and_repeat_the_header():
    rows = [row(i) for i in range(2500)]
    chunks = list(iter_row_chunks(rows, FIELDS, "Email", 4096))
    assert len(chunks) > 20
    assert {c.content_type for c in chunks} == {CSV_CONTENT_TYPE}
    check_cover(chunks, rows, 4096)
    header = chunks[0].body.split(b"\n", 1)[0]
    assert all(c.body.split(b"\n", 1)[0] == header for c in chunks)
    # Every chunk but the last is full: the next record would not have fitted.
    for c, nxt in itertools.pairwise(chunks):
        record = nxt.body.split(b"\n")[1] + b"\n"
        assert len(c.body) + len(record) > 4096


def test_one_column_rows():
    rows = [{"Email": f"user{i}@example.com"} for i in range(1500)]
    chunks = list(iter_row_chunks(rows, FIELDS, "Email", 2048))
    assert {c.content_type for c in chunks} == {CSV_CONTENT_TYPE}
    check_cover(chunks, rows, 2048)


# Each of these values could read back differently from CSV than from JSON (or Oracle does not
# say that it cannot), so the row, and every row after it, stays JSON.
NOT_PROVABLY_THE_SAME = {
    "null": None,
    "empty text": "",
    "leading space": " Acme",
    "trailing space": "Acme ",
    "tab": "Acme\t",
    "no-break space": "\u00a0Acme",
    "newline": "Acme\nEMEA",
    "carriage return": "Acme\rEMEA",
    "number": 42,
    "float": 4.5,
    "boolean": True,
    "date": dt.date(2024, 5, 6),
}


@pytest.mark.parametrize("value", NOT_PROVABLY_THE_SAME.values(), ids=NOT_PROVABLY_THE_SAME.keys())
@pytest.mark.parametrize("at", [1, 1500, 2700])
def test_a_value_csv_cannot_carry_switches_the_rest_to_json(value, at):
    rows = [row(i) for i in range(3000)]
    rows[at - 1]["Company"] = value
    chunks = list(iter_row_chunks(rows, FIELDS, "Email"))
    kinds = [c.content_type for c in chunks]
    switch_batch = (at - 1) // BATCH
    if switch_batch == 0:
        assert kinds == [JSON_CONTENT_TYPE]
    else:
        assert kinds == [CSV_CONTENT_TYPE, JSON_CONTENT_TYPE]
        assert chunks[0].rows == switch_batch * BATCH  # whole batches before it
    expected = json.loads(json.dumps(rows, default=str))  # what JSON sends (a date as ISO text)
    assert [r for c in chunks for r in decoded_rows(c)] == expected
    assert [c.first_row for c in chunks] == [1, chunks[0].rows + 1][: len(chunks)]


def test_a_row_missing_a_key_switches_to_json():
    rows = [row(i) for i in range(2500)]
    del rows[1200]["Country"]  # CSV would send it blank; JSON leaves the field out
    chunks = list(iter_row_chunks(rows, FIELDS, "Email"))
    assert [c.content_type for c in chunks] == [CSV_CONTENT_TYPE, JSON_CONTENT_TYPE]
    assert rows_of(chunks) == rows


def test_the_same_keys_in_another_order_stay_csv():
    rows = [row(i) for i in range(2500)]
    rows[1200] = dict(reversed(rows[1200].items()))
    chunks = list(iter_row_chunks(rows, FIELDS, "Email"))
    assert [c.content_type for c in chunks] == [CSV_CONTENT_TYPE]
    assert rows_of(chunks) == rows


def test_other_mappings_go_as_json():
    rows = [OrderedDict(row(i)) for i in range(10)]
    (chunk,) = list(iter_row_chunks(rows, FIELDS, "Email"))
    assert chunk.content_type == JSON_CONTENT_TYPE
    assert json.loads(chunk.body) == rows


def test_the_switch_is_for_good():
    rows = [row(i) for i in range(5000)]
    rows[1500]["Country"] = None  # batch 2; batches 3-5 are all text again
    chunks = list(iter_row_chunks(rows, FIELDS, "Email", 8192))
    kinds = [c.content_type for c in chunks]
    switch = kinds.index(JSON_CONTENT_TYPE)
    assert set(kinds[:switch]) == {CSV_CONTENT_TYPE} and set(kinds[switch:]) == {JSON_CONTENT_TYPE}
    assert chunks[switch].first_row == 1001
    check_cover(chunks, rows, 8192)


def test_a_record_too_big_for_a_chunk_is_named_as_on_the_json_path():
    # A row's JSON is always longer than its CSV record plus the header (JSON repeats every key
    # with quotes), so a record that does not fit a CSV chunk does not fit a JSON one either.
    rows = [row(i) for i in range(30)]
    rows[20]["Company"] = "x" * 1000
    with pytest.raises(EloquaInputError) as as_json:
        list(iter_json_chunks(rows, FIELDS, "Email", 1024))
    with pytest.raises(EloquaInputError) as as_rows:
        list(iter_row_chunks(rows, FIELDS, "Email", 1024))
    assert str(as_rows.value) == str(as_json.value)
    assert str(as_rows.value).startswith("row 21: is 1101 bytes as JSON, more than fits in one chunk")


# The bad-input messages are exactly those of the JSON path, whichever encoding the rows before
# the bad one would have gone in.
BAD_ROWS = {
    "unknown key": {"Email": "a@b.c", "Tags": "x"},
    "no identifier": {"FirstName": "Ann"},
    "blank identifier": {"Email": "   "},
    "nested value": {"Email": "a@b.c", "Company": {"name": "Acme"}},
    "not a number": {"Email": "a@b.c", "Company": float("nan")},
    "lone surrogate": {"Email": "a@b.c", "Company": "\ud800"},
    "not a mapping": ["a@b.c"],
}


@pytest.mark.parametrize("bad", BAD_ROWS.values(), ids=BAD_ROWS.keys())
@pytest.mark.parametrize("at", [1, 999, 1001, 2500])
def test_bad_rows_raise_what_the_json_path_raises(bad, at):
    rows = [row(i) for i in range(3000)]
    rows[at - 1] = bad
    with pytest.raises(EloquaInputError) as as_json:
        list(iter_json_chunks(rows, FIELDS, "Email"))
    with pytest.raises(EloquaInputError) as as_rows:
        list(iter_row_chunks(rows, FIELDS, "Email"))
    assert str(as_rows.value) == str(as_json.value)
    assert str(as_rows.value).startswith(f"row {at}:")


def test_a_bad_row_stops_the_upload_before_the_chunk_holding_rows_before_it():
    rows = [row(i) for i in range(3000)]
    rows[2500]["Company"] = {"nested": True}
    it = iter_row_chunks(rows, FIELDS, "Email")  # one chunk would hold every row
    with pytest.raises(EloquaInputError, match=r"^row 2501: key 'Company': nested values"):
        next(it)


# ---------------------------------------------------------------------------------------------
# Records: rows as value tuples in column order (a query's result), iter_record_chunks
# ---------------------------------------------------------------------------------------------

COLUMNS = ("Email", "FirstName", "LastName", "Country", "Company")  # the keys of row(i), in order


def as_records(rows) -> list[tuple]:
    return [tuple(r[c] for c in COLUMNS) for r in rows]


def chunk_tuples(chunks) -> list[tuple]:
    return [(c.body, c.content_type, c.rows, c.first_row) for c in chunks]


@pytest.mark.parametrize("chunk_bytes", [4096, DEFAULT_CHUNK_BYTES])
def test_records_make_the_chunks_their_rows_make(chunk_bytes):
    rows = [contact(i, Company=["Acme, Inc.", 'The "Best" Co', "Zoë & Søn", "plain"][i % 4]) for i in range(2500)]
    chunks = list(iter_record_chunks(as_records(rows), COLUMNS, FIELDS, "Email", chunk_bytes))
    assert {c.content_type for c in chunks} == {CSV_CONTENT_TYPE}
    assert chunk_tuples(chunks) == chunk_tuples(iter_row_chunks(rows, FIELDS, "Email", chunk_bytes))
    check_cover(chunks, rows, chunk_bytes)


@pytest.mark.parametrize("value", NOT_PROVABLY_THE_SAME.values(), ids=NOT_PROVABLY_THE_SAME.keys())
@pytest.mark.parametrize("at", [1, 1500])
def test_records_switch_to_json_where_their_rows_do(value, at):
    rows = [row(i) for i in range(3000)]
    rows[at - 1]["Company"] = value
    chunks = list(iter_record_chunks(as_records(rows), COLUMNS, FIELDS, "Email", 8192))
    assert JSON_CONTENT_TYPE in {c.content_type for c in chunks}
    assert chunk_tuples(chunks) == chunk_tuples(iter_row_chunks(rows, FIELDS, "Email", 8192))


@pytest.mark.parametrize("bad", ["   ", {"nested": True}, float("nan"), "\ud800"], ids=repr)
@pytest.mark.parametrize("at", [1, 1001])
def test_bad_records_raise_what_their_rows_raise(bad, at):
    rows = [row(i) for i in range(2000)]
    rows[at - 1]["Email" if bad == "   " else "Company"] = bad
    with pytest.raises(EloquaInputError) as as_rows:
        list(iter_row_chunks(rows, FIELDS, "Email"))
    with pytest.raises(EloquaInputError) as as_records_:
        list(iter_record_chunks(as_records(rows), COLUMNS, FIELDS, "Email"))
    assert str(as_records_.value) == str(as_rows.value) and str(as_rows.value).startswith(f"row {at}:")


def test_records_of_columns_that_are_not_fields_are_refused_as_their_rows_are():
    columns = (*COLUMNS, "Tags")
    records = [(*values, "x") for values in as_records([row(1)])]
    rows = [dict(zip(columns, values, strict=True)) for values in records]
    with pytest.raises(EloquaInputError) as as_rows:
        list(iter_row_chunks(rows, FIELDS, "Email"))
    with pytest.raises(EloquaInputError) as as_records_:
        list(iter_record_chunks(records, columns, FIELDS, "Email"))
    assert str(as_records_.value) == str(as_rows.value) and "'Tags'" in str(as_rows.value)
