"""JSON rows in (an upstream task's XCom, or rows read from a file), JSON array chunks out.

Chunks are ``[{...},{...}]``, UTF-8, compact. Rows are validated a batch at a time with
C-level set operations and the JSON encoder; only an unusual batch is checked row by row.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import operator
from collections.abc import Collection, Iterable, Iterator, Mapping
from decimal import Decimal
from itertools import islice
from typing import Any

from airflow_provider_eloqua.chunking._buffer import Body
from airflow_provider_eloqua.chunking.columns import check_identifier, definition_fields, listed
from airflow_provider_eloqua.content import DEFAULT_CHUNK_BYTES, JSON_CONTENT_TYPE, Chunk, check_chunk_bytes
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
        text = _ENCODER.encode(batch)
        if text.count("{") != len(batch) or text.find("[", 1) >= 0:
            raise _NeedsRowCheck
        return batch, text.encode("utf-8")
    except (_NeedsRowCheck, KeyError, ValueError, TypeError):
        # Something unusual (a non-dict row, a bad key or value, NaN, a lone surrogate, or only
        # text with braces): check row by row, which names the first bad row or converts values.
        rows = [_check_row(row, first + i, fields, identifier, blank_identifiers) for i, row in enumerate(batch)]
        return rows, _ENCODER.encode(rows).encode("utf-8")


def iter_json_chunks(
    rows: Iterable[Mapping[str, Any]],
    fields: Collection[str],
    identifier: str,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    *,
    blank_identifiers: bool = False,
) -> Iterator[Chunk]:
    """Turn rows (mappings of field name to value) into JSON array bodies of at most ``chunk_bytes``.

    Each row's keys must be definition fields, it must carry ``identifier`` with a non-empty
    value (a blank one is allowed with ``blank_identifiers``, where it creates a record, see
    :func:`~airflow_provider_eloqua.chunking.columns.blank_creates_records`), and its values must be scalars: text, int, finite float, bool or None (a date or
    datetime becomes the text Eloqua reads, see :mod:`airflow_provider_eloqua.date_values`; a
    Decimal its text). Rows are consumed lazily, a batch at a
    time. No rows yields nothing.
    """
    chunk_bytes = check_chunk_bytes(chunk_bytes)
    field_set = definition_fields(fields, identifier)
    if isinstance(rows, (str, bytes, bytearray, Mapping)) or not isinstance(rows, Iterable):
        raise EloquaInputError(
            f"rows must be an iterable (e.g. a list) of mappings, one per row, got {type(rows).__name__}"
        )
    return _json_chunks(iter(rows), field_set, identifier, chunk_bytes, blank_identifiers)


def _json_chunks(
    it: Iterator[Any], field_set: frozenset[str], identifier: str, chunk_bytes: int, blank_identifiers: bool = False
) -> Iterator[Chunk]:
    body = Body(chunk_bytes)
    size = 1  # the body's size with its closing "]"
    chunk_rows = 0
    chunk_first = 1
    number = 1  # row number of the batch's first row

    def emit() -> Chunk:
        nonlocal body, size, chunk_rows, chunk_first
        body.write(b"]")
        chunk = Chunk(body.take(), JSON_CONTENT_TYPE, chunk_rows, chunk_first)
        body = Body(chunk_bytes, chunk_bytes)  # more than one chunk: expect full ones
        size = 1
        chunk_rows = 0
        chunk_first = number
        return chunk

    while True:
        batch = list(islice(it, _JSON_BATCH))
        if not batch:
            break
        checked, encoded = _encode_batch(batch, number, field_set, identifier, blank_identifiers)
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
