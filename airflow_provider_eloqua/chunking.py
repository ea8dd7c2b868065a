"""Turn upload input into the bodies of ``POST <definition>/data``: the provider's one place for chunking.

Eloqua accepts at most 32 MB per data POST and answers a bigger one with **404** (not 413), so
every body built here is at most ``chunk_bytes`` long (30 MiB by default, below 32 MB however
"MB" is counted). Everything streams: memory stays constant in the input size (about one chunk
plus a read block), and every input row is validated before the chunk holding it is yielded, so
a bad row stops the upload before any part of it reaches Eloqua's staging area.

* CSV in, CSV out: each chunk is the input's header line followed by whole records, sent byte
  for byte as they were read (never re-serialised). Validation works on whole read blocks with
  C-speed bytes operations (``isascii``/``decode``, ``split``, ``translate``, comparison), so it
  costs no Python work per row.
* JSON rows in (an upstream task's XCom, or rows read from a JSON array or NDJSON file), JSON
  array chunks out (``[{...},{...}]``, UTF-8, compact).

Row numbers in messages and in :attr:`Chunk.first_row` count data rows from 1 (a CSV header is
not a row). Every bad-input error is an :class:`~airflow_provider_eloqua.exceptions.EloquaInputError`
whose text names the row, column, key or setting at fault.
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import io
import json
import math
import operator
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import Any, BinaryIO

from airflow_provider_eloqua.exceptions import EloquaInputError

DEFAULT_CHUNK_BYTES = 30 * 1024 * 1024  # safely below 32 MB whichever way "MB" is counted
MAX_CHUNK_BYTES = 32_000_000
MIN_CHUNK_BYTES = 1024  # tests use small chunks

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"

FORMATS = ("csv", "json", "ndjson")
_EXTENSIONS = {".csv": "csv", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson"}
_FORMAT_ALIASES = {"csv": "csv", "json": "json", "ndjson": "ndjson", "jsonl": "ndjson"}

_BOM = codecs.BOM_UTF8
#: Bytes read from a file at a time. Big enough that per-block Python work is negligible, small
#: enough that a block's validation passes stay in the CPU cache.
_READ_BYTES = 1 << 20
#: JSON rows validated and serialised together (one C-encoder call per batch).
_JSON_BATCH = 1000
_MAX_LISTED = 20
_NL = b"\n"


@dataclass(frozen=True)
class Chunk:
    """One ``POST <definition>/data`` body."""

    body: bytes
    content_type: str
    rows: int  # data rows in this chunk
    first_row: int  # 1-based input row number of the chunk's first data row


# --------------------------------------------------------------------------------------------
# settings and column checks
# --------------------------------------------------------------------------------------------


def check_chunk_bytes(chunk_bytes: int) -> int:
    """Return ``chunk_bytes`` if it is an int in ``[MIN_CHUNK_BYTES, MAX_CHUNK_BYTES]``."""
    if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, int):
        raise EloquaInputError(
            f"chunk_bytes must be an integer number of bytes, got {type(chunk_bytes).__name__} {chunk_bytes!r}"
        )
    if not MIN_CHUNK_BYTES <= chunk_bytes <= MAX_CHUNK_BYTES:
        raise EloquaInputError(
            f"chunk_bytes={chunk_bytes} is outside [{MIN_CHUNK_BYTES}, {MAX_CHUNK_BYTES}]: Eloqua refuses "
            f"(with a 404) a data POST over 32 MB"
        )
    return chunk_bytes


def infer_format(path: str, format: str | None) -> str:
    """Input format, ``"csv"``, ``"json"`` or ``"ndjson"``: ``format`` if given, else from the extension.

    Extensions: ``.csv``, ``.json`` (an array of objects), ``.ndjson``/``.jsonl`` (one object a
    line). Compressed files are not read: decompress them first.
    """
    if format is not None:
        key = format.strip().lower() if isinstance(format, str) else None
        if key not in _FORMAT_ALIASES:
            raise EloquaInputError(
                f"format={format!r} is not supported; use one of {', '.join(FORMATS)} (or leave it "
                f"unset to infer it from the file extension)"
            )
        return _FORMAT_ALIASES[key]
    name = str(path).rsplit("/", 1)[-1]
    dot = name.rfind(".")
    ext = name[dot:].lower() if dot > 0 else ""
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    if ext in (".gz", ".gzip", ".zip", ".bz2", ".xz", ".zst"):
        raise EloquaInputError(
            f"cannot read {path!r}: compressed files are not supported; decompress it first "
            f"(a .csv, .json, .ndjson or .jsonl file)"
        )
    raise EloquaInputError(
        f"cannot infer the format of {path!r} from its extension {ext or '(none)'!r}: name it "
        f".csv, .json, .ndjson or .jsonl, or set format to one of {', '.join(FORMATS)}"
    )


def _listed(names: Iterable[Any]) -> str:
    names = list(names)
    text = ", ".join(repr(n) for n in names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        text += f", ... ({len(names) - _MAX_LISTED} more)"
    return text


def _field_set(fields: Collection[str], identifier: str) -> frozenset[str]:
    if isinstance(fields, (str, bytes)) or not isinstance(fields, Iterable):
        raise EloquaInputError(f"fields must be a collection of the import definition's field names, got {fields!r}")
    field_set = frozenset(fields)
    if not field_set:
        raise EloquaInputError("fields is empty: the import definition must have at least one field")
    if identifier not in field_set:
        raise EloquaInputError(
            f"identifier {identifier!r} is not one of the import definition's fields ({_listed(sorted(field_set))})"
        )
    return field_set


def check_columns(columns: Sequence[str], fields: Collection[str], identifier: str, where: str) -> None:
    """Check an input's columns against the import definition's fields.

    Every column must be a field of the definition, no column may appear twice, and the
    identifier column must be present. ``where`` says what the columns are ("the header of
    contacts.csv"); it starts every message.
    """
    field_set = _field_set(fields, identifier)
    columns = list(columns)
    if not columns or all(c == "" for c in columns):
        raise EloquaInputError(f"{where} is empty: it must name the columns (at least {identifier!r})")
    seen: set[str] = set()
    dupes: list[str] = []
    for col in columns:
        if col in seen and col not in dupes:
            dupes.append(col)
        seen.add(col)
    if dupes:
        raise EloquaInputError(f"{where} names these columns more than once: {_listed(dupes)}")
    unknown = [c for c in columns if c not in field_set]
    if unknown:
        raise EloquaInputError(
            f"{where} has columns that are not fields of the import definition: {_listed(unknown)} "
            f"(the definition's fields are {_listed(sorted(field_set))})"
        )
    if identifier not in seen:
        raise EloquaInputError(f"{where} lacks the identifier column {identifier!r} (columns: {_listed(columns)})")


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------

#: ``translate`` deletion tables: keep only the bytes that give CSV records their shape.
_KEEP_SHAPE = bytes(b for b in range(256) if b not in b',\r\n"')  # deletes all but , \r \n "
#: What may come right before an opening quote, and right after a closing one.
_OPENS_FIELD = frozenset({b"", b",", b"\n"})
_CLOSES_FIELD = frozenset({b"", b",", b"\r", b"\n"})
#: First allocation of a body whose final size is unknown; it doubles up to ``chunk_bytes``.
_FIRST_BODY_BYTES = 1 << 20


class _BinaryReader:
    """Wraps ``stream.read`` with the checks every reader needs (binary mode, offsets)."""

    __slots__ = ("offset", "read", "stream")

    def __init__(self, stream: BinaryIO) -> None:
        read = getattr(stream, "read", None)
        if read is None:
            raise EloquaInputError(f"stream must be a binary file object, got {type(stream).__name__}")
        self.stream = stream
        self.read = read
        self.offset = 0

    def block(self, size: int | None = None) -> bytes:
        data = self.read(size or _READ_BYTES)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise EloquaInputError(
                f"stream must be opened in binary mode ('rb'): read() returned {type(data).__name__}"
            )
        if not isinstance(data, bytes):
            data = bytes(data)
        self.offset += len(data)
        return data

    def remaining(self) -> int | None:
        """Bytes left to read, if the stream can tell cheaply (a seekable file); else None."""
        try:
            if not self.stream.seekable():
                return None
            here = self.stream.tell()
            end = self.stream.seek(0, io.SEEK_END)
            self.stream.seek(here)
        except (AttributeError, OSError, ValueError):
            return None
        return max(end - here, 0) if isinstance(end, int) else None


class _Body:
    """A POST body written in place and handed over as ``bytes`` without a final copy.

    The buffer is a ``BytesIO`` sized up front to the expected body size (or doubled as needed,
    up to the chunk limit), written through a memoryview; ``getvalue`` then returns its buffer
    itself. So a chunk being built costs about one chunk of memory, where collecting parts and
    joining them would briefly cost two. Nothing is allocated before the first write after
    ``prefix`` (a CSV header), so an empty next chunk costs nothing.
    """

    __slots__ = ("_bio", "_cap", "_expected", "_limit", "_prefix", "_view", "size")

    def __init__(self, limit: int, expected: int | None = None, prefix: bytes = b"") -> None:
        self._bio: io.BytesIO | None = None
        self._view: memoryview | None = None
        self._limit = limit
        self._expected = expected
        self._prefix = prefix
        self._cap = 0
        self.size = len(prefix)

    def _reserve(self, cap: int) -> None:
        if self._view is not None:
            self._view.release()
        self._bio.seek(cap - 1)
        self._bio.write(b"\0")
        self._view = self._bio.getbuffer()
        self._cap = cap

    def write(self, data: bytes | memoryview) -> None:
        end = self.size + len(data)
        if self._bio is None:
            self._bio = io.BytesIO()
            first = min(self._limit, self._expected or _FIRST_BODY_BYTES)
            self._reserve(max(first, end))
            self._view[: len(self._prefix)] = self._prefix
        elif end > self._cap:
            self._reserve(max(end, min(self._limit, 2 * self._cap)))
        self._view[self.size : end] = data
        self.size = end

    def take(self) -> bytes:
        if self._bio is None:
            return self._prefix
        self._view.release()
        self._view = None
        self._bio.truncate(self.size)
        data = self._bio.getvalue()
        self._bio = None
        return data


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


def _check_records(
    piece: bytes, ncols: int, pattern: bytes, row0: int, offset0: int, skeleton: bytes | None = None
) -> int:
    """Validate whole CSV records; return how many there are.

    ``piece`` starts at a record start and ends after a record's newline (or at the end of the
    input). Checks UTF-8, quoting, line endings, and that every record has ``ncols`` fields.
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
    return rows


