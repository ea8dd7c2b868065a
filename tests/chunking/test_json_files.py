"""JSON and NDJSON files: airflow_provider_eloqua.chunking.json_files (pure, no HTTP)."""

from __future__ import annotations

import io
import json

import pytest

from airflow_provider_eloqua.chunking import (
    _buffer,
    iter_json_file_rows,
    iter_ndjson_rows,
)
from airflow_provider_eloqua.exceptions import EloquaInputError
from tests.chunking.helpers import (
    Trickle,
    contact,
)

# ---------------------------------------------------------------------------------------------
# JSON and NDJSON files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", [1, 3, 17, 4096])
@pytest.mark.parametrize("indent", [None, 2])
def test_json_file_rows_streamed(step, indent):
    rows = [contact(i, Company=f'Ålesund {i} "q" [x] {{y}}') for i in range(300)]
    stream = Trickle(json.dumps(rows, indent=indent, ensure_ascii=False).encode(), step)
    assert list(iter_json_file_rows(stream)) == rows
    assert all(size is not None and 0 < size <= _buffer.READ_BYTES for size in stream.sizes)


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


def test_a_row_larger_than_a_data_post_is_too_large_in_json_files_as_in_ndjson():
    """A 40 MB row can never be sent (at most 32 MB a POST): a JSON array file says so, as NDJSON
    does, instead of "not valid JSON" (the parser gives up reading the row at the POST limit)."""
    huge = {"Email": "a@example.com", "Note": "x" * (40 * 1024 * 1024)}
    rows = [{"Email": "first@example.com"}, huge, {"Email": "last@example.com"}]
    array = io.BytesIO(json.dumps(rows).encode())
    ndjson = io.BytesIO("\n".join(json.dumps(row) for row in rows).encode())

    with pytest.raises(EloquaInputError, match=r"^JSON row 2 is larger than 32000000 bytes"):
        list(iter_json_file_rows(array))
    with pytest.raises(EloquaInputError, match=r"^NDJSON row 2 \(line 2\) is larger than 32000000 bytes"):
        list(iter_ndjson_rows(ndjson))


def test_a_bad_row_before_much_more_data_is_still_not_valid_json():
    """Past the POST limit, only a row that is still open is "too large"; a syntax error is named."""
    bad = '{"Email": "a@example.com" "Note": 1}'
    good = json.dumps({"Email": "b@example.com", "Note": "y" * (1024 * 1024)})
    data = ("[" + bad + "," + ",".join([good] * 40) + "]").encode()

    with pytest.raises(EloquaInputError, match=r"^JSON row 1 is not valid JSON: Expecting ',' delimiter"):
        list(iter_json_file_rows(io.BytesIO(data)))


@pytest.mark.parametrize("step", [1, 5, 333, 1 << 20])
def test_ndjson_rows_streamed_across_reads(step):
    rows = [contact(i, Company=f"Zoë {i}") for i in range(3000)]
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in rows]
    data = b"\xef\xbb\xbf" + b"\n".join(lines[:1500]) + b"\n\n \t\n" + b"\r\n".join(lines[1500:])  # no final newline
    assert list(iter_ndjson_rows(Trickle(data, step))) == rows


@pytest.mark.parametrize("step", [7, 4096, 1 << 20])
def test_ndjson_errors_deep_in_the_file_name_the_row_and_line(step):
    lines = [json.dumps(contact(i)).encode() for i in range(3000)]
    lines.insert(100, b"")  # a blank line: rows and lines count apart from here on
    bad = [*lines[:2600], b'{"Email": "x",}', *lines[2600:]]
    with pytest.raises(EloquaInputError) as info:
        list(iter_ndjson_rows(Trickle(b"\n".join(bad), step)))
    assert str(info.value).startswith("NDJSON row 2600 (line 2601) is not valid JSON")


def test_ndjson_reads_what_json_reads():
    # msgspec refuses NaN and lone surrogates; json reads them, and so does the NDJSON reader
    # (the row checks then refuse NaN by name, and a lone surrogate when it is encoded).
    data = b'{"Email": "a", "Score": NaN}\n{"Email": "\\ud800"}\n'
    rows = list(iter_ndjson_rows(io.BytesIO(data)))
    assert rows[0]["Score"] != rows[0]["Score"] and rows[1] == {"Email": "\ud800"}


def test_ndjson_line_longer_than_a_chunk(monkeypatch):
    from airflow_provider_eloqua.chunking import json_files

    monkeypatch.setattr(json_files, "MAX_CHUNK_BYTES", 100)
    ok = json.dumps({"Email": "a@b.c"}).encode()
    for data in (ok + b"\n" + b'{"Email": "' + b"x" * 200 + b'"}\n', ok + b"\n" + b"x" * 300):
        with pytest.raises(EloquaInputError, match=r"^NDJSON row 2 \(line 2\) is larger than 100 bytes"):
            list(iter_ndjson_rows(Trickle(data, 64)))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (b'{"Email": "x"} {"Email": "y"}', "NDJSON row 201 (line 201) is not valid JSON: Extra data"),
        (b'{"Email": "x",\n"FirstName": "y"}', "NDJSON row 201 (line 201) is not valid JSON: Expecting property name"),
        # Together they would come out as the right number of objects if the lines were joined
        # into one array: two objects on line 201, one object over lines 202-203.
        (
            b'{"Email": "x"},{"Email": "y"}\n{"Email": "z"\n"FirstName": "w"}',
            "NDJSON row 201 (line 201) is not valid JSON: Extra data",
        ),
    ],
    ids=["two objects on a line", "an object over two lines", "both, cancelling out"],
)
def test_ndjson_one_object_a_line_even_where_the_lines_would_parse_as_an_array(bad, message):
    # Every line is one object on its own, as json.loads of the line reads it; a bad line is named.
    lines = [json.dumps(contact(i)).encode() for i in range(400)]
    data = b"\n".join([*lines[:200], bad, *lines[200:]])
    with pytest.raises(EloquaInputError) as info:
        list(iter_ndjson_rows(io.BytesIO(data)))
    assert str(info.value).startswith(message)
