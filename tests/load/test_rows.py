"""load/rows.py: a sync's rejects listed once and mapped back to input rows (pure, no HTTP)."""

from __future__ import annotations

from airflow_provider_eloqua.load.rows import RejectList, locate_rows
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