def _read_header(reader: _BinaryReader, chunk_bytes: int) -> tuple[bytes, bytes, int]:
    """Read past the header record: (header line without BOM, the data read after it, BOM size)."""
    data = b""
    bom = 0
    while True:
        block = reader.block()
        data += block
        if not bom and data.startswith(_BOM):
            data = data[len(_BOM) :]
            bom = len(_BOM)
        end = _first_boundary(data) if b'"' in data else data.find(b"\n") + 1
        if end:
            return data[:end], data[end:], bom
        if not block:
            return data, b"", bom
        if len(data) > chunk_bytes:
            raise EloquaInputError(f"the CSV header is longer than chunk_bytes={chunk_bytes} bytes")


def _only_blank_left(reader: _BinaryReader, data: bytes) -> bool:
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


def _raise_too_large(row: int, room: int, chunk_bytes: int, tail_parts: list[bytes]) -> None:
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
) -> Iterator[Chunk]:
    """Split a UTF-8 CSV byte stream into POST bodies of at most ``chunk_bytes`` bytes.

    Each chunk is the header line followed by whole records, byte for byte as read (a UTF-8 BOM
    is dropped). The header must name only definition fields, each once, including
    ``identifier``. Each record must be valid UTF-8 and have the header's field count; quoted
    fields may hold commas, doubled quotes and newlines; lines end in ``\\n`` or ``\\r\\n``.
    Blank lines at the end of the input are ignored. Empty or header-only input yields nothing.
    Settings are checked at once; the input as it is read.
    """
    chunk_bytes = check_chunk_bytes(chunk_bytes)
    field_set = _field_set(fields, identifier)
    return _csv_chunks(_BinaryReader(stream), field_set, identifier, chunk_bytes)


