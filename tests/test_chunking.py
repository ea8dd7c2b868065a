"""Tests of airflow_provider_eloqua.chunking: pure, no HTTP."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import types
from collections import OrderedDict
from decimal import Decimal

import pytest

from airflow_provider_eloqua import chunking
from airflow_provider_eloqua.chunking import (
    CSV_CONTENT_TYPE,
    DEFAULT_CHUNK_BYTES,
    JSON_CONTENT_TYPE,
    MAX_CHUNK_BYTES,
    MIN_CHUNK_BYTES,
    Chunk,
    check_chunk_bytes,
    check_columns,
    infer_format,
    iter_csv_chunks,
    iter_file_chunks,
    iter_json_chunks,
    iter_json_file_rows,
    iter_ndjson_rows,
)
from airflow_provider_eloqua.exceptions import EloquaError, EloquaInputError

FIELDS = ["Email", "FirstName", "LastName", "Company", "Country"]
HEADER = b"Email,FirstName,LastName,Company,Country\n"


class Trickle(io.RawIOBase):
    """A binary stream whose read() returns at most ``step`` bytes, like a pipe or a socket."""

    def __init__(self, data: bytes, step: int) -> None:
        self._buf = io.BytesIO(data)
        self._step = step
        self.sizes: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.sizes.append(size)
        if size is None or size < 0:
            raise AssertionError("the whole input was asked for: reading must stream")
        return self._buf.read(min(size, self._step))

    def readline(self, size: int = -1) -> bytes:
        self.sizes.append(size)
        return self._buf.readline(size)


def csv_rows(n: int, start: int = 0) -> list[bytes]:
    return [b"user%d@example.com,First%d,Last%d,Company %d,DE\n" % (i, i, i, i % 7) for i in range(start, start + n)]


def parse_csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))


def chunks_of(data: bytes, chunk_bytes: int = DEFAULT_CHUNK_BYTES, step: int | None = None) -> list[Chunk]:
    stream = io.BytesIO(data) if step is None else Trickle(data, step)
    return list(iter_csv_chunks(stream, FIELDS, "Email", chunk_bytes))


def csv_error(data: bytes, chunk_bytes: int = DEFAULT_CHUNK_BYTES, step: int | None = None) -> str:
    with pytest.raises(EloquaInputError) as info:
        chunks_of(data, chunk_bytes, step)
    return str(info.value)


def contact(i: int, **extra) -> dict:
    row = {"Email": f"user{i}@example.com", "FirstName": f"First{i}", "LastName": "Müller", "Country": "DE"}
    row.update(extra)
    return row


def json_error(rows, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> str:
    with pytest.raises(EloquaInputError) as info:
        list(iter_json_chunks(rows, FIELDS, "Email", chunk_bytes))
    return str(info.value)


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


# ---------------------------------------------------------------------------------------------
# CSV: output
# ---------------------------------------------------------------------------------------------


def test_csv_single_chunk_is_the_input_bytes():
    data = HEADER + b"".join(csv_rows(3))
    (chunk,) = chunks_of(data)
    assert chunk == Chunk(body=data, content_type=CSV_CONTENT_TYPE, rows=3, first_row=1)


def test_csv_last_record_without_newline():
    data = HEADER + b"".join(csv_rows(2)) + b"x@y.z,A,B,C,D"
    (chunk,) = chunks_of(data)
    assert chunk.body == data
    assert chunk.rows == 3


def test_csv_bom_is_stripped():
    data = HEADER + b"".join(csv_rows(2))
    (chunk,) = chunks_of(b"\xef\xbb\xbf" + data)
    assert chunk.body == data
    assert parse_csv(chunk.body)[0][0] == "Email"


def test_csv_crlf_kept_and_counted():
    data = HEADER.replace(b"\n", b"\r\n") + b"".join(r.replace(b"\n", b"\r\n") for r in csv_rows(4))
    (chunk,) = chunks_of(data)
    assert chunk.body == data
    assert chunk.rows == 4


def test_csv_mixed_line_endings():
    data = HEADER + b"a@b.c,1,2,3,4\r\nd@e.f,1,2,3,4\n"
    assert chunks_of(data)[0].rows == 2


def test_csv_quoted_fields_with_commas_quotes_and_newlines():
    records = [
        b'a@b.c,"Smith, John","O""Brien","Line 1\nLine 2",DE\n',
        b'"d@e.f","","x","Line 1\r\nLine 2\r\n",""\r\n',
        b'g@h.i,,,"""quoted""",\n',
    ]
    data = HEADER + b"".join(records)
    (chunk,) = chunks_of(data)
    assert chunk.body == data
    assert chunk.rows == 3
    assert parse_csv(chunk.body)[1:] == [
        ["a@b.c", "Smith, John", 'O"Brien', "Line 1\nLine 2", "DE"],
        ["d@e.f", "", "x", "Line 1\r\nLine 2\r\n", ""],
        ["g@h.i", "", "", '"quoted"', ""],
    ]


def test_csv_quoted_header():
    data = b'"Email","Company"\na@b.c,"X, Inc."\n'
    (chunk,) = chunks_of(data)
    assert chunk.body == data
    assert chunk.rows == 1


def test_csv_non_ascii_utf8_passes_through():
    data = HEADER + "zoë@example.com,Zoë,Müller,Ålesund AS,NO\n".encode()
    (chunk,) = chunks_of(data)
    assert chunk.body == data


@pytest.mark.parametrize(
    "data",
    [b"", b"\xef\xbb\xbf", b"\n", b"\r\n\r\n", b"  \n\n"],
)
def test_csv_empty_input_yields_nothing(data):
    assert chunks_of(data) == []


@pytest.mark.parametrize("data", [HEADER, HEADER.rstrip(b"\n"), HEADER + b"\n\n", HEADER.replace(b"\n", b"\r\n")])
def test_csv_header_only_yields_nothing(data):
    assert chunks_of(data) == []


def test_csv_header_only_is_still_checked():
    assert "'Phone'" in csv_error(b"Email,Phone\n")


def test_csv_trailing_blank_lines_are_ignored():
    data = HEADER + b"".join(csv_rows(2))
    (chunk,) = chunks_of(data + b"\n\r\n\n")
    assert chunk.body == data
    assert chunk.rows == 2


def test_csv_many_chunks_cover_the_input_exactly():
    records = csv_rows(500)
    data = HEADER + b"".join(records)
    chunks = chunks_of(data, 1024)
    assert len(chunks) == 26
    assert all(len(c.body) <= 1024 for c in chunks)
    assert all(c.body.startswith(HEADER) for c in chunks)
    assert all(c.content_type == CSV_CONTENT_TYPE for c in chunks)
    assert b"".join(c.body[len(HEADER) :] for c in chunks) == b"".join(records)
    assert sum(c.rows for c in chunks) == 500
    first = 1
    for c in chunks:
        assert c.first_row == first
        assert c.rows == len(parse_csv(c.body)) - 1
        first += c.rows
    # Every chunk but the last is full: the next record would not have fitted.
    for c, nxt in itertools.pairwise(chunks):
        next_record = records[nxt.first_row - 1]
        assert len(c.body) + len(next_record) > 1024


def test_csv_chunk_exactly_at_the_limit():
    # a 6-byte header and 30 records of 33 bytes make 996 bytes; the last record is padded to 1024
    header = b"Email\n"
    record = b"x" * 30 + b"@b\n"  # 33 bytes
    count = (1024 - len(header)) // len(record)  # 30
    pad = 1024 - len(header) - count * len(record)  # 28
    records = [record] * (count - 1) + [b"y" * (30 + pad) + b"@b\n"]
    data = header + b"".join(records)
    assert len(data) == 1024
    (chunk,) = list(iter_csv_chunks(io.BytesIO(data), ["Email"], "Email", 1024))
    assert len(chunk.body) == 1024
    assert chunk.rows == count
    # One more byte of data makes two chunks.
    more = data + b"z@b\n"
    chunks = list(iter_csv_chunks(io.BytesIO(more), ["Email"], "Email", 1024))
    assert [(len(c.body), c.rows, c.first_row) for c in chunks] == [(1024, count, 1), (len(header) + 4, 1, count + 1)]


def test_csv_record_filling_a_whole_chunk_alone():
    header = b"Email\n"
    big = b"a" * (1024 - len(header) - 3) + b"@b\n"
    data = header + big + b"c@d\n"
    chunks = list(iter_csv_chunks(io.BytesIO(data), ["Email"], "Email", 1024))
    assert [(len(c.body), c.rows, c.first_row) for c in chunks] == [(1024, 1, 1), (10, 1, 2)]


@pytest.mark.parametrize("step", [1, 2, 3, 5, 7, 64, 1000])
def test_csv_quoted_newlines_across_read_boundaries(step):
    records = [
        b'q%d@x.y,"multi\nline\r\n, with ""quotes"" and,\ncommas",L,"C\n",DE\n' % i if i % 3 == 0 else r
        for i, r in enumerate(csv_rows(60))
    ]
    data = HEADER + b"".join(records)
    expected = chunks_of(data, 1024)
    trickled = chunks_of(data, 1024, step=step)
    assert trickled == expected
    assert b"".join(c.body[len(HEADER) :] for c in trickled) == b"".join(records)
    assert sum(c.rows for c in trickled) == 60
    parsed = [row for c in trickled for row in parse_csv(c.body)[1:]]
    assert parsed[3] == ["q3@x.y", 'multi\nline\r\n, with "quotes" and,\ncommas', "L", "C\n", "DE"]


def test_csv_large_read_blocks(monkeypatch):
    monkeypatch.setattr(chunking, "_READ_BYTES", 100)
    records = [b'"a%d@b.c","x\n%s",y,z,w\n' % (i, b"q" * (i % 150)) for i in range(300)]
    data = HEADER + b"".join(records)
    chunks = chunks_of(data, 2048)
    assert b"".join(c.body[len(HEADER) :] for c in chunks) == b"".join(records)
    assert [c.first_row for c in chunks] == [1] + [sum(c.rows for c in chunks[:i]) + 1 for i in range(1, len(chunks))]


def test_csv_reads_stream_in_bounded_blocks():
    data = HEADER + b"".join(csv_rows(2000))
    stream = Trickle(data, 1 << 30)
    assert sum(c.rows for c in iter_csv_chunks(stream, FIELDS, "Email", 4096)) == 2000
    assert stream.sizes and max(stream.sizes) <= chunking._READ_BYTES


def test_csv_is_consumed_lazily():
    data = HEADER + b"".join(csv_rows(50_000))  # ~2.2 MB
    stream = io.BytesIO(data)
    it = iter_csv_chunks(stream, FIELDS, "Email", 4096)
    first = next(it)
    assert first.first_row == 1
    assert stream.tell() <= 2 * chunking._READ_BYTES < len(data)


# ---------------------------------------------------------------------------------------------
# CSV: errors
# ---------------------------------------------------------------------------------------------


def test_csv_empty_header():
    assert csv_error(b"\na@b.c\n") == "the CSV header (first line) is empty: it must name the columns"


def test_csv_duplicate_header():
    assert csv_error(b"Email,Country,Email\n") == "the CSV header names these columns more than once: 'Email'"


def test_csv_header_without_identifier():
    assert csv_error(b"FirstName,Country\nA,B\n") == (
        "the CSV header lacks the identifier column 'Email' (columns: 'FirstName', 'Country')"
    )


def test_csv_header_with_unknown_columns():
    text = csv_error(b"Email,Phone,Country,Fax\n")
    assert text.startswith("the CSV header has columns that are not fields of the import definition: 'Phone', 'Fax'")


def test_csv_bom_is_not_part_of_the_first_name():
    (chunk,) = chunks_of(b"\xef\xbb\xbfEmail\na@b.c\n")
    assert chunk.body == b"Email\na@b.c\n"


def test_csv_header_not_utf8():
    assert csv_error(b"Email,Pr\xe9nom\n") == (
        "the CSV header is not valid UTF-8 (byte offset 8 of the input: invalid continuation byte)"
    )


def test_csv_non_utf8_row_names_row_and_offset():
    prefix = HEADER + b"".join(csv_rows(3))
    data = prefix + b"bad@x.y,Ren\xe9,L,C,FR\n" + b"".join(csv_rows(2))
    assert csv_error(data) == (
        f"CSV row 4 is not valid UTF-8 (byte offset {len(prefix) + 11} of the input: invalid continuation byte); "
        "save the file as UTF-8"
    )


def test_csv_non_utf8_offset_counts_bom_and_quoted_newlines():
    prefix = b"\xef\xbb\xbf" + HEADER + b'a@b.c,"x\ny",L,C,D\n'
    data = prefix + b"b@b.c,\xff,L,C,D\n"
    assert f"CSV row 2 is not valid UTF-8 (byte offset {len(prefix) + 6} " in csv_error(data)


def test_csv_unbalanced_quote_at_eof():
    data = HEADER + b"".join(csv_rows(2)) + b'c@d.e,"open,L,C,D\n' + b"".join(csv_rows(3))
    assert csv_error(data) == (
        "CSV row 3: a quoted field is never closed (unbalanced double quote at the end of the input)"
    )


@pytest.mark.parametrize(
    ("record", "got"), [(b"a@b.c,1,2,3\n", 4), (b"a@b.c,1,2,3,4,5\n", 6), (b'a@b.c,"1,2",3,4,5,"6"\n', 6)]
)
def test_csv_ragged_row(record, got):
    data = HEADER + b"".join(csv_rows(6)) + record + b"".join(csv_rows(2))
    assert (
        csv_error(data)
        == f"CSV row 7 has {got} fields; the header has 5 columns (a blank line counts as a row with 1 field)"
    )


def test_csv_blank_line_in_the_middle_is_a_ragged_row():
    data = HEADER + b"".join(csv_rows(2)) + b"\n" + b"".join(csv_rows(2))
    assert csv_error(data).startswith("CSV row 3 has 1 field; the header has 5 columns")


def test_csv_blank_line_with_one_column():
    data = b"Email\na@b.c\n\nc@d.e\n"
    with pytest.raises(EloquaInputError, match=r"^CSV row 2 is blank$"):
        list(iter_csv_chunks(io.BytesIO(data), ["Email"], "Email"))
    # A quoted empty value is not a blank line, and a quoted blank line is data.
    ok = b'Email\n""\n"\n\n"\n'
    assert [c.rows for c in iter_csv_chunks(io.BytesIO(ok), ["Email"], "Email")] == [2]


@pytest.mark.parametrize("record", [b'a@b.c,Jo"hn,L,C,D\n', b'a@b.c,"John"x,L,C,D\n', b'a@b.c,"John" ,L,C,D\n'])
def test_csv_misplaced_quote(record):
    data = HEADER + b"".join(csv_rows(4)) + record
    assert csv_error(data).startswith("CSV row 5: misplaced double quote;")


def test_csv_bare_carriage_return():
    data = HEADER + b"".join(csv_rows(1)) + b"a@b.c,x\ry,L,C,D\n"
    assert csv_error(data).startswith("CSV row 2: carriage return (\\r) outside quotes that does not end a line")


def test_csv_record_larger_than_chunk_names_row_and_limit():
    data = HEADER + b"".join(csv_rows(3)) + b"big@x.y," + b"a" * 2000 + b",L,C,D\n"
    assert csv_error(data, 1024) == (
        f"CSV row 4 is larger than the {1024 - len(HEADER)} bytes a chunk has for data "
        "(chunk_bytes=1024 minus the header)"
    )


def test_csv_record_larger_than_chunk_with_trickled_input():
    data = HEADER + b"big@x.y," + b"a" * 5000 + b",L,C,D\n"
    assert csv_error(data, 1024, step=100).startswith("CSV row 1 is larger than the")


def test_csv_unclosed_quote_reported_as_too_large_when_it_never_ends():
    data = HEADER + b'a@b.c,"' + b"x\n" * 5000
    assert csv_error(data, 1024, step=512).endswith("it may have a quoted field that is never closed")


def test_csv_error_raised_before_the_chunk_holding_the_bad_row():
    data = HEADER + b"".join(csv_rows(99)) + b"bad@x.y,only,four,fields\n" + b"".join(csv_rows(100, 100))
    yielded = []
    with pytest.raises(EloquaInputError, match=r"^CSV row 100 has 4 fields"):
        for chunk in iter_csv_chunks(io.BytesIO(data), FIELDS, "Email", 1024):
            yielded.append(chunk)
    assert yielded, "chunks before the bad row are yielded"
    assert all(c.first_row + c.rows - 1 < 100 for c in yielded)
    assert sum(c.rows for c in yielded) < 99


def test_csv_header_checked_before_the_first_chunk():
    it = iter_csv_chunks(io.BytesIO(b"Email,Phone\n" + b"a@b.c,1\n" * 10), FIELDS, "Email", 1024)
    with pytest.raises(EloquaInputError, match=r"'Phone'"):
        next(it)


def test_csv_rejects_text_stream():
    with pytest.raises(EloquaInputError, match=r"binary mode \('rb'\)"):
        list(iter_csv_chunks(io.StringIO("Email\na\n"), FIELDS, "Email"))


def test_csv_header_too_small_chunk():
    header = ",".join(f"F{i:04d}" for i in range(200)).encode() + b"\n"
    fields = [f"F{i:04d}" for i in range(200)]
    with pytest.raises(
        EloquaInputError, match=r"chunk_bytes=1024 leaves no room for data after the 1200-byte CSV header"
    ):
        list(iter_csv_chunks(io.BytesIO(header + b"x\n"), fields, "F0000", 1024))


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
    row = {
        "Email": "a@b.c",
        "FirstName": dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
        "LastName": dt.date(2024, 5, 6),
        "Company": Decimal("12.50"),
        "Country": True,
    }
    (chunk,) = list(iter_json_chunks([row], FIELDS, "Email"))
    assert json.loads(chunk.body) == [
        {
            "Email": "a@b.c",
            "FirstName": "2024-05-06T07:08:09+00:00",
            "LastName": "2024-05-06",
            "Company": "12.50",
            "Country": True,
        }
    ]


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
    assert len(taken) <= 2 * chunking._JSON_BATCH


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


# ---------------------------------------------------------------------------------------------
# JSON and NDJSON files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", [1, 3, 17, 4096])
@pytest.mark.parametrize("indent", [None, 2])
def test_json_file_rows_streamed(step, indent):
    rows = [contact(i, Company=f'Ålesund {i} "q" [x] {{y}}') for i in range(300)]
    stream = Trickle(json.dumps(rows, indent=indent, ensure_ascii=False).encode(), step)
    assert list(iter_json_file_rows(stream)) == rows
    assert all(size is not None and 0 < size <= chunking._READ_BYTES for size in stream.sizes)


def test_json_file_rows_numbers_at_buffer_end():
    stream = Trickle(b'[{"Email": 12345678901234567890}, {"Email": 1.5e10}]', 5)
    assert list(iter_json_file_rows(stream)) == [{"Email": 12345678901234567890}, {"Email": 1.5e10}]


@pytest.mark.parametrize("data", [b"", b"  \n", b"[]", b" [ ] \n", b"\xef\xbb\xbf[]"])
def test_json_file_without_rows(data):
    assert list(iter_json_file_rows(io.BytesIO(data))) == []


def test_json_file_bom():
    assert list(iter_json_file_rows(io.BytesIO(b'\xef\xbb\xbf[{"Email":"a"}]'))) == [{"Email": "a"}]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"Email": "a"}', "a JSON input file must hold one array of objects"),
        (b'[{"Email": "a"}, 5]', "JSON row 2 is not an object (got int)"),
        (b'[{"Email": "a"}, {"Email": }]', "JSON row 2 is not valid JSON: Expecting value"),
        (b'[{"Email": "a"}, {"Email": "b"', "JSON row 2 is not valid JSON"),
        (b'[{"Email": "a"},', "the JSON input ends inside its array (after row 1)"),
        (b'[{"Email": "a"} {"Email": "b"}]', "JSON row 1: expected ',' or ']'"),
        (b'[{"Email": "a"}] x', "unexpected data after the JSON array"),
        (b'[{"Email": "a"},]', "JSON row 2 is not valid JSON"),
        (b'[{"Email": "a"}, {"Email": "\xff"}]', "JSON row 2 is not valid UTF-8"),
    ],
)
def test_json_file_errors(data, message):
    with pytest.raises(EloquaInputError) as info:
        list(iter_json_file_rows(Trickle(data, 4)))
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("step", [7, 1000, 1 << 20])
def test_json_file_errors_deep_in_the_file_name_the_row(step):
    rows = [
        json.dumps(contact(i, Company="Caf\u00e9 {x}" if i % 3 else "Acme"), ensure_ascii=False) for i in range(3000)
    ]
    good = "[" + ",\n".join(rows) + "]"
    assert len(list(iter_json_file_rows(Trickle(good.encode(), step)))) == 3000
    broken = rows.copy()
    broken[2345] = broken[2345].replace('"Country"', "Country")
    with pytest.raises(EloquaInputError, match=r"^JSON row 2346 is not valid JSON: Expecting property name"):
        list(iter_json_file_rows(Trickle(("[" + ",\n".join(broken) + "]").encode(), step)))
    data = ("[" + ",\n".join(rows) + "]").encode()
    at = data.index(b"user2500@")
    data = data[:at] + b"\xff" + data[at + 1 :]
    with pytest.raises(EloquaInputError) as info:
        list(iter_json_file_rows(Trickle(data, step)))
    assert (
        str(info.value) == f"JSON row 2501 is not valid UTF-8 (byte offset {at} of the input); save the file as UTF-8"
    )


def test_ndjson_rows():
    rows = [contact(i) for i in range(50)]
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in rows]
    data = b"\xef\xbb\xbf" + b"\n".join(lines[:10]) + b"\n\n  \r\n" + b"\r\n".join(lines[10:])
    assert list(iter_ndjson_rows(io.BytesIO(data))) == rows


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"Email": "a"}\n\n{"Email": \n', "NDJSON row 2 (line 3) is not valid JSON: Expecting value"),
        (b'{"Email": "a"}\n[1]\n', "NDJSON row 2 (line 2) is not an object (got list)"),
        (b'{"Email": "\xe9"}\n', "NDJSON row 1 (line 1) is not valid UTF-8"),
    ],
)
def test_ndjson_errors(data, message):
    with pytest.raises(EloquaInputError) as info:
        list(iter_ndjson_rows(io.BytesIO(data)))
    assert str(info.value).startswith(message)


# ---------------------------------------------------------------------------------------------
# iter_file_chunks
# ---------------------------------------------------------------------------------------------


def test_file_chunks_dispatch():
    rows = [contact(i) for i in range(20)]
    csv_data = HEADER + b"".join(csv_rows(20))
    (c,) = list(iter_file_chunks(io.BytesIO(csv_data), "csv", FIELDS, "Email", 4096))
    assert (c.content_type, c.rows, c.body) == (CSV_CONTENT_TYPE, 20, csv_data)
    (j,) = list(iter_file_chunks(io.BytesIO(json.dumps(rows).encode()), "json", FIELDS, "Email", 4096))
    assert (j.content_type, j.rows, json.loads(j.body)) == (JSON_CONTENT_TYPE, 20, rows)
    nd = b"\n".join(json.dumps(r).encode() for r in rows)
    chunks = list(iter_file_chunks(io.BytesIO(nd), "ndjson", FIELDS, "Email", 1024))
    assert [r for ch in chunks for r in json.loads(ch.body)] == rows
    assert all(len(ch.body) <= 1024 for ch in chunks)


def test_file_chunks_json_rows_validated():
    data = b'[{"Email": "a"}, {"Email": "b", "Tags": [1]}]'
    with pytest.raises(EloquaInputError, match=r"^row 2: keys that are not fields of the import definition: 'Tags'"):
        list(iter_file_chunks(io.BytesIO(data), "json", FIELDS, "Email", 4096))


def test_file_chunks_bad_format():
    with pytest.raises(EloquaInputError, match=r"format='xml' is not supported"):
        iter_file_chunks(io.BytesIO(b""), "xml", FIELDS, "Email", 4096)


# ---------------------------------------------------------------------------------------------
# randomised round trips
# ---------------------------------------------------------------------------------------------


def _random_field(rnd) -> str:
    kind = rnd.random()
    if kind < 0.5:
        return "".join(rnd.choice("abcXYZ019 .-@ßé") for _ in range(rnd.randint(0, 12)))
    return "".join(rnd.choice('ab,"\n\r ü') for _ in range(rnd.randint(0, 12)))


def _encode_field(value: str, rnd) -> str:
    if any(c in value for c in ',"\n\r') or rnd.random() < 0.2:
        return '"' + value.replace('"', '""') + '"'
    return value


@pytest.mark.parametrize("seed", range(12))
def test_csv_random_round_trip(seed):
    import random

    rnd = random.Random(seed)
    cols = ["Email", "FirstName", "Company"]
    eol = "\r\n" if seed % 2 else "\n"
    values = [[f"u{i}@x.y", _random_field(rnd), _random_field(rnd)] for i in range(rnd.randint(50, 400))]
    text = ",".join(cols) + eol + "".join(",".join(_encode_field(v, rnd) for v in row) + eol for row in values)
    if seed % 3 == 0:
        text += eol * 2  # trailing blank lines are dropped
    data = text.encode()
    chunk_bytes = rnd.choice([1024, 1500, 4096])
    step = rnd.choice([1, 7, 100, 1 << 20])
    chunks = list(iter_csv_chunks(Trickle(data, step), cols, "Email", chunk_bytes))
    header = (",".join(cols) + eol).encode()
    assert all(len(c.body) <= chunk_bytes and c.body.startswith(header) for c in chunks)
    assert header + b"".join(c.body[len(header) :] for c in chunks) == data.rstrip(b"\r\n") + eol.encode()
    parsed = [row for c in chunks for row in parse_csv(c.body)[1:]]
    assert parsed == values
    assert [c.first_row for c in chunks] == list(itertools.accumulate([1] + [c.rows for c in chunks[:-1]]))


@pytest.mark.parametrize("step", [1, 2, 3, 50])
def test_csv_blank_lines_across_reads(step):
    data = HEADER + b"".join(csv_rows(3)) + b"\n\r\n"
    assert [c.rows for c in chunks_of(data, step=step)] == [3]
    bad = HEADER + b"".join(csv_rows(3)) + b"\n\n" + b"".join(csv_rows(1))
    assert csv_error(bad, step=step).startswith("CSV row 4 has 1 field")
