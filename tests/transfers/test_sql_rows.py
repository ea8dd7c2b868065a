"""transfers/sql_rows.py: a query's rows streamed from SQLite (embedded, a real database file)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.transfers.sql_rows import QueryRows, query_identity

NEW_YORK = ZoneInfo("America/New_York")


class Database:
    """A SQLite file; every connection made is counted, and must be closed by the rows' reader."""

    def __init__(self, path):
        self.path = str(path)
        self.opened: list[sqlite3.Connection] = []
        self.threads: set[str] = set()

    def connect(self) -> sqlite3.Connection:
        # Not tied to its thread, so that the test can see whether it was closed.
        conn = sqlite3.connect(self.path, check_same_thread=False)
        self.opened.append(conn)
        self.threads.add(threading.current_thread().name)
        return conn

    def closed(self) -> bool:
        for conn in self.opened:
            try:
                conn.execute("SELECT 1")
            except sqlite3.ProgrammingError as exc:
                assert "closed database" in str(exc)
                continue
            return False
        return True

    def rows(self, sql: str, parameters=None, fetch_size: int = 3) -> QueryRows:
        return QueryRows(self.connect, sql, parameters, fetch_size, NEW_YORK, query_identity("db", sql, parameters))


@pytest.fixture
def db(tmp_path) -> Database:
    with sqlite3.connect(tmp_path / "warehouse.db") as conn:
        conn.execute("CREATE TABLE people (email TEXT, name TEXT, score INTEGER)")
        conn.executemany("INSERT INTO people VALUES (?, ?, ?)", [(f"p{i}@x.io", f"N{i}", i) for i in range(1, 11)])
    return Database(tmp_path / "warehouse.db")


def test_rows_stream_in_batches_and_every_open_runs_the_query_again(db):
    rows = db.rows('SELECT email AS "Email Address", score FROM people WHERE score > ? ORDER BY score', (2,))
    assert rows.columns == ["Email Address", "score"]
    for _ in range(2):
        with rows.open() as it:
            got = list(it)
        assert got == [{"Email Address": f"p{i}@x.io", "score": i} for i in range(3, 11)]
    assert len(db.opened) == 2  # the run that read the columns is the first open's
    assert db.threads == {"eloqua-sql-reader"}  # every database call in the reading thread
    assert db.closed()


def test_a_reader_stopped_early_closes_its_connection(db):
    rows = db.rows("SELECT * FROM people", fetch_size=1)
    with rows.open() as it:
        assert next(it)["email"] == "p1@x.io"
    assert db.closed()
    rows.columns  # noqa: B018 - a run for the columns that nothing reads ...
    rows.close()  # ... is closed by close()
    assert db.closed() and len(db.opened) == 2


def test_values_become_what_eloqua_reads(db):
    aware = dt.datetime(2026, 7, 1, 16, 30, 5, 123456, tzinfo=dt.UTC)  # 12:30:05 in New York (EDT)
    naive = dt.datetime(2026, 1, 2, 3, 4, 5, 999)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    with sqlite3.connect(db.path) as conn:
        conn.execute("CREATE TABLE t (n INTEGER)")
        conn.execute("INSERT INTO t VALUES (1)")
    rows = db.rows("SELECT n FROM t")
    # SQLite hands out only text, numbers, blobs and NULL: the driver's other types come from a real
    # driver's rows, here given to the conversion directly.
    from airflow_provider_eloqua.transfers.sql_rows import _sendable

    batch = [(aware, naive, dt.date(2026, 2, 3), Decimal("1.50"), True, None, ident, 2.5)]
    columns = ["a", "n", "d", "dec", "b", "none", "id", "f"]
    assert _sendable(batch, columns, 0, rows.time_zone) == [
        ("2026-07-01 12:30:05", "2026-01-02 03:04:05", "2026-02-03", Decimal("1.50"), True, None, str(ident), 2.5)
    ]


def test_a_value_that_cannot_be_sent_names_its_column_and_row(db):
    with sqlite3.connect(db.path) as conn:
        conn.execute("CREATE TABLE files (email TEXT, payload BLOB)")
        conn.executemany("INSERT INTO files VALUES (?, ?)", [("a@x.io", None), ("b@x.io", b"\x00\x01")])
    rows = db.rows("SELECT * FROM files", fetch_size=1)
    with (
        pytest.raises(EloquaInputError, match=r"column 'payload', query row 2: a bytes value cannot be sent"),
        rows.open() as it,
    ):
        list(it)
    assert db.closed()


def test_a_column_name_given_twice_is_refused(db):
    rows = db.rows("SELECT email, email FROM people")
    with pytest.raises(EloquaInputError, match="more than one column named 'email'"):
        rows.columns  # noqa: B018
    rows.close()


def test_a_query_error_is_raised_where_the_rows_are_read(db):
    rows = db.rows("SELECT nope FROM people")
    with pytest.raises(sqlite3.OperationalError, match="no such column"):
        rows.columns  # noqa: B018
    rows.close()
    assert db.closed()


def test_the_identity_is_the_rendered_query_and_its_parameters():
    assert query_identity("db", "SELECT 1", {"a": 1}) == query_identity("db", "SELECT 1", {"a": 1})
    assert query_identity("db", "SELECT 1", {"a": 1}) != query_identity("db", "SELECT 1", {"a": 2})
    assert query_identity("db", "SELECT 1", None) != query_identity("db", "SELECT 2", None)