def _csv_chunks(reader: _BinaryReader, field_set: frozenset[str], identifier: str, chunk_bytes: int) -> Iterator[Chunk]:
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
    room = chunk_bytes - len(header)
    if room < 2:
        raise EloquaInputError(
            f"chunk_bytes={chunk_bytes} leaves no room for data after the {len(header)}-byte CSV header"
        )

    # ``tail`` holds bytes read but not yet placed in a chunk, with no whole record in them
    # (except held-back blank lines); it starts at a record start.
    tail_parts: list[bytes] = []
    tail_len = 0
    offset = bom + len(header)  # input byte offset of the tail's first byte
    next_row = 1  # row number of the tail's first record

    def new_body() -> _Body:
        if left_at_start is not None:
            expected = len(header) + max(left_at_start - offset, 0)
        else:
            expected = chunk_bytes if next_row > 1 else None  # more than one chunk: expect full ones
        return _Body(chunk_bytes, expected, header)

    body = new_body()
    chunk_rows = 0
    chunk_first = 1

    def emit() -> Chunk:
        nonlocal body, chunk_rows, chunk_first
        chunk = Chunk(body.take(), CSV_CONTENT_TYPE, chunk_rows, chunk_first)
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
            skeleton = data.translate(None, _KEEP_SHAPE)
            end, sk_end = _cut_records(data, skeleton)
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
                skeleton = skeleton[:sk_end]
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
            space = chunk_bytes - body.size
            if len(data) - start <= space:
                end = len(data)
            else:
                end = _last_boundary(data, b'"' in data, start, start + space)
                if end == start:
                    if chunk_rows:
                        yield emit()
                        continue
                    raise EloquaInputError(
                        f"CSV row {next_row} is larger than the {room} bytes a chunk has for data "
                        f"(chunk_bytes={chunk_bytes} minus the header)"
                    )
            whole = start == 0 and end == len(data)
            part = data if whole else data[start:end]
            rows = _check_records(part, ncols, pattern, next_row, offset, skeleton if whole else None)
            body.write(part)
            chunk_rows += rows
            next_row += rows
            offset += len(part)
            start = end
            if start < len(data) or body.size >= chunk_bytes - 1:
                yield emit()
        if eof:
            break
    if chunk_rows:
        yield emit()


