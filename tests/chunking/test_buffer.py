"""The first chunk of an input is cut small, so that sending starts early (pure, no HTTP)."""

from __future__ import annotations

import io

import pytest

from airflow_provider_eloqua.chunking import _buffer, iter_csv_chunks, iter_json_chunks, iter_row_chunks
from tests.chunking.helpers import FIELDS, HEADER, Trickle, contact, csv_rows, decoded_rows

FIRST = 2048
CHUNK = 8192


@pytest.fixture(autouse=True)
def small_first_chunk(monkeypatch):
    monkeypatch.setattr(_buffer, "FIRST_CHUNK_BYTES", FIRST)


def sizes(chunks) -> list[int]:
    return [len(c.body) for c in chunks]


def test_default_first_chunk_is_a_few_mib():
    assert _buffer.first_chunk_limit(30 * 1024 * 1024) == FIRST
    assert _buffer.first_chunk_limit(1024) == 1024  # never more than chunk_bytes


def test_row_chunks_ramp_up_to_chunk_bytes():
    mib = 1024 * 1024
    limits = [4 * mib]
    while limits[-1] < 30 * mib:
        limits.append(_buffer.ramped_chunk_limit(limits[-1], 30 * mib))
    assert limits == [4 * mib, 8 * mib, 16 * mib, 30 * mib]
    assert _buffer.ramped_chunk_limit(30 * mib, 30 * mib) == 30 * mib


@pytest.mark.parametrize("seekable", [True, False])
def test_csv_first_chunk_is_cut_early_and_the_rest_are_full(seekable):
    data = HEADER + b"".join(csv_rows(600))
    stream = io.BytesIO(data) if seekable else Trickle(data, 4096)  # Trickle cannot seek
    chunks = list(iter_csv_chunks(stream, FIELDS, "Email", CHUNK))
    assert FIRST - 60 < len(chunks[0].body) <= FIRST
    assert all(CHUNK - 60 < size <= CHUNK for size in sizes(chunks[1:-1]))
    assert b"".join(c.body[len(HEADER) :] for c in chunks) == data[len(HEADER) :]
    assert [c.first_row for c in chunks] == [1, *(1 + sum(c.rows for c in chunks[:i]) for i in range(1, len(chunks)))]


def test_csv_first_record_bigger_than_the_first_cut_goes_whole():
    # Then the first chunk is cut like any other.
    big = b"big@example.com,F,L," + b"x" * 3000 + b",DE\n"
    data = HEADER + big + b"".join(csv_rows(300))
    chunks = list(iter_csv_chunks(io.BytesIO(data), FIELDS, "Email", CHUNK))
    assert chunks[0].body.startswith(HEADER + big) and CHUNK - 60 < len(chunks[0].body) <= CHUNK
    assert b"".join(c.body[len(HEADER) :] for c in chunks) == data[len(HEADER) :]


@pytest.mark.parametrize("encode", [iter_row_chunks, iter_json_chunks], ids=["csv wire", "json"])
def test_rows_first_chunk_is_cut_early_and_the_next_ones_ramp_up(encode):
    # Rows: 2048, 4096, then full 8192-byte chunks (each twice the one before, up to chunk_bytes).
    rows = [contact(i, Company=f"Co {i}") for i in range(3000)]
    chunks = list(encode(rows, FIELDS, "Email", CHUNK))
    assert FIRST - 150 < len(chunks[0].body) <= FIRST
    assert 2 * FIRST - 150 < len(chunks[1].body) <= 2 * FIRST
    assert len(chunks) > 4 and all(CHUNK - 150 < size <= CHUNK for size in sizes(chunks[2:-1]))
    assert [r for c in chunks for r in decoded_rows(c)] == rows


@pytest.mark.parametrize("encode", [iter_row_chunks, iter_json_chunks], ids=["csv wire", "json"])
def test_rows_first_row_bigger_than_the_first_cut_goes_whole(encode):
    rows = [contact(i, Company="x" * 3000 if i == 0 else f"Co {i}") for i in range(200)]
    chunks = list(encode(rows, FIELDS, "Email", CHUNK))
    assert chunks[0].rows == 1 and FIRST < len(chunks[0].body) <= CHUNK
    assert [r for c in chunks for r in decoded_rows(c)] == rows
