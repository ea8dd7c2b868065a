"""What a ``POST <definition>/data`` body is: content types, size limits and the :class:`Chunk`.

Kept apart from the parsers in :mod:`airflow_provider_eloqua.chunking` so the HTTP layer (the
hook) and staging can name a body's content type and limits without importing any parser.
Eloqua accepts at most 32 MB per data POST and answers a bigger one with **404** (not 413).
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_eloqua.exceptions import EloquaInputError

DEFAULT_CHUNK_BYTES = 30 * 1024 * 1024  # safely below 32 MB whichever way "MB" is counted
MAX_CHUNK_BYTES = 32_000_000
MIN_CHUNK_BYTES = 1024  # tests use small chunks

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Chunk:
    """One ``POST <definition>/data`` body."""

    body: bytes
    content_type: str
    rows: int  # data rows in this chunk
    first_row: int  # 1-based input row number of the chunk's first data row


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
