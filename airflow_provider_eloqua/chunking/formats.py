"""Input formats: which parser reads a file, inferred from its name or set explicitly."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterator, Mapping
from typing import Any, BinaryIO

from airflow_provider_eloqua.chunking.csv import iter_csv_chunks
from airflow_provider_eloqua.chunking.json_files import iter_json_file_rows, iter_ndjson_rows
from airflow_provider_eloqua.chunking.json_rows import iter_row_chunks
from airflow_provider_eloqua.content import DEFAULT_CHUNK_BYTES, Chunk
from airflow_provider_eloqua.exceptions import EloquaInputError

FORMATS = ("csv", "json", "ndjson")
_EXTENSIONS = {".csv": "csv", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson"}
_FORMAT_ALIASES = {"csv": "csv", "json": "json", "ndjson": "ndjson", "jsonl": "ndjson"}


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


def iter_file_chunks(
    stream: BinaryIO,
    format: str,
    fields: Collection[str],
    identifier: str,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    *,
    blank_identifiers: bool = False,
) -> Iterator[Chunk]:
    """Chunks of a file's content: CSV chunks for ``csv``; for ``json``/``ndjson`` the rows in the
    smallest encoding that means the same (:func:`~.json_rows.iter_row_chunks`)
    (``blank_identifiers``: see :func:`~airflow_provider_eloqua.chunking.columns.blank_creates_records`)."""
    fmt = infer_format("", format) if format is not None else None
    blank = {"blank_identifiers": blank_identifiers}
    if fmt == "csv":
        return iter_csv_chunks(stream, fields, identifier, chunk_bytes, **blank)
    if fmt == "json":
        return iter_row_chunks(iter_json_file_rows(stream), fields, identifier, chunk_bytes, **blank)
    if fmt == "ndjson":
        return iter_row_chunks(iter_ndjson_rows(stream), fields, identifier, chunk_bytes, **blank)
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
