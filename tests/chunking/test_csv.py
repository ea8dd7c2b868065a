"""CSV input: airflow_provider_eloqua.chunking.csv (pure, no HTTP)."""

from __future__ import annotations

import io
import itertools

import pytest

from airflow_provider_eloqua.chunking import (
    CSV_CONTENT_TYPE,
    Chunk,
    _buffer,
    iter_csv_chunks,
    iter_json_chunks,
)
from airflow_provider_eloqua.exceptions import EloquaInputError
from tests.chunking.helpers import (
    FIELDS,
    HEADER,
    Trickle,
    chunks_of,
    csv_error,
    csv_rows,
    parse_csv,
)

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
    monkeypatch.setattr(_buffer, "READ_BYTES", 100)
    records = [b'"a%d@b.c","x\n%s",y,z,w\n' % (i, b"q" * (i % 150)) for i in range(300)]
    data = HEADER + b"".join(records)
    chunks = chunks_of(data, 2048)
    assert b"".join(c.body[len(HEADER) :] for c in chunks) == b"".join(records)
    assert [c.first_row for c in chunks] == [1] + [sum(c.rows for c in chunks[:i]) + 1 for i in range(1, len(chunks))]


def test_csv_reads_stream_in_bounded_blocks():
    data = HEADER + b"".join(csv_rows(2000))
    stream = Trickle(data, 1 << 30)
    assert sum(c.rows for c in iter_csv_chunks(stream, FIELDS, "Email", 4096)) == 2000
    assert stream.sizes and max(stream.sizes) <= _buffer.READ_BYTES


def test_csv_is_consumed_lazily():
    data = HEADER + b"".join(csv_rows(50_000))  # ~2.2 MB
    stream = io.BytesIO(data)
    it = iter_csv_chunks(stream, FIELDS, "Email", 4096)
    first = next(it)
    assert first.first_row == 1
    assert stream.tell() <= 2 * _buffer.READ_BYTES < len(data)


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
    # A quoted value holding a blank line is data; a quoted empty (or blank) value is a blank identifier.
    ok = b'Email\n"a\n\nb"\nc@d.e\n'
    assert [c.rows for c in iter_csv_chunks(io.BytesIO(ok), ["Email"], "Email")] == [2]
    for blank in (b'""', b'"\n\n"', b'"  "'):
        with pytest.raises(EloquaInputError, match=r"^CSV row 2: the identifier 'Email' is empty$"):
            list(iter_csv_chunks(io.BytesIO(b"Email\na@b.c\n" + blank + b"\n"), ["Email"], "Email"))


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


@pytest.mark.parametrize(
    ("header", "record"),
    [
        (b"Email,First,Last\n", b",F,L\n"),
        (b"Email,First,Last\n", b'"",F,L\n'),
        (b"Email,First,Last\n", b"   ,F,L\n"),
        (b"First,Email,Last\n", b"F,,L\n"),
        (b"First,Email,Last\n", b'F," ",L\n'),
        (b"First,Last,Email\n", b"F,L,\n"),
        (b"First,Last,Email\n", b"F,L,\r\n"),
        (b"First,Last,Email\n", b'F,L,""'),
    ],
    ids=[
        "first-empty",
        "first-quoted-empty",
        "first-spaces",
        "middle-empty",
        "middle-quoted-space",
        "last-empty",
        "last-empty-crlf",
        "last-quoted-empty-at-eof",
    ],
)
def test_csv_blank_identifier_is_refused_like_a_json_row(header, record):
    """CSV and JSON rows agree: a blank identifier (empty, quoted empty, whitespace) names its row."""
    fields = ["Email", "First", "Last"]
    good = b"".join(header.replace(b"Email", b"x@y.z").replace(b"First", b"F").replace(b"Last", b"L") for _ in range(3))
    data = header + good + record
    with pytest.raises(EloquaInputError) as csv_info:
        list(iter_csv_chunks(io.BytesIO(data), fields, "Email"))
    assert str(csv_info.value) == "CSV row 4: the identifier 'Email' is empty"
    rows = [{"Email": "x@y.z", "First": "F", "Last": "L"}] * 3 + [{"Email": "  ", "First": "F", "Last": "L"}]
    with pytest.raises(EloquaInputError) as json_info:
        list(iter_json_chunks(rows, fields, "Email"))
    assert str(json_info.value) == "row 4: the identifier 'Email' is empty"


def test_csv_fields_that_only_look_blank_pass():
    data = b'First,Email,Last\nF, a@b.c ,L\n,x@y.z,\n"","q,r",\n'
    assert [c.rows for c in iter_csv_chunks(io.BytesIO(data), ["Email", "First", "Last"], "Email")] == [3]
