"""Rows of JSON array and NDJSON files, streamed one object at a time in constant memory.

Whole blocks of rows are parsed with one ``msgspec`` call (about five times faster than
``json``); where ``msgspec`` refuses a block, ``json`` parses it again, so what is accepted,
what each row becomes and every error message are exactly ``json``'s. (``msgspec`` is stricter,
never looser: it refuses NaN, lone surrogates and out-of-range numbers, which ``json`` reads.)
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from itertools import chain, compress
from typing import Any, BinaryIO

import msgspec

from airflow_provider_eloqua.chunking._buffer import BOM, BinaryReader
from airflow_provider_eloqua.content import MAX_CHUNK_BYTES
from airflow_provider_eloqua.exceptions import EloquaInputError

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")
_msgspec_decode = msgspec.json.Decoder().decode
#: Bytes read at a time. Smaller than a CSV read block: a block's rows are held as dicts (about
#: six times the bytes) until the chunker has placed them.
_READ_BYTES = 256 * 1024


def _decode_array(text: str | bytes) -> Any:
    """``json``'s reading of a JSON array, by ``msgspec`` where it agrees to read it."""
    try:
        return _msgspec_decode(text)
    except (msgspec.DecodeError, UnicodeError):
        return _DECODER.decode(text if isinstance(text, str) else text.decode("utf-8"))


def _not_an_object(row: int, value: Any) -> EloquaInputError:
    return EloquaInputError(
        f"JSON row {row} is not an object (got {type(value).__name__}): each array element must be an object "
        "of field name to value"
    )


def _ran_out(exc: json.JSONDecodeError, end: int) -> bool:
    """True when the decoder failed only because the row goes on past ``end`` (the text read so
    far): inside a string that is still open, or at the very end of the text."""
    return exc.msg.startswith("Unterminated string") or exc.pos >= end - 16


def iter_json_file_rows(stream: BinaryIO) -> Iterator[dict]:
    """Stream the objects of a UTF-8 JSON file holding one array of objects, one at a time.

    Reads a block at a time into a sliding text buffer and parses the whole rows it holds with
    one decoder call (or, where that cannot tell where rows end, one ``JSONDecoder.raw_decode``
    per row), so memory stays about one read block of text and its rows, never the whole file.
    The rows are handed over a parsed block at a time, flattened at C speed.
    """
    return chain.from_iterable(_json_file_batches(stream))


def _json_file_batches(stream: BinaryIO) -> Iterator[list[dict]]:
    reader = BinaryReader(stream)
    pending = b""  # the start of a UTF-8 sequence cut by the end of the last block
    buf = ""
    pos = 0
    base = 0  # input character index of buf[0]
    eof = False
    bad: tuple[int, int] | None = None  # (character index, byte offset) of the first invalid byte
    row = 0
    bulk = True  # try parsing all whole rows in the buffer at once

    def more() -> None:
        nonlocal buf, pos, base, eof, bad, bulk, pending
        if eof:
            return
        bulk = True
        block = reader.block(_READ_BYTES)
        eof = not block
        data = pending + block if pending else block
        try:
            text, used = codecs.utf_8_decode(data, "strict", eof)
        except UnicodeDecodeError as exc:
            # Invalid bytes become lone surrogates, so the rows before them still parse and the
            # row holding the first one can be named.
            text, used = codecs.utf_8_decode(data, "surrogateescape", eof)
            if bad is None:
                chars = len(codecs.utf_8_decode(data[: exc.start], "surrogateescape")[0])
                bad = (base + len(buf) + chars, reader.offset - len(data) + exc.start)
        pending = data[used:]
        if pos:
            base += pos
            buf = buf[pos:]
            pos = 0
        buf += text

    def check_utf8(end: int) -> None:
        """Raise if the first invalid byte lies before ``buf[end]``."""
        if bad is not None and bad[0] < base + end:
            raise EloquaInputError(
                f"JSON row {max(row, 1)} is not valid UTF-8 (byte offset {bad[1]} of the input); save the file as UTF-8"
            )

    def skip_ws() -> bool:
        """Move past whitespace; False at the end of the input."""
        nonlocal pos
        while True:
            blank = _WS.match(buf, pos)
            assert blank is not None  # the pattern matches the empty string too
            pos = blank.end()
            if pos < len(buf):
                return True
            if eof:
                return False
            more()

    more()
    if buf.startswith("\ufeff"):
        pos = 1
    if not skip_ws():
        return  # empty file: no rows
    if buf[pos] != "[":
        check_utf8(pos + 1)
        raise EloquaInputError(
            "a JSON input file must hold one array of objects ([{...}, {...}]); "
            f"it starts with {buf[pos : pos + 20]!r} (for one object a line use the ndjson format)"
        )
    pos += 1
    expect_value = True
    first = True
    while True:
        if not skip_ws():
            raise EloquaInputError(f"the JSON input ends inside its array (after row {row}): the file is truncated")
        ch = buf[pos]
        if ch == "]" and (first or not expect_value):
            pos += 1
            break
        if not expect_value:
            if ch != ",":
                check_utf8(pos + 1)
                raise EloquaInputError(f"JSON row {row}: expected ',' or ']' after it, found {buf[pos : pos + 20]!r}")
            pos += 1
            expect_value = True
            continue
        if bulk:
            # Fast path: parse every whole row left in the buffer with one call, taking the text up
            # to the buffer's last "}" as the inside of an array. If that "}" is not the end of a
            # row (it is inside a string, or the rows are bad) the text cannot parse as an array,
            # and rows are parsed one at a time until more input is read.
            cut = buf.rfind("}", pos) + 1
            if cut and (bad is None or bad[0] >= base + cut):
                try:
                    values = _decode_array("[" + buf[pos:cut] + "]")
                except json.JSONDecodeError:
                    bulk = False
                else:
                    if set(map(type, values)) != {dict}:
                        for value in values:
                            row += 1
                            if not isinstance(value, dict):
                                raise _not_an_object(row, value)
                    row += len(values)
                    yield values
                    pos = cut
                    expect_value = False
                    first = False
                    continue
            else:
                bulk = False
        row += 1
        while True:
            try:
                value, end = _DECODER.raw_decode(buf, pos)
                # A value that ends the buffer may be cut short (a number): read on to be sure.
                if end < len(buf) or eof:
                    break
            except json.JSONDecodeError as exc:
                # Maybe only the rest of the row has not been read yet.
                if eof or len(buf) - pos > MAX_CHUNK_BYTES:
                    check_utf8(len(buf))
                    if not eof and _ran_out(exc, len(buf)):
                        raise EloquaInputError(
                            f"JSON row {row} is larger than {MAX_CHUNK_BYTES} bytes, the most one data POST may carry"
                        ) from None
                    raise EloquaInputError(f"JSON row {row} is not valid JSON: {exc.msg}") from None
            more()
        check_utf8(end)
        if not isinstance(value, dict):
            raise _not_an_object(row, value)
        pos = end
        yield [value]
        expect_value = False
        first = False
    if skip_ws():
        check_utf8(pos + 1)
        raise EloquaInputError(f"unexpected data after the JSON array: {buf[pos : pos + 20]!r}")