# --------------------------------------------------------------------------------------------
# JSON rows
# --------------------------------------------------------------------------------------------

_get = operator.itemgetter


class _NeedsRowCheck(Exception):
    """A value the fast path cannot vouch for: the batch is checked row by row."""


def _to_json_scalar(value: Any) -> Any:
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _NeedsRowCheck
        return str(value)
    raise _NeedsRowCheck


_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    separators=(",", ":"),
    allow_nan=False,
    check_circular=False,
    default=_to_json_scalar,
)


def _row_error(row: int, message: str) -> EloquaInputError:
    return EloquaInputError(f"row {row}: {message}")


def _check_row(row: Any, number: int, fields: frozenset[str], identifier: str) -> dict[str, Any]:
    """Validate one row; return it as a plain dict of JSON scalars."""
    if not isinstance(row, Mapping):
        raise _row_error(number, f"is not a mapping of field name to value (got {type(row).__name__}): {_short(row)}")
    unknown = [k for k in row if k not in fields]
    if unknown:
        raise _row_error(
            number,
            f"keys that are not fields of the import definition: {_listed(unknown)} "
            f"(the definition's fields are {_listed(sorted(fields))})",
        )
    if identifier not in row:
        raise _row_error(number, f"lacks the identifier key {identifier!r}")
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or isinstance(value, (str, bool, int)):
            if isinstance(value, str):
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise _row_error(
                        number, f"key {key!r}: the text cannot be encoded as UTF-8 ({exc.reason})"
                    ) from None
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise _row_error(number, f"key {key!r}: {value!r} cannot be sent to Eloqua (not a finite number)")
        elif isinstance(value, _dt.date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            if not value.is_finite():
                raise _row_error(number, f"key {key!r}: {value!r} cannot be sent to Eloqua (not a finite number)")
            value = str(value)
        elif isinstance(value, (Mapping, list, tuple, set, frozenset)):
            raise _row_error(
                number,
                f"key {key!r}: nested values cannot be sent to Eloqua (got {type(value).__name__}); "
                f"flatten it to a text, number, boolean or null",
            )
        else:
            raise _row_error(
                number,
                f"key {key!r}: a {type(value).__name__} value cannot be sent to Eloqua; only text, numbers, "
                f"booleans, dates/datetimes, Decimals and null can be (nested values cannot be sent to Eloqua)",
            )
        out[key] = value
    ident = out[identifier]
    if ident is None or (isinstance(ident, str) and not ident.strip()):
        raise _row_error(number, f"the identifier {identifier!r} is empty")
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _encode_batch(batch: list[Any], first: int, fields: frozenset[str], identifier: str) -> tuple[list, bytes]:
    """Validate a batch of rows and serialise it as one JSON array: (rows as dicts, bytes).

    The fast path checks the whole batch with C-level set operations and lets the encoder vouch
    for the values: it refuses NaN/Infinity and (through ``default``) anything that is not a
    scalar, a date or a Decimal; a nested dict, list or tuple would add a ``{`` or ``[`` to the
    output, so the output must hold exactly one ``{`` per row and no ``[`` but the array's own.
    Text holding a brace or bracket also fails that test: it then takes the slow path, which
    checks each row in Python, names the first bad row and key, or passes the batch.
    """
    try:
        if set(map(type, batch)) != {dict}:
            raise _NeedsRowCheck
        if not set().union(*batch) <= fields:
            raise _NeedsRowCheck
        ids = list(map(_get(identifier), batch))
        id_types = set(map(type, ids))
        if str in id_types:
            if id_types != {str} or not all(map(str.strip, ids)):
                raise _NeedsRowCheck
        elif type(None) in id_types:
            raise _NeedsRowCheck
        text = _ENCODER.encode(batch)
        if text.count("{") != len(batch) or text.find("[", 1) >= 0:
            raise _NeedsRowCheck
        return batch, text.encode("utf-8")
    except (_NeedsRowCheck, KeyError, ValueError, TypeError):
        # Something unusual (a non-dict row, a bad key or value, NaN, a lone surrogate, or only
        # text with braces): check row by row, which names the first bad row or converts values.
        rows = [_check_row(row, first + i, fields, identifier) for i, row in enumerate(batch)]
        return rows, _ENCODER.encode(rows).encode("utf-8")


def iter_json_chunks(
    rows: Iterable[Mapping[str, Any]],
    fields: Collection[str],
    identifier: str,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[Chunk]:
    """Turn rows (mappings of field name to value) into JSON array bodies of at most ``chunk_bytes``.

    Each row's keys must be definition fields, it must carry ``identifier`` with a non-empty
    value, and its values must be scalars: text, int, finite float, bool or None (a date or
    datetime becomes ISO-8601 text, a Decimal its text). Rows are consumed lazily, a batch at a
    time. No rows yields nothing.
    """
    chunk_bytes = check_chunk_bytes(chunk_bytes)
    field_set = _field_set(fields, identifier)
    if isinstance(rows, (str, bytes, bytearray, Mapping)) or not isinstance(rows, Iterable):
        raise EloquaInputError(
            f"rows must be an iterable (e.g. a list) of mappings, one per row, got {type(rows).__name__}"
        )
    return _json_chunks(iter(rows), field_set, identifier, chunk_bytes)


def _json_chunks(it: Iterator[Any], field_set: frozenset[str], identifier: str, chunk_bytes: int) -> Iterator[Chunk]:
    body = _Body(chunk_bytes)
    size = 1  # the body's size with its closing "]"
    chunk_rows = 0
    chunk_first = 1
    number = 1  # row number of the batch's first row

    def emit() -> Chunk:
        nonlocal body, size, chunk_rows, chunk_first
        body.write(b"]")
        chunk = Chunk(body.take(), JSON_CONTENT_TYPE, chunk_rows, chunk_first)
        body = _Body(chunk_bytes, chunk_bytes)  # more than one chunk: expect full ones
        size = 1
        chunk_rows = 0
        chunk_first = number
        return chunk

    while True:
        batch = list(islice(it, _JSON_BATCH))
        if not batch:
            break
        checked, encoded = _encode_batch(batch, number, field_set, identifier)
        del batch
        inner = len(encoded) - 2
        if size + inner + 1 <= chunk_bytes:  # +1: the "[" or "," before the rows
            body.write(b"," if chunk_rows else b"[")
            body.write(memoryview(encoded)[1:-1])
            size += inner + 1
            chunk_rows += len(checked)
            number += len(checked)
            continue
        # The batch does not fit whole: place it row by row.
        del encoded
        for row in checked:
            data = _ENCODER.encode(row).encode("utf-8")
            if len(data) + 2 > chunk_bytes:
                raise _row_error(
                    number,
                    f"is {len(data)} bytes as JSON, more than fits in one chunk "
                    f"(chunk_bytes={chunk_bytes}, Eloqua's limit is 32 MB per POST)",
                )
            if size + len(data) + 1 > chunk_bytes:
                yield emit()
            body.write(b"," if chunk_rows else b"[")
            body.write(data)
            size += len(data) + 1
            chunk_rows += 1
            number += 1
    if chunk_rows:
        yield emit()


# --------------------------------------------------------------------------------------------
# JSON and NDJSON files
# --------------------------------------------------------------------------------------------

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")


def _not_an_object(row: int, value: Any) -> EloquaInputError:
    return EloquaInputError(
        f"JSON row {row} is not an object (got {type(value).__name__}): each array element must be an object "
        "of field name to value"
    )


def iter_json_file_rows(stream: BinaryIO) -> Iterator[dict]:
    """Stream the objects of a UTF-8 JSON file holding one array of objects, one at a time.

    Reads a block at a time into a sliding text buffer and parses the whole rows it holds with
    one decoder call (or, where that cannot tell where rows end, one ``JSONDecoder.raw_decode``
    per row), so memory stays about one read block of text and its rows, never the whole file.
    """
    reader = _BinaryReader(stream)
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
        block = reader.block()
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
            pos = _WS.match(buf, pos).end()
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
                    values = _DECODER.decode("[" + buf[pos:cut] + "]")
                except json.JSONDecodeError:
                    bulk = False
                else:
                    for value in values:
                        row += 1
                        if not isinstance(value, dict):
                            raise _not_an_object(row, value)
                        yield value
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
                    raise EloquaInputError(f"JSON row {row} is not valid JSON: {exc.msg}") from None
            more()
        check_utf8(end)
        if not isinstance(value, dict):
            raise _not_an_object(row, value)
        pos = end
        yield value
        expect_value = False
        first = False
    if skip_ws():
        check_utf8(pos + 1)
        raise EloquaInputError(f"unexpected data after the JSON array: {buf[pos : pos + 20]!r}")


def iter_ndjson_rows(stream: BinaryIO) -> Iterator[dict]:
    """Stream the objects of a UTF-8 NDJSON (JSON Lines) file: one object a line, blank lines skipped."""
    readline = getattr(stream, "readline", None)
    if readline is None:
        raise EloquaInputError(f"stream must be a binary file object, got {type(stream).__name__}")
    row = 0
    line_no = 0
    while True:
        line = readline(MAX_CHUNK_BYTES + 1)
        if not line:
            return
        if not isinstance(line, bytes):
            if isinstance(line, str):
                raise EloquaInputError("stream must be opened in binary mode ('rb'): readline() returned str")
            line = bytes(line)
        line_no += 1
        if line_no == 1 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        if not line.strip():
            continue
        row += 1
        if len(line) > MAX_CHUNK_BYTES and not line.endswith(b"\n"):
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
        yield value


def iter_file_chunks(
    stream: BinaryIO,
    format: str,
    fields: Collection[str],
    identifier: str,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[Chunk]:
    """Chunks of a file's content: CSV chunks for ``csv``, JSON array chunks for ``json``/``ndjson``."""
    fmt = infer_format("", format) if format is not None else None
    if fmt == "csv":
        return iter_csv_chunks(stream, fields, identifier, chunk_bytes)
    if fmt == "json":
        return iter_json_chunks(iter_json_file_rows(stream), fields, identifier, chunk_bytes)
    if fmt == "ndjson":
        return iter_json_chunks(iter_ndjson_rows(stream), fields, identifier, chunk_bytes)
    raise EloquaInputError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")


def iter_file_rows(stream: BinaryIO, format: str) -> Iterator[Mapping[str, Any]]:
    """The rows of an (already uploaded, so valid) input file as dicts, in input order.

    Used after a sync to confirm which input row a reject came from; not on the upload path.
    """
    if format == "csv":
        yield from csv.DictReader(io.TextIOWrapper(stream, encoding="utf-8-sig", newline=""))
    elif format == "json":
        yield from iter_json_file_rows(stream)
    else:
        yield from iter_ndjson_rows(stream)
