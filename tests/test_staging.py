"""How an input is cut into batches, one sync each (Oracle: about 250 MB and 500 uploads per sync)."""

from __future__ import annotations

from airflow_provider_eloqua.content import Chunk
from airflow_provider_eloqua.staging import MAX_UPLOADS_PER_SYNC, iter_batches


def _chunks(sizes: list[int]) -> list[Chunk]:
    return [Chunk(body=b"x" * size, content_type="text/csv", rows=1, first_row=i + 1) for i, size in enumerate(sizes)]


def test_batches_take_whole_chunks_within_the_byte_limit():
    chunks = _chunks([400, 400, 300, 900, 100, 1000])
    assert [index for index, _ in iter_batches(iter(chunks), 1000)] == [0, 0, 1, 2, 2, 3]


def test_batches_hold_at_most_500_uploads():
    chunks = _chunks([1] * (2 * MAX_UPLOADS_PER_SYNC + 1))
    indexes = [index for index, _ in iter_batches(iter(chunks), 10**9)]
    assert [indexes.count(i) for i in range(3)] == [MAX_UPLOADS_PER_SYNC, MAX_UPLOADS_PER_SYNC, 1]


def test_the_cut_is_the_same_every_time_the_input_is_read():
    sizes = [300, 700, 20, 980, 5, 500, 499]
    first = [(i, c.first_row) for i, c in iter_batches(iter(_chunks(sizes)), 1000)]
    again = [(i, c.first_row) for i, c in iter_batches(iter(_chunks(sizes)), 1000)]
    assert first == again


def test_a_chunk_bigger_than_the_limit_still_gets_a_batch_of_its_own():
    assert [index for index, _ in iter_batches(iter(_chunks([10, 2000, 10])), 1000)] == [0, 1, 2]
