"""How an input is cut into batches, one sync each (Oracle: about 250 MB and 500 uploads per sync)."""

from __future__ import annotations

import pytest

from airflow_provider_eloqua.content import Chunk
from airflow_provider_eloqua.staging import MAX_UPLOADS_PER_SYNC, iter_batches, stage_input


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


# ------------------------------------------------------------------ restarts after an ambiguous POST


@pytest.fixture
def hook(emulator, monkeypatch):
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook
    from tests.dag_runner import connection_json

    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_STAGING_TEST", connection_json(emulator))
    return EloquaHook("eloqua_staging_test", retry_policy={"initial_wait": 1, "max_wait": 60})


def _definition(hook) -> str:
    body = {
        "name": "staging",
        "fields": {"Email": "{{Contact.Field(C_EmailAddress)}}"},
        "identifierFieldName": "Email",
        "isSyncTriggeredOnImport": False,
    }
    return hook.create_import("contacts", body)["uri"]


def _rows_chunks(n: int):
    return lambda: iter(
        [
            Chunk(body=f"Email\np{i}@x.io\n".encode(), content_type="text/csv", rows=1, first_row=i)
            for i in range(1, n + 1)
        ]
    )


def test_restarts_after_ambiguous_503s_are_spaced_by_the_retry_policy(hook, emulator):
    """Two 503s on data POSTs: each restart waits the policy's backoff (full jitter below 1 s, then
    below 2 s) instead of firing at once, so a brief outage is ridden out within the try."""
    uri = _definition(hook)
    emulator.control.add_fault(method="POST", path=r"/data$", times=2, status=503)
    sleeps: list[float] = []

    result = stage_input(hook, uri, _rows_chunks(3), sleep=sleeps.append)

    assert (result.rows, result.restarts) == (3, 2)
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 1 and 0 <= sleeps[1] <= 2


def test_a_restart_waits_the_retry_after_eloqua_asks_for(hook, emulator):
    uri = _definition(hook)
    emulator.control.add_fault(method="POST", path=r"/data$", times=1, status=503, headers={"Retry-After": "7"})
    sleeps: list[float] = []

    result = stage_input(hook, uri, _rows_chunks(2), sleep=sleeps.append)

    assert (result.rows, result.restarts, sleeps) == (2, 1, [7.0])
