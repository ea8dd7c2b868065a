"""Inputs and helpers shared by the chunking tests."""

from __future__ import annotations

import csv
import io
import json

import pytest

from airflow_provider_eloqua.chunking import (
    CSV_CONTENT_TYPE,
    DEFAULT_CHUNK_BYTES,
    JSON_CONTENT_TYPE,
    Chunk,
    iter_csv_chunks,
    iter_json_chunks,
)
from airflow_provider_eloqua.exceptions import EloquaInputError

FIELDS = ["Email", "FirstName", "LastName", "Company", "Country"]
HEADER = b"Email,FirstName,LastName,Company,Country\n"


class Trickle(io.RawIOBase):
    """A binary stream whose read() returns at most ``step`` bytes, like a pipe or a socket."""

    def __init__(self, data: bytes, step: int) -> None:
        self._buf = io.BytesIO(data)
        self._step = step
        self.sizes: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.sizes.append(size)
        if size is None or size < 0:
            raise AssertionError("the whole input was asked for: reading must stream")
        return self._buf.read(min(size, self._step))

    def readline(self, size: int = -1) -> bytes:
        self.sizes.append(size)
        return self._buf.readline(size)


def csv_rows(n: int, start: int = 0) -> list[bytes]:
    return [b"user%d@example.com,First%d,Last%d,Company %d,DE\n" % (i, i, i, i % 7) for i in range(start, start + n)]


def parse_csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))


def decoded_rows(chunk: Chunk) -> list[dict]:
    """The rows a chunk carries, read back the way Eloqua reads its content type."""
    if chunk.content_type == CSV_CONTENT_TYPE:
        return list(csv.DictReader(io.StringIO(chunk.body.decode("utf-8"), newline="")))
    assert chunk.content_type == JSON_CONTENT_TYPE
    return json.loads(chunk.body)


def chunks_of(data: bytes, chunk_bytes: int = DEFAULT_CHUNK_BYTES, step: int | None = None) -> list[Chunk]:
    stream = io.BytesIO(data) if step is None else Trickle(data, step)
    return list(iter_csv_chunks(stream, FIELDS, "Email", chunk_bytes))


def csv_error(data: bytes, chunk_bytes: int = DEFAULT_CHUNK_BYTES, step: int | None = None) -> str:
    with pytest.raises(EloquaInputError) as info:
        chunks_of(data, chunk_bytes, step)
    return str(info.value)


def contact(i: int, **extra) -> dict:
    row = {"Email": f"user{i}@example.com", "FirstName": f"First{i}", "LastName": "Müller", "Country": "DE"}
    row.update(extra)
    return row


def json_error(rows, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> str:
    with pytest.raises(EloquaInputError) as info:
        list(iter_json_chunks(rows, FIELDS, "Email", chunk_bytes))
    return str(info.value)
