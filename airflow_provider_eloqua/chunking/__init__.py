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
* JSON rows in (an upstream task's XCom, or rows read from a JSON array or NDJSON file), the
  smallest encoding that means the same out: CSV chunks while every row's CSV reads back as
  exactly its JSON (non-empty text values, the same keys in every row), JSON array chunks
  (``[{...},{...}]``, UTF-8, compact) from the first row that does not.

Modules, one per input format, sharing one buffer helper:

* :mod:`.csv`: CSV bytes to CSV chunks.
* :mod:`.json_rows`: rows (mappings) to CSV or JSON array chunks.
* :mod:`.json_files`: the rows of JSON array and NDJSON files, streamed.
* :mod:`.formats`: format inference and the file dispatcher.
* :mod:`.columns`: input columns and row keys against the definition's fields.
* :mod:`._buffer`: block reads and POST bodies built in place.

What a chunk *is* (content types, size limits, :class:`Chunk`) lives in
:mod:`airflow_provider_eloqua.content`, which imports no parser, so the hook does not either.

Row numbers in messages and in :attr:`Chunk.first_row` count data rows from 1 (a CSV header is
not a row). Every bad-input error is an :class:`~airflow_provider_eloqua.exceptions.EloquaInputError`
whose text names the row, column, key or setting at fault.
"""

from airflow_provider_eloqua.chunking._buffer import CUT_RULES_VERSION
from airflow_provider_eloqua.chunking.columns import check_columns
from airflow_provider_eloqua.chunking.csv import iter_csv_chunks
from airflow_provider_eloqua.chunking.formats import FORMATS, infer_format, iter_file_chunks, iter_file_rows
from airflow_provider_eloqua.chunking.json_files import iter_json_file_rows, iter_ndjson_rows
from airflow_provider_eloqua.chunking.json_rows import iter_json_chunks, iter_record_chunks, iter_row_chunks
from airflow_provider_eloqua.content import (
    CSV_CONTENT_TYPE,
    DEFAULT_CHUNK_BYTES,
    JSON_CONTENT_TYPE,
    MAX_CHUNK_BYTES,
    MIN_CHUNK_BYTES,
    Chunk,
    check_chunk_bytes,
)

__all__ = [
    "CSV_CONTENT_TYPE",
    "CUT_RULES_VERSION",
    "DEFAULT_CHUNK_BYTES",
    "FORMATS",
    "JSON_CONTENT_TYPE",
    "MAX_CHUNK_BYTES",
    "MIN_CHUNK_BYTES",
    "Chunk",
    "check_chunk_bytes",
    "check_columns",
    "infer_format",
    "iter_csv_chunks",
    "iter_file_chunks",
    "iter_file_rows",
    "iter_json_chunks",
    "iter_json_file_rows",
    "iter_ndjson_rows",
    "iter_record_chunks",
    "iter_row_chunks",
]
