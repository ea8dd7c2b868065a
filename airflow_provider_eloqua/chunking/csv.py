"""CSV in, CSV out: split a UTF-8 CSV byte stream into POST bodies, validating every record.

Each chunk is the input's header line followed by whole records, sent byte for byte as they
were read (never re-serialised). Validation works on whole read blocks with C-speed bytes
operations (``isascii``/``decode``, ``split``, ``translate``, comparison), so it costs no
Python work per row.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterator
from operator import itemgetter, methodcaller
from typing import BinaryIO

from airflow_provider_eloqua.chunking._buffer import BOM, BinaryReader, Body, first_chunk_limit
from airflow_provider_eloqua.chunking.columns import check_columns, check_identifier, definition_fields
from airflow_provider_eloqua.content import CSV_CONTENT_TYPE, DEFAULT_CHUNK_BYTES, Chunk, check_chunk_bytes
from airflow_provider_eloqua.exceptions import EloquaInputError

_NL = b"\n"
#: ``translate`` deletion tables: keep only the bytes that give CSV records their shape.
_KEEP_SHAPE = bytes(b for b in range(256) if b not in b',\r\n"')  # deletes all but , \r \n "
#: What may come right before an opening quote, and right after a closing one.
_OPENS_FIELD = frozenset({b"", b",", b"\n"})
_CLOSES_FIELD = frozenset({b"", b",", b"\r", b"\n"})


def _last_boundary(data: bytes, quoted: bool, start: int = 0, end: int | None = None) -> int:
    """End (exclusive) of the last whole record in ``data[start:end]``; ``start`` if there is none.

    ``data[start:]`` starts at a record start, outside quotes. A record ends at a newline preceded
    by an even number of quote characters (an escaped ``""`` counts two, so parity is exact).
    """
    if end is None:
        end = len(data)
    pos = data.rfind(b"\n", start, end)
    if pos < 0:
        return start
    if not quoted:
        return pos + 1
    quotes_before = data.count(b'"', start, end)
    prev = end
    while pos >= 0:
        quotes_before -= data.count(b'"', pos, prev)
        if not quotes_before & 1:
            return pos + 1
        prev = pos
        pos = data.rfind(b"\n", start, pos)
    return start


def _first_boundary(data: bytes) -> int:
    """End (exclusive) of the first whole record in ``data``; 0 if there is none."""
    pos = data.find(b"\n")
    while pos >= 0:
        if not data.count(b'"', 0, pos) & 1:
            return pos + 1
        pos = data.find(b"\n", pos + 1)
    return 0


def _outside_quotes(piece: bytes) -> bytes:
    """``piece`` with the content of its quoted fields removed (each quoted section leaves ``"``)."""
    if b'"' not in piece:
        return piece
    return b'"'.join(piece.split(b'"')[0::2])


def _rows_before(piece: bytes, pos: int) -> int:
    """Whole records that end before byte ``pos`` of ``piece`` (which starts at a record start)."""
    return _outside_quotes(piece[:pos]).count(b"\n")


def _raise_misplaced_quote(outside: list[bytes], row0: int) -> None:
    """Name the row of the first quote that does not open or close a whole field."""
    row = row0
    last = len(outside) - 1
    for i, seg in enumerate(outside):
        if i and seg[:1] not in _CLOSES_FIELD:
            break  # text right after a closing quote: the fault is at the segment's start
        if i < last and seg[-1:] not in _OPENS_FIELD:
            row += seg.count(_NL)  # text right before an opening quote: at the segment's end
            break
        row += seg.count(_NL)
    raise EloquaInputError(
        f"CSV row {row}: misplaced double quote; a field that holds quotes, commas or newlines must be "
        f'enclosed in double quotes, with each quote inside it doubled ("")'
    )


def _shape(piece: bytes, row0: int, skeleton: bytes | None = None) -> bytes:
    """The piece's record shape: its commas and newlines outside quotes (a ``\\r`` before ``\\n`` dropped).

    ``skeleton`` is ``piece.translate(None, _KEEP_SHAPE)`` if the caller has it. Raises on a
    misplaced or unbalanced quote and on a carriage return that does not end a line.
    """
    if skeleton is None:
        skeleton = piece.translate(None, _KEEP_SHAPE)
    if b'"' in skeleton:
        parts = piece.split(b'"')
        outside = parts[0::2]  # the text between quoted sections; parts[1::2] is quoted content
        del parts
        # A quote must open a whole field (at the start, or after a comma or newline) and close it
        # (before a comma, a line end or the end). A doubled quote inside a quoted field leaves an
        # empty segment, which passes both tests.
        closed = len(outside) * 2 - 1 == skeleton.count(b'"') + 1
        opening = outside if not closed else outside[:-1]
        if not {p[-1:] for p in opening} <= _OPENS_FIELD or not {p[:1] for p in outside[1:]} <= _CLOSES_FIELD:
            _raise_misplaced_quote(outside if closed else [*outside, b""], row0)
        if not closed:
            # Only the last piece of the input can end inside quotes.
            raise EloquaInputError(
                f"CSV row {row0 + sum(p.count(_NL) for p in outside)}: a quoted field is never closed "
                f"(unbalanced double quote at the end of the input)"
            )
        del outside, opening
        shape = b"".join(skeleton.split(b'"')[0::2])
    else:
        shape = skeleton
    if b"\r" in shape:
        shape = shape.replace(b"\r\n", b"\n")
        at = shape.find(b"\r")
        if at >= 0:
            row = row0 + shape.count(b"\n", 0, at)
            raise EloquaInputError(
                f"CSV row {row}: carriage return (\\r) outside quotes that does not end a line; "
                f"line endings must be \\n or \\r\\n"
            )
    return shape


#: A field that starts (ends) a line and is empty, blank or quoted, found in C: after a newline in
#: the piece, or after a newline in the reversed piece.
_FIRST_FIELD_SUSPECT = re.compile(rb'\n[,\t "]')
_LAST_FIELD_SUSPECT = re.compile(rb'\n\r?[,\t "]')
_EDGE_SUSPECTS = (b",", b" ", b"\t", b'"')


def _identifier_suspect(piece: bytes, col: int, ncols: int) -> bool:
    """False when no record of ``piece`` can have a blank identifier (field ``col``); True when
    one may (it is empty, blank or quoted somewhere). Runs in C (regular expressions, ``map`` over
    ``bytes`` methods): no Python bytecode per record."""
    if col == 0:
        return piece[:1] in _EDGE_SUSPECTS or _FIRST_FIELD_SUSPECT.search(piece) is not None
    if col == ncols - 1:
        end = piece.rstrip(b"\r\n")[-1:]
        return end in _EDGE_SUSPECTS or not end or _LAST_FIELD_SUSPECT.search(piece[::-1]) is not None
    # A field between others: take it from each line (quoted content cut out first).
    lines = _outside_quotes(piece).split(b"\n")
    if not lines[-1]:
        lines.pop()  # after the last newline
    values = list(map(itemgetter(col), map(methodcaller("split", b",", col + 1), lines)))
    return b'"' in values or not all(map(bytes.strip, values))


def _check_identifiers(piece: bytes, col: int, ncols: int, identifier: str, row0: int) -> None:
    """Refuse a record whose identifier (field ``col``) is blank, as JSON rows are (``check_identifier``).

    Only a piece where one may be blank is read again with the ``csv`` module, which gives the
    exact values and names the row.
    """
    if not _identifier_suspect(piece, col, ncols):
        return
    for index, record in enumerate(csv.reader(io.StringIO(piece.decode("utf-8"), newline=""))):
        check_identifier(record[col], identifier, f"CSV row {row0 + index}")


def _check_records(
    piece: bytes,
    ncols: int,
    pattern: bytes,
    row0: int,
    offset0: int,
    skeleton: bytes | None = None,
    identifier: tuple[int, str] | None = None,
) -> int:
    """Validate whole CSV records; return how many there are.

    ``piece`` starts at a record start and ends after a record's newline (or at the end of the
    input). Checks UTF-8, quoting, line endings, that every record has ``ncols`` fields, and that
    the ``identifier`` column (its index and name) is never blank.
    """
    if not piece.isascii():
        try:
            piece.decode("utf-8")
        except UnicodeDecodeError as exc:
            row = row0 + _rows_before(piece, exc.start)
            raise EloquaInputError(
                f"CSV row {row} is not valid UTF-8 (byte offset {offset0 + exc.start} of the input: "
                f"{exc.reason}); save the file as UTF-8"
            ) from None
    shape = _shape(piece, row0, skeleton)
    if not shape.endswith(b"\n"):
        shape += b"\n"  # the input's last record, without a final newline
    rows, rest = divmod(len(shape), ncols)
    if rest or shape != pattern * rows:
        for i, line in enumerate(shape.split(b"\n")):
            got = line.count(b",") + 1
            if got != ncols:
                raise EloquaInputError(
                    f"CSV row {row0 + i} has {got} field{'s' if got != 1 else ''}; the header has "
                    f"{ncols} columns (a blank line counts as a row with 1 field)"
                )
        raise AssertionError("unreachable: a shape mismatch without a ragged row")  # pragma: no cover
    if ncols == 1:
        # With one column a blank line parses as a record: reject it rather than send an empty identifier.
        outside = _outside_quotes(piece)
        for at in (outside.find(b"\n\n"), outside.find(b"\n\r\n")):
            if at >= 0:
                raise EloquaInputError(f"CSV row {row0 + outside.count(_NL, 0, at + 1)} is blank")
        if outside.startswith((b"\n", b"\r\n")):
            raise EloquaInputError(f"CSV row {row0} is blank")
    if identifier is not None:
        _check_identifiers(piece, identifier[0], ncols, identifier[1], row0)
    return rows


def _read_header(reader: BinaryReader, chunk_bytes: int) -> tuple[bytes, bytes, int]:
    """Read past the header record: (header line without BOM, the data read after it, BOM size)."""
    data = b""
    bom = 0
    while True:
        block = reader.block()
        data += block
        if not bom and data.startswith(BOM):
            data = data[len(BOM) :]
            bom = len(BOM)
        end = _first_boundary(data) if b'"' in data else data.find(b"\n") + 1
        if end:
            return data[:end], data[end:], bom
        if not block:
            return data, b"", bom
        if len(data) > chunk_bytes:
            raise EloquaInputError(f"the CSV header is longer than chunk_bytes={chunk_bytes} bytes")


def _only_blank_left(reader: BinaryReader, data: bytes) -> bool:
    """True if ``data`` and the rest of the input are whitespace only (reads to the first non-blank)."""
    while True:
        if data.strip(b" \t\r\n"):
            return False
        data = reader.block()
        if not data:
            return True


def _parse_header(line: bytes, bom: int) -> list[str]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EloquaInputError(
            f"the CSV header is not valid UTF-8 (byte offset {bom + exc.start} of the input: {exc.reason})"
        ) from None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text.strip():
        raise EloquaInputError("the CSV header (first line) is empty: it must name the columns")
    try:
        return next(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise EloquaInputError(f"the CSV header is malformed: {exc}") from None


def _cut_records(data: bytes, skeleton: bytes) -> tuple[int, int]:
    """Where the whole records of ``data`` end: (end in ``data``, end in ``skeleton``); (0, 0) if none.

    ``data`` starts at a record start; ``skeleton`` is ``data.translate(None, _KEEP_SHAPE)``. The
    last newline ends a record unless it is inside quotes (an odd number of quotes before it),
    which the small skeleton tells cheaply; then look further back.
    """
    sk_end = skeleton.rfind(b"\n") + 1
    if not sk_end:
        return 0, 0
    if b'"' in skeleton:
        sk_end = _last_boundary(skeleton, True)
        if not sk_end:
            return 0, 0
    # The skeleton keeps every newline, so count the newlines after the cut and find the
    # matching one in ``data`` from its end.
    after = skeleton.count(b"\n", sk_end)
    end = len(data)
    for _ in range(after + 1):
        end = data.rfind(b"\n", 0, end)
    return end + 1, sk_end


def _raise_too_large(row: int, room: int, chunk_bytes: int, tail_parts: list[bytes | memoryview]) -> None:
    unclosed = sum(bytes(p).count(b'"') for p in tail_parts) & 1
    raise EloquaInputError(
        f"CSV row {row} is larger than the {room} bytes a chunk has for data (chunk_bytes={chunk_bytes} minus "
        f"the header)" + ("; it may have a quoted field that is never closed" if unclosed else "")
    )


def iter_csv_chunks(
    stream: BinaryIO,
    fields: Collection[str],
    identifier: str,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    *,
    blank_identifiers: bool = False,
) -> Iterator[Chunk]:
    """Split a UTF-8 CSV byte stream into POST bodies of at most ``chunk_bytes`` bytes.

    Each chunk is the header line followed by whole records, byte for byte as read (a UTF-8 BOM
    is dropped). The header must name only definition fields, each once, including
    ``identifier``. Each record must be valid UTF-8 and have the header's field count; quoted
    fields may hold commas, doubled quotes and newlines; lines end in ``\\n`` or ``\\r\\n``.
    Blank lines at the end of the input are ignored. Empty or header-only input yields nothing.
    A blank identifier is refused, unless ``blank_identifiers`` (where it creates a record).
    Settings are checked at once; the input as it is read.
    """
    chunk_bytes = check_chunk_bytes(chunk_bytes)
    field_set = definition_fields(fields, identifier)
    return _csv_chunks(BinaryReader(stream), field_set, identifier, chunk_bytes, blank_identifiers)


def _csv_chunks(
    reader: BinaryReader, field_set: frozenset[str], identifier: str, chunk_bytes: int, blank_identifiers: bool = False
) -> Iterator[Chunk]:
    left_at_start = reader.remaining()
    header, first_data, bom = _read_header(reader, chunk_bytes)
    if not header.strip(b" \t\r\n") and _only_blank_left(reader, first_data):
        return  # empty input, or blank lines only: nothing to send
    columns = _parse_header(header, bom)
    check_columns(columns, field_set, identifier, "the CSV header")
    if not header.endswith(b"\n"):
        return  # header only, without a final newline: no data rows
    ncols = _shape(header, 0).count(b",") + 1
    if ncols != len(columns):
        raise EloquaInputError(
            f"the CSV header is malformed: its quoting could not be read the same way twice ({columns!r})"
        )
    pattern = b"," * (ncols - 1) + b"\n"
    id_column = None if blank_identifiers else (columns.index(identifier), identifier)
    room = chunk_bytes - len(header)
    if room < 2:
        raise EloquaInputError(
            f"chunk_bytes={chunk_bytes} leaves no room for data after the {len(header)}-byte CSV header"
        )

    # ``tail`` holds bytes read but not yet placed in a chunk, with no whole record in them
    # (except held-back blank lines); it starts at a record start.
    tail_parts: list[bytes | memoryview] = []
    tail_len = 0
    offset = bom + len(header)  # input byte offset of the tail's first byte
    next_row = 1  # row number of the tail's first record

    limit = first_chunk_limit(chunk_bytes)  # where the current chunk is cut

    def new_body() -> Body:
        # A seekable file says how many bytes are left: size the body once. Otherwise grow it.
        if left_at_start is None:
            return Body(chunk_bytes, None, header)
        return Body(chunk_bytes, min(limit, len(header) + max(left_at_start - offset, 0)), header)

    body = new_body()
    chunk_rows = 0
    chunk_first = 1

    def emit() -> Chunk:
        nonlocal body, chunk_rows, chunk_first, limit
        chunk = Chunk(body.take(), CSV_CONTENT_TYPE, chunk_rows, chunk_first)
        limit = chunk_bytes
        body = new_body()
        chunk_rows = 0
        chunk_first = next_row
        return chunk

    block: bytes | None = first_data or None  # None: read the next block
    while True:
        if block is None:
            block = reader.block()
        if block:
            nl = block.rfind(b"\n")
            if nl < 0:
                # No record can end in this block: keep it.
                tail_parts.append(block)
                tail_len += len(block)
                block = None
                if tail_len > room:
                    _raise_too_large(next_row, room, chunk_bytes, tail_parts)
                continue
            if tail_parts:
                tail_parts.append(memoryview(block)[: nl + 1])
                data = b"".join(tail_parts)
            else:
                data = block[: nl + 1] if nl + 1 < len(block) else block
            rest = block[nl + 1 :]
            block = None
            cut_skeleton = data.translate(None, _KEEP_SHAPE)
            end, sk_end = _cut_records(data, cut_skeleton)
            if not end:
                # Every newline is inside a quoted field that is still open: keep reading.
                tail_parts = [data, rest]
                tail_len = len(data) + len(rest)
                if tail_len > room:
                    _raise_too_large(next_row, room, chunk_bytes, tail_parts)
                continue
            if end < len(data):
                # The last newline is inside a quoted field: the records end earlier.
                rest = data[end:] + rest
                data = data[:end]
                cut_skeleton = cut_skeleton[:sk_end]
            skeleton: bytes | None = cut_skeleton
            if data.endswith((b"\n\n", b"\n\r\n")) or data.startswith((b"\n", b"\r\n")):
                # Hold back trailing blank lines: ignored at the end of the input, rows otherwise.
                kept = data.rstrip(b"\r\n")
                keep = len(kept) + (2 if data.startswith(b"\r\n", len(kept)) else 1) if kept else 0
                rest = data[keep:] + rest
                data = data[:keep]
                skeleton = None
            tail_parts = [rest] if rest else []
            tail_len = len(rest)
            eof = False
        else:
            data = b"".join(tail_parts)
            tail_parts = []
            skeleton = None
            eof = True
            if not data.strip(b"\r\n"):
                break  # nothing, or only blank lines, at the end of the input

        # Place the whole records of ``data`` into chunks, validating each part before it is used.
        start = 0
        while start < len(data):
            space = limit - body.size
            if len(data) - start <= space:
                end = len(data)
            else:
                end = _last_boundary(data, b'"' in data, start, start + space)
                if end == start:
                    if chunk_rows:
                        yield emit()
                        continue
                    if limit < chunk_bytes:
                        limit = chunk_bytes  # a first record bigger than the first chunk's cut
                        continue
                    raise EloquaInputError(
                        f"CSV row {next_row} is larger than the {room} bytes a chunk has for data "
                        f"(chunk_bytes={chunk_bytes} minus the header)"
                    )
            whole = start == 0 and end == len(data)
            part = data if whole else data[start:end]
            rows = _check_records(part, ncols, pattern, next_row, offset, skeleton if whole else None, id_column)
            body.write(part)
            chunk_rows += rows
            next_row += rows
            offset += len(part)
            start = end
            if start < len(data) or body.size >= limit - 1:
                yield emit()
        if eof:
            break
    if chunk_rows:
        yield emit()