def iter_ndjson_rows(stream: BinaryIO) -> Iterator[dict]:
    """Stream the objects of a UTF-8 NDJSON (JSON Lines) file: one object a line, blank lines skipped.

    Reads a block at a time and parses each of its whole lines with ``msgspec``; a block that
    ``msgspec`` refuses is parsed again line by line with ``json``, which names the first bad line.
    No line may be longer than ``MAX_CHUNK_BYTES``. The rows are handed over a block at a time,
    flattened at C speed.
    """
    if getattr(stream, "read", None) is None:
        raise EloquaInputError(f"stream must be a binary file object, got {type(stream).__name__}")
    return chain.from_iterable(_ndjson_batches(BinaryReader(stream)))


def _ndjson_batches(reader: BinaryReader) -> Iterator[list[dict]]:
    counts = [0, 0]  # rows and lines so far
    tail: list[bytes] = []  # the start of a line cut by the end of the last block(s)
    tail_len = 0
    while True:
        block = reader.block(_READ_BYTES)
        if not block:
            data = b"".join(tail)
            if data:
                yield _ndjson_lines(data.split(b"\n"), counts)
            return
        cut = block.rfind(b"\n")
        if cut < 0:
            tail.append(block)
            tail_len += len(block)
            if tail_len > MAX_CHUNK_BYTES:
                row, line_no = counts[0] + 1, counts[1] + 1
                raise EloquaInputError(f"NDJSON row {row} (line {line_no}) is larger than {MAX_CHUNK_BYTES} bytes")
            continue
        data = b"".join([*tail, block[:cut]]) if tail else block[:cut]
        rest = block[cut + 1 :]
        tail, tail_len = ([rest], len(rest)) if rest else ([], 0)
        yield _ndjson_lines(data.split(b"\n"), counts)


def _ndjson_lines(lines: list[bytes], counts: list[int]) -> list[dict]:
    """The objects of whole lines (without their newlines); ``counts`` moves past them."""
    if not counts[1] and lines[0].startswith(BOM):
        lines[0] = lines[0][len(BOM) :]
    filled = list(compress(lines, map(bytes.strip, lines)))
    values = None
    if filled and max(map(len, filled)) <= MAX_CHUNK_BYTES:
        try:
            # Each line decoded on its own (as fast as one array of them, measured): a line holding
            # two objects, or an object spread over lines, is refused here as ``json`` refuses it.
            # Joined into one array, the two can cancel out and pass as the right number of rows.
            values = list(map(_msgspec_decode, filled))
        except (msgspec.DecodeError, UnicodeError):
            values = None
    if values is not None and set(map(type, values)) == {dict}:
        counts[0] += len(values)
        counts[1] += len(lines)
        return values
    # Line by line, to accept exactly what ``json`` accepts and name the first bad line.
    out = []
    row, line_no = counts
    for line in lines:
        line_no += 1
        if not line.strip():
            continue
        row += 1
        if len(line) > MAX_CHUNK_BYTES:
            raise EloquaInputError(f"NDJSON row {row} (line {line_no}) is larger than {MAX_CHUNK_BYTES} bytes")
        try:
            value = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise EloquaInputError(
                f"NDJSON row {row} (line {line_no}) is not valid UTF-8 (byte {exc.start} of the line: {exc.reason})"
            ) from None
        except json.JSONDecodeError as exc:
            raise EloquaInputError(f"NDJSON row {row} (line {line_no}) is not valid JSON: {exc.msg}") from None
        if not isinstance(value, dict):
            raise EloquaInputError(
                f"NDJSON row {row} (line {line_no}) is not an object (got {type(value).__name__}): "
                "each line must be one object of field name to value"
            )
        out.append(value)
    counts[:] = [row, line_no]
    return out
