"""Rows in (an upstream task's XCom, or rows read from a JSON or NDJSON file), chunks out.

Rows are validated a batch at a time with C-level set operations and the encoder; only an
unusual batch is checked row by row. Two encodings go on the wire:

* **CSV** (:func:`iter_row_chunks`), the smallest encoding Eloqua accepts, about half the bytes
  of JSON (JSON repeats every key in every row), but only for rows whose CSV reads back as
  exactly what their JSON says: see :class:`_CsvWire`. From the first batch holding any other
  row on, the rest of the input goes as JSON, so the choice depends only on the input.
* **JSON** arrays ``[{...},{...}]``, UTF-8, compact (:func:`iter_json_chunks`, and the rest of
  the input after the switch). ``msgspec`` encodes text, integers, booleans and nulls (byte for
  byte what ``json`` would write, about five times faster); other values go through ``json``.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import operator
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from itertools import chain, compress, islice, repeat
from typing import Any

import msgspec

from airflow_provider_eloqua.chunking._buffer import Body, first_chunk_limit, ramped_chunk_limit
from airflow_provider_eloqua.chunking.columns import check_identifier, definition_fields, listed
from airflow_provider_eloqua.content import (
    CSV_CONTENT_TYPE,
    DEFAULT_CHUNK_BYTES,
    JSON_CONTENT_TYPE,
    Chunk,
    check_chunk_bytes,
)
from airflow_provider_eloqua.date_values import eloqua_date_text
from airflow_provider_eloqua.exceptions import EloquaInputError

#: JSON rows validated and serialised together (one C-encoder call per batch).
_JSON_BATCH = 1000

_get = operator.itemgetter


class _NeedsRowCheck(Exception):
    """A value the fast path cannot vouch for: the batch is checked row by row."""


def _to_json_scalar(value: Any) -> Any:
    if isinstance(value, _dt.date):
        try:
            return eloqua_date_text(value)
        except ValueError:  # an aware datetime: the row check names its row and key
            raise _NeedsRowCheck from None
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
#: Value types msgspec encodes byte for byte as ``_ENCODER`` does (floats are left to ``json``:
#: its ``repr`` spelling and its refusal of NaN are what the rest of the provider expects).
_MSGSPEC_TYPES = frozenset({str, int, bool, type(None)})
_msgspec_encode = msgspec.json.Encoder().encode


def _row_error(row: int, message: str) -> EloquaInputError:
    return EloquaInputError(f"row {row}: {message}")


def _check_row(
    row: Any, number: int, fields: frozenset[str], identifier: str, blank_identifiers: bool = False
) -> dict[str, Any]:
    """Validate one row; return it as a plain dict of JSON scalars."""
    if not isinstance(row, Mapping):
        raise _row_error(number, f"is not a mapping of field name to value (got {type(row).__name__}): {_short(row)}")
    unknown = [k for k in row if k not in fields]
    if unknown:
        raise _row_error(
            number,
            f"keys that are not fields of the import definition: {listed(unknown)} "
            f"(the definition's fields are {listed(sorted(fields))})",
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
            try:
                value = eloqua_date_text(value)
            except ValueError as exc:
                raise _row_error(number, f"key {key!r}: {exc}") from None
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
    if not blank_identifiers:
        check_identifier(out[identifier], identifier, f"row {number}")
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _encode_batch(
    batch: list[Any], first: int, fields: frozenset[str], identifier: str, blank_identifiers: bool = False
) -> tuple[list, bytes]:
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
        # Any blank-looking identifier takes the slow path, where check_identifier decides.
        ids = list(map(_get(identifier), batch))
        id_types = set(map(type, ids))
        if blank_identifiers:
            pass  # blanks create records here: nothing to refuse
        elif str in id_types:
            if id_types != {str} or not all(map(str.strip, ids)):
                raise _NeedsRowCheck
        elif type(None) in id_types:
            raise _NeedsRowCheck
        if set(map(type, chain.from_iterable(map(dict.values, batch)))) <= _MSGSPEC_TYPES:
            return batch, _msgspec_encode(batch)  # a lone surrogate raises UnicodeEncodeError
        text = _ENCODER.encode(batch)
        if text.count("{") != len(batch) or text.find("[", 1) >= 0:
            raise _NeedsRowCheck
        return batch, text.encode("utf-8")
    except (_NeedsRowCheck, KeyError, ValueError, TypeError, msgspec.EncodeError):
        # Something unusual (a non-dict row, a bad key or value, NaN, a lone surrogate, or only
        # text with braces): check row by row, which names the first bad row or converts values.
        rows = [_check_row(row, first + i, fields, identifier, blank_identifiers) for i, row in enumerate(batch)]
        return rows, _ENCODER.encode(rows).encode("utf-8")


def _csv_text(records: Iterable[Iterable[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(records)
    return out.getvalue()


class _CsvWire:
    """Rows sent as CSV, for as long as their CSV reads back as exactly what their JSON says.

    A CSV record carries every header column and only text, so a row goes as CSV only if it is
    a plain dict with exactly the first row's keys, and every value is non-empty text with no
    whitespace at either end and no line break. Oracle's documentation does not say how Eloqua
    reads a JSON ``null`` or ``""`` against an empty CSV field, a JSON number or boolean
    against its CSV text, or whether its CSV reader trims spaces or rewrites line endings
    inside quotes; so rows holding any of those keep their JSON, and the CSV wire is only ever
    the same text in fewer bytes (RFC 4180 quoting for commas and double quotes).
    """

    __slots__ = ("header", "values", "width")

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.width = len(keys)
        if len(keys) == 1:
            get = operator.itemgetter(keys[0])
            self.values: Callable[[dict], tuple] = lambda row: (get(row),)
        else:
            self.values = operator.itemgetter(*keys)
        self.header = _csv_text([keys]).encode("utf-8")

    @classmethod
    def for_first_row(cls, row: Any, fields: frozenset[str], identifier: str) -> _CsvWire | None:
        """The CSV wire for an input whose first row is ``row``; None if it cannot start as CSV."""
        if type(row) is not dict or identifier not in row or not row.keys() <= fields:
            return None
        return cls(tuple(row))

    @classmethod
    def for_columns(cls, columns: tuple[str, ...], fields: frozenset[str], identifier: str) -> _CsvWire | None:
        """The CSV wire for records (value tuples) in ``columns`` order; None if they cannot start as CSV."""
        if identifier not in columns or not set(columns) <= fields or len(set(columns)) != len(columns):
            return None
        return cls(columns)

    def encode(self, batch: list[Any]) -> tuple[bytes, list[tuple]] | None:
        """The batch as CSV records (bytes, and each row's values); None if any row must stay JSON."""
        if set(map(type, batch)) != {dict} or set(map(len, batch)) != {self.width}:
            return None
        try:
            records = list(map(self.values, batch))
        except KeyError:
            return None
        return self._encode_values(records)

    def encode_records(self, records: list[tuple]) -> tuple[bytes, list[tuple]] | None:
        """Records (each row's values, in header order) as CSV: as :meth:`encode`."""
        if set(map(len, records)) != {self.width}:
            return None
        return self._encode_values(records)

    def _encode_values(self, records: list[tuple]) -> tuple[bytes, list[tuple]] | None:
        """Records of ``width`` values as CSV (bytes, ``records``); None if any must stay JSON.

        Records are joined with C-level ``str.join`` (which also refuses any value that is not
        text); only records holding a comma or a double quote go through ``csv.writer`` for their
        RFC 4180 quoting, about ten times slower.
        """
        try:
            lines = list(map(",".join, records))
        except TypeError:
            return None  # a value that is not text
        values = list(chain.from_iterable(records))
        if not all(values) or values != list(map(str.strip, values)):
            return None  # an empty value, or whitespace at an end
        lines.append("")
        text = "\n".join(lines)
        if text.count("\n") != len(records) or "\r" in text:
            return None  # a value with a line break
        if text.count(",") != len(records) * (self.width - 1) or '"' in text:
            # Find the records to quote with C-level maps, and quote them in one writer call.
            del lines[-1]
            rows = range(len(lines))
            extra_commas = compress(rows, map(operator.ne, map(str.count, lines, repeat(",")), repeat(self.width - 1)))
            quotes = compress(rows, map(operator.contains, lines, repeat('"')))
            quoted = sorted({*extra_commas, *quotes})
            for i, record in zip(quoted, _csv_text(map(records.__getitem__, quoted)).split("\n"), strict=False):
                lines[i] = record
            lines.append("")
            text = "\n".join(lines)
        try:
            return text.encode("utf-8"), records
        except UnicodeEncodeError:
            return None  # a lone surrogate: the JSON check names the row

    def record(self, values: tuple) -> bytes:
        return _csv_text([values]).encode("utf-8")


def iter_row_chunks(
    rows: Iterable[Mapping[str, Any]],
    fields: Collection[str],
    identifier: str,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    csv_wire: bool = True,
    *,
    blank_identifiers: bool = False,
) -> Iterator[Chunk]:
    """Turn rows (mappings of field name to value) into bodies of at most ``chunk_bytes``.

    Each row's keys must be definition fields, it must carry ``identifier`` with a non-empty
    value (a blank one is allowed with ``blank_identifiers``, where it creates a record, see
    :func:`~airflow_provider_eloqua.chunking.columns.blank_creates_records`), and its values must
    be scalars: text, int, finite float, bool or None (a date or datetime becomes the text Eloqua
    reads, see :mod:`airflow_provider_eloqua.date_values`; a Decimal its text). Rows are consumed
    lazily, a batch at a time. No rows yields nothing. Rows go as CSV bodies (header plus
    records) while every row reads back from CSV exactly as from JSON (see :class:`_CsvWire`);
    from the first batch that does not, the rest go as JSON arrays. What the operators send for
    rows from XCom and from JSON or NDJSON files.

    :param rows: the rows, consumed lazily.
    :param fields: the import definition's field names.
    :param identifier: the definition's ``identifierFieldName``.
    :param chunk_bytes: the most bytes per body.
    :param csv_wire: False sends JSON arrays only (:func:`iter_json_chunks`).
    :param blank_identifiers: blank identifiers create records (custom object record ids).
    """
    chunk_bytes = check_chunk_bytes(chunk_bytes)
    field_set = definition_fields(fields, identifier)
    if isinstance(rows, (str, bytes, bytearray, Mapping)) or not isinstance(rows, Iterable):
        raise EloquaInputError(
            f"rows must be an iterable (e.g. a list) of mappings, one per row, got {type(rows).__name__}"
        )
    return _chunks(iter(rows), field_set, identifier, chunk_bytes, csv_wire, blank_identifiers)


def iter_record_chunks(
    records: Iterable[tuple],
    columns: Sequence[str],
    fields: Collection[str],
    identifier: str,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    *,
    blank_identifiers: bool = False,
) -> Iterator[Chunk]:
    """:func:`iter_row_chunks` for rows given as tuples of their values in ``columns`` order (a query's
    result rows): the same chunks as for the dicts ``dict(zip(columns, record))``, without making them
    while the rows go as CSV.

    :param records: the rows' values, each a tuple of ``len(columns)``, consumed lazily.
    :param columns: the column names, each once.
    """
    chunk_bytes = check_chunk_bytes(chunk_bytes)
    field_set = definition_fields(fields, identifier)
    return _chunks(iter(records), field_set, identifier, chunk_bytes, True, blank_identifiers, tuple(columns))


def iter_json_chunks(
    rows: Iterable[Mapping[str, Any]],
    fields: Collection[str],
    identifier: str,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    *,
    blank_identifiers: bool = False,
) -> Iterator[Chunk]:
    """:func:`iter_row_chunks` as JSON arrays only (``[{...},{...}]``, UTF-8, compact); same arguments."""
    return iter_row_chunks(rows, fields, identifier, chunk_bytes, csv_wire=False, blank_identifiers=blank_identifiers)


def _chunks(
    it: Iterator[Any],
    field_set: frozenset[str],
    identifier: str,
    chunk_bytes: int,
    csv_wire: bool,
    blank_identifiers: bool = False,
    columns: tuple[str, ...] | None = None,
) -> Iterator[Chunk]:
    """The chunks of ``it``'s rows: dicts, or with ``columns`` value tuples in that order (made dicts
    only where they go as JSON)."""
    wire: _CsvWire | None = None  # set while rows go as CSV

    def as_dicts(batch: list[Any]) -> list[Any]:
        return batch if columns is None else [dict(zip(columns, values, strict=True)) for values in batch]

    body = Body(chunk_bytes)
    chunk_rows = 0
    chunk_first = 1
    number = 1  # row number of the next row to place
    limit = first_chunk_limit(chunk_bytes)  # where the current chunk is cut (then ramped up)

    def emit() -> Chunk:
        nonlocal body, chunk_rows, chunk_first, limit
        limit = ramped_chunk_limit(limit, chunk_bytes)
        if wire is None:
            body.write(b"]")
            chunk = Chunk(body.take(), JSON_CONTENT_TYPE, chunk_rows, chunk_first)
            body = Body(chunk_bytes)
        else:
            chunk = Chunk(body.take(), CSV_CONTENT_TYPE, chunk_rows, chunk_first)
            body = Body(chunk_bytes, prefix=wire.header)
        chunk_rows = 0
        chunk_first = number
        return chunk

    batch = list(islice(it, _JSON_BATCH))
    if csv_wire and batch:
        if columns is None:
            wire = _CsvWire.for_first_row(batch[0], field_set, identifier)
        else:
            wire = _CsvWire.for_columns(columns, field_set, identifier)
        if wire is not None:
            body = Body(chunk_bytes, prefix=wire.header)
    while batch:
        if wire is not None:
            encoded_csv = wire.encode(batch) if columns is None else wire.encode_records(batch)
            if encoded_csv is not None:
                data, records = encoded_csv
                if body.size + len(data) <= limit:
                    body.write(data)
                    chunk_rows += len(records)
                    number += len(records)
                    batch = list(islice(it, _JSON_BATCH))
                    continue
                # The batch does not fit whole: place it record by record.
                placed = 0
                for values in records:
                    record = wire.record(values)
                    if body.size + len(record) > limit and chunk_rows:
                        yield emit()
                    if body.size + len(record) > chunk_bytes:
                        break  # too big for a CSV chunk of its own: JSON names it, or sends it
                    body.write(record)
                    chunk_rows += 1
                    number += 1
                    placed += 1
                if placed == len(batch):
                    batch = list(islice(it, _JSON_BATCH))
                    continue
                batch = batch[placed:]
            # These rows cannot go as CSV. Validate them before anything else is sent, then send
            # what is placed as CSV, and the rest of the input as JSON.
            checked, encoded = _encode_batch(as_dicts(batch), number, field_set, identifier, blank_identifiers)
            if chunk_rows:
                yield emit()
            wire = None
            body = Body(chunk_bytes)
        else:
            checked, encoded = _encode_batch(as_dicts(batch), number, field_set, identifier, blank_identifiers)
        del batch
        inner = len(encoded) - 2
        if body.size + 1 + inner + 1 <= limit:  # "[" or "," before the rows, "]" after them
            body.write(b"," if chunk_rows else b"[")
            body.write(memoryview(encoded)[1:-1])
            chunk_rows += len(checked)
            number += len(checked)
        else:
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
                if body.size + 1 + len(data) + 1 > limit and chunk_rows:
                    yield emit()
                body.write(b"," if chunk_rows else b"[")
                body.write(data)
                chunk_rows += 1
                number += 1
        batch = list(islice(it, _JSON_BATCH))
    if chunk_rows:
        yield emit()
