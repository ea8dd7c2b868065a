"""load/rows.py: a sync's rejects listed once and mapped back to input rows (pure, no HTTP)."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.load.checkpoint import Batch
from airflow_provider_eloqua.load.rows import (
    RejectList,
    check_staged_input,
    locate_rows,
    staged_input,
    staged_locator,
)
from airflow_provider_eloqua.load.spec import InputSpec

ROWS = [{"Email": f"p{i}@example.com"} for i in range(1, 11)]


def reject(index, email):
    return {"recordIndex": index, "fieldValues": {"Email": email}, "statusCode": "ELQ-00040", "message": "bad"}


def test_reject_list_is_read_once_and_replayed():
    consumed = []

    def listing():
        for item in [reject(2, "p2@example.com"), reject(7, "x")]:
            consumed.append(item)
            yield item

    with RejectList(listing()) as rejects:
        assert rejects.count == 2 and rejects.record_indexes == {2, 7}
        assert list(rejects) == list(rejects) == consumed
    assert len(consumed) == 2  # the listing itself was iterated once


def test_rows_are_confirmed_by_identifier_at_index_or_the_next_row():
    with RejectList([reject(2, "p2@example.com"), reject(2, "p3@example.com"), reject(4, "someone@else")]) as rejects:
        rows = locate_rows(InputSpec(data=ROWS), "Email", 0, rejects)
        assert rows is not None
        assert [rows.row_of(r) for r in rejects] == [2, 3, None]  # zero- or one-based; unconfirmed: None


def test_a_later_batch_adds_its_offset():
    with RejectList([reject(1, "p7@example.com")]) as rejects:
        rows = locate_rows(InputSpec(data=ROWS), "Email", 6, rejects)
        assert rows is not None and rows.row_of(next(iter(rejects))) == 7


def test_a_file_is_read_once_for_just_the_rejected_positions(tmp_path):
    source = tmp_path / "rows.csv"
    source.write_text("Email\n" + "".join(f"{r['Email']}\n" for r in ROWS))
    with RejectList([reject(3, "p4@example.com")]) as rejects:
        rows = locate_rows(InputSpec(path=str(source)), "Email", 0, rejects)
        assert rows is not None
        assert dict(rows.values) == {3: "p3@example.com", 4: "p4@example.com"}  # only the candidates kept
        assert rows.row_of(next(iter(rejects))) == 4


def test_nothing_to_locate_without_rejects_or_identifier():
    with RejectList([]) as none:
        assert locate_rows(InputSpec(data=ROWS), "Email", 0, none) is None
    with RejectList([reject(1, "p1@example.com")]) as one:
        assert locate_rows(InputSpec(data=ROWS), None, 0, one) is None


def _through_xcom(value):
    """What the sensor receives: the XCom's JSON, decoded."""
    return json.loads(json.dumps(value))


def test_rows_given_as_data_travel_as_the_batchs_identifier_values():
    batch = Batch(index=1, first_row=5, rows=3, chunks=1, bytes=100)
    staged = _through_xcom(staged_input(InputSpec(data=ROWS), "Email", batch))
    assert staged == {
        "identifier": "Email",
        "offset": 4,
        "values": ["p5@example.com", "p6@example.com", "p7@example.com"],
    }
    with RejectList([reject(2, "p6@example.com"), reject(1, "p1@example.com")]) as rejects:
        rows = staged_locator(check_staged_input(staged), rejects)
        assert rows is not None and [rows.row_of(r) for r in rejects] == [6, None]  # row 1 is not in the batch


def test_a_file_is_named_and_read_again_for_the_rejected_positions(tmp_path):
    source = tmp_path / "rows.ndjson"
    source.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    batch = Batch(index=0, first_row=1, rows=10, chunks=1, bytes=300)
    staged = _through_xcom(staged_input(InputSpec(path=str(source)), "Email", batch))
    assert staged == {"identifier": "Email", "offset": 0, "path": str(source), "format": "ndjson"}
    with RejectList([reject(8, "p9@example.com")]) as rejects:
        rows = staged_locator(check_staged_input(staged), rejects)
        assert rows is not None and rows.row_of(next(iter(rejects))) == 9


def test_nothing_is_staged_without_an_identifier_or_a_batch():
    batch = Batch(index=0, first_row=1, rows=10, chunks=1, bytes=300)
    assert staged_input(InputSpec(data=ROWS), None, batch) == {}
    assert staged_input(InputSpec(data=ROWS), "Email", None) == {}
    assert check_staged_input({}) is None and check_staged_input(None) is None


class Rows:
    """A row source read afresh by every open (as a query is), counting its passes."""

    identity, columns, opened = "rows", ("Email",), 0

    @contextmanager
    def open(self):
        self.opened += 1
        yield iter(ROWS)


def test_a_row_source_travels_as_its_description_and_is_opened_again_by_the_reader():
    batch = Batch(index=0, first_row=1, rows=10, chunks=1, bytes=300)
    described = {"sql_conn_id": "warehouse", "sql": "SELECT email AS Email FROM people", "parameters": None}
    source = Rows()
    staged = _through_xcom(staged_input(InputSpec(rows=source), "Email", batch, row_source=described))
    assert staged == {"identifier": "Email", "offset": 0, "row_source": described}
    with RejectList([reject(3, "p4@example.com")]) as rejects:
        assert staged_locator(check_staged_input(staged), rejects) is None  # the reader has not opened it
        rows = staged_locator(check_staged_input(staged), rejects, source)
        assert rows is not None and rows.row_of(next(iter(rejects))) == 4 and source.opened == 1
    assert staged_input(InputSpec(rows=source), "Email", batch) == {}  # nobody described it


def test_the_earlier_batches_travel_with_or_without_the_last_batchs_rows():
    earlier = [{"sync_uri": "/syncs/7", "rejected": 1, "reject_rows": {"2": 3}}]
    batch = Batch(index=1, first_row=5, rows=2, chunks=1, bytes=100)
    staged = _through_xcom(staged_input(InputSpec(data=ROWS), "Email", batch, earlier=earlier))
    assert check_staged_input(staged) == {**staged, "earlier": earlier}
    assert staged["values"] == ["p5@example.com", "p6@example.com"]
    assert check_staged_input(_through_xcom(staged_input(InputSpec(data=ROWS), None, batch, earlier=earlier))) == {
        "earlier": earlier
    }


@pytest.mark.parametrize(
    "staged",
    [{"path": "/tmp/x.csv"}, {"identifier": "Email", "offset": 0, "row_source": "SELECT 1"}, {"earlier": [{}]}],
)
def test_a_staged_input_that_is_not_an_uploads_is_refused_naming_it(staged):
    with pytest.raises(EloquaInputError, match=r"^staged_input must be the staged_input XCom of an Eloqua upload"):
        check_staged_input(staged)
