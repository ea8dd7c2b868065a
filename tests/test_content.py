"""content.py: the content types, the chunk size limits and their check, applied by every chunker (pure, no HTTP)."""

from __future__ import annotations

import io

import pytest

from airflow_provider_eloqua.chunking import (
    CSV_CONTENT_TYPE,
    DEFAULT_CHUNK_BYTES,
    JSON_CONTENT_TYPE,
    MAX_CHUNK_BYTES,
    MIN_CHUNK_BYTES,
    check_chunk_bytes,
    iter_csv_chunks,
    iter_file_chunks,
    iter_json_chunks,
)
from airflow_provider_eloqua.exceptions import EloquaError, EloquaInputError
from tests.chunking.helpers import (
    FIELDS,
    HEADER,
)


def test_constants():
    assert DEFAULT_CHUNK_BYTES == 31_457_280
    assert DEFAULT_CHUNK_BYTES < MAX_CHUNK_BYTES == 32_000_000 < 32 * 1024 * 1024
    assert MIN_CHUNK_BYTES == 1024
    assert CSV_CONTENT_TYPE == "text/csv; charset=utf-8"
    assert JSON_CONTENT_TYPE == "application/json"
    assert issubclass(EloquaInputError, EloquaError)


@pytest.mark.parametrize("value", [MIN_CHUNK_BYTES, DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, 5000])
def test_check_chunk_bytes_accepts(value):
    assert check_chunk_bytes(value) == value


@pytest.mark.parametrize("value", [MIN_CHUNK_BYTES - 1, MAX_CHUNK_BYTES + 1, 0, -5, 33_554_432])
def test_check_chunk_bytes_rejects_out_of_range(value):
    with pytest.raises(EloquaInputError, match=rf"chunk_bytes={value} is outside \[1024, 32000000\]"):
        check_chunk_bytes(value)


@pytest.mark.parametrize("value", ["2048", 2048.0, True, None])
def test_check_chunk_bytes_rejects_non_int(value):
    with pytest.raises(EloquaInputError, match=r"chunk_bytes must be an integer"):
        check_chunk_bytes(value)


def test_chunk_bytes_is_checked_when_called_not_when_iterated():
    with pytest.raises(EloquaInputError, match=r"chunk_bytes=100 "):
        iter_csv_chunks(io.BytesIO(HEADER), FIELDS, "Email", 100)
    with pytest.raises(EloquaInputError, match=r"chunk_bytes=100 "):
        iter_json_chunks([], FIELDS, "Email", 100)
    with pytest.raises(EloquaInputError, match=r"chunk_bytes=100 "):
        iter_file_chunks(io.BytesIO(b""), "json", FIELDS, "Email", 100)
