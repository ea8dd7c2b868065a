"""transfers/sql_rows.py: a query's rows streamed from SQLite (embedded, a real database file) and from a
real PostgreSQL server (tests/deployment/postgres.py: a private cluster on a free loopback port).

As a load's source (the engine against the emulator, a dict as the task state store, no Airflow): fields
mapped from the site, batches per sync, a retry that runs the query again and resumes without doubling,
rejects mapped back to query rows; a million rows from PostgreSQL arrive exactly in many chunks, read through a
server-side cursor. The PostgreSQL tests are marked ``postgres``; part of ``make test`` (it installs
Debian's postgresql when missing and run as root).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from operator import itemgetter
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_eloqua.exceptions import EloquaApiError, EloquaInputError
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.load.checkpoint import Checkpoint
from airflow_provider_eloqua.load.engine import Load
from airflow_provider_eloqua.load.report import report_load
from airflow_provider_eloqua.load.spec import InputSpec, UploadSpec
from airflow_provider_eloqua.sync.waiting import wait_for_sync
from airflow_provider_eloqua.transfers.sql_rows import QueryRows, query_identity
from airflow_provider_eloqua.transfers.sql_to_eloqua import SqlToEloquaOperator
from tests.dag_runner import connection_json
from tests.deployment.postgres import DB_NAME, DB_USER, PostgresServer
from tests.load.test_checkpoint import Store
from tests.load.test_field_mapping import mapped_load

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


def test_records_are_the_rows_values_in_column_order(db):
    rows = db.rows("SELECT score, email FROM people WHERE score <= 3 ORDER BY score")
    with rows.open_records() as it:
        assert list(it) == [(i, f"p{i}@x.io") for i in range(1, 4)]
    assert rows.columns == ["score", "email"]
    with rows.open() as it:
        assert list(it) == [{"score": i, "email": f"p{i}@x.io"} for i in range(1, 4)]
    assert len(db.opened) == 2 and db.closed()  # the run that read the columns is the second open's


def test_start_returns_once_connected_while_the_query_goes_on(db):
    """start() (the operator's, before it reads its checkpoint and template) waits for the connection,
    which may ask Airflow's supervisor for it, and not for the query, which then runs meanwhile."""
    gate, connected = threading.Event(), []

    def connect():
        conn = db.connect()
        conn.create_function("held", 0, lambda: int(gate.wait(5)))  # the query waits for the gate
        connected.append(threading.current_thread().name)
        return conn

    rows = QueryRows(connect, "SELECT email FROM people WHERE held() ORDER BY score", None, 3, NEW_YORK, "held")
    reader = rows.start()
    assert connected == ["eloqua-sql-reader"]
    assert not reader._described.is_set()  # the query has not answered
    gate.set()
    with rows.open() as it:  # reads the run start() began
        assert [row["email"] for row in it] == [f"p{i}@x.io" for i in range(1, 11)]
    assert len(db.opened) == 1 and db.closed()


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


PEOPLE_ROWS = 300
BAD = (5, 250)  # query rows whose e-mail address Eloqua refuses
PEOPLE_QUERY = 'SELECT email AS "Email Address", first AS "first name", country AS C_Country FROM people ORDER BY id'


@pytest.fixture
def hook(emulator, monkeypatch) -> EloquaHook:
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_SQL_TEST", connection_json(emulator))
    return EloquaHook("eloqua_sql_test")


@pytest.fixture
def people(tmp_path) -> Database:
    with sqlite3.connect(tmp_path / "people.db") as conn:
        conn.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, first TEXT, country TEXT)")
        conn.executemany(
            "INSERT INTO people VALUES (?, ?, ?, ?)",
            [(i, f"bad-{i}" if i in BAD else f"p{i}@example.com", f"F{i}", "DE") for i in range(1, PEOPLE_ROWS + 1)],
        )
    return Database(tmp_path / "people.db")


def _load(hook: EloquaHook, store: Store, people: Database) -> Load:
    source = InputSpec(rows=people.rows(PEOPLE_QUERY, fetch_size=64))
    upload = UploadSpec(chunk_bytes=2048, max_bytes_per_sync=4096)  # several syncs
    return mapped_load(hook, Checkpoint(store), source, upload=upload, timeout=30)


def test_a_query_loads_in_batches_resumes_after_a_failure_and_maps_rejects(hook, emulator, people, tmp_path):
    store = Store()
    # The first try dies waiting for its first batch's sync (a refused look at it).
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+$", status=400, times=1)
    with pytest.raises(EloquaApiError):
        _load(hook, store, people).run()
    assert len(emulator.control.state()["syncs"]) == 1

    load = _load(hook, store, people)  # the retry: the query runs again, batch 1 is not staged again
    result = load.run()
    status = wait_for_sync(hook, result.sync_uri, poll_interval=0.05, deadline=time.time() + 30)
    rejects = tmp_path / "rejects.ndjson"
    report = report_load(hook, load.checkpoint, load.source, result.started(), status, rejects_path=str(rejects))

    syncs = emulator.control.state()["syncs"]
    assert result.totals.syncs == len(syncs) == 2  # batch 1 (169 rows) loaded by the first try
    assert sum(sync["rows"] for sync in syncs) == PEOPLE_ROWS  # every row staged once, across both tries
    assert report.rejected == len(BAD)
    records = emulator.control.records("/contacts")
    assert sorted(r["identifier"] for r in records) == sorted(
        f"p{i}@example.com" for i in range(1, PEOPLE_ROWS + 1) if i not in BAD
    )
    assert {r["{{Contact.Field(C_Country)}}"] for r in records} == {"DE"}
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert sorted(r["input_row"] for r in written) == list(BAD)  # query rows, across batches
    assert people.closed()


def test_columns_that_match_no_field_fail_before_anything_is_created(hook, emulator, people):
    source = InputSpec(rows=people.rows("SELECT email AS C_EmailAddress, id AS shoe_size FROM people"))
    load = mapped_load(hook, Checkpoint(Store()), source)
    with pytest.raises(Exception, match="column 'shoe_size' matches no contacts field"):
        load.run()
    source.rows.close()
    assert emulator.control.state()["definitions"] == []
    assert people.closed()


#: A warehouse table of a million rows: exact in the emulator, in many chunks of a megabyte.
PG_ROWS = 1_000_000
#: Text that needs CSV quoting (commas, doubled quotes) and non-ASCII names, as a warehouse has.
SEED = """
CREATE TABLE leads AS
SELECT i AS id,
       'lead' || i || '@example' || (i % 50) || '.com' AS email,
       (ARRAY['Anna', 'Jörg', 'Zoë', 'Li', 'Sofía', 'Chloé'])[i % 6 + 1] AS first_name,
       (ARRAY['Müller', 'O''Brien', 'García', 'Nguyen'])[i % 4 + 1] AS last_name,
       CASE WHEN i % 10 = 0 THEN 'Acme ' || (i % 97) || ', Inc.'
            WHEN i % 101 = 0 THEN 'The "Best" Co ' || (i % 13)
            ELSE 'Company ' || (i % 977) END AS company,
       (ARRAY['DE', 'US', 'FR', 'GB'])[i % 4 + 1] AS country
FROM generate_series(1, {rows}) AS i
"""
PG_QUERY = """
SELECT email AS "Email Address", first_name AS "First Name", last_name AS C_LastName,
       company AS "company", country AS "Country"
FROM leads
"""
STATEMENTS = ["C_EmailAddress", "C_FirstName", "C_LastName", "C_Company", "C_Country"]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    import psycopg

    server = PostgresServer()
    try:
        server.start()
        with psycopg.connect(host="127.0.0.1", port=server.port, user=DB_USER, dbname=DB_NAME, autocommit=True) as conn:
            conn.execute(SEED.replace("{rows}", str(PG_ROWS)))  # type: ignore[call-overload]
            # Every statement in the server's log from now on.
            conn.execute("ALTER SYSTEM SET log_statement = 'all'")
            conn.execute("SELECT pg_reload_conf()")
        yield server
    finally:
        server.stop()


def _differences(got: list[tuple], wanted: list[tuple]) -> dict[str, list[tuple]]:
    """Rows of ``wanted`` missing from ``got`` and rows of ``got`` not in ``wanted`` (each counted: a row twice
    where it is once is one too many); the first few of each."""
    have, want = Counter(got), Counter(wanted)
    return {"missing": list((want - have).elements())[:5], "extra": list((have - want).elements())[:5]}


@pytest.mark.postgres
@pytest.mark.timeout(1800)
def test_a_million_rows_from_postgres_arrive_exactly(postgres, emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_PG_TEST", connection_json(emulator))
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE_PG",
        json.dumps(
            {"conn_type": "postgres", "host": "127.0.0.1", "port": postgres.port, "login": DB_USER, "schema": DB_NAME}
        ),
    )
    operator = SqlToEloquaOperator(
        task_id="load", sql=PG_QUERY, sql_conn_id="warehouse_pg", entity="contacts", name="pg leads", fetch_size=20_000
    )
    hook = EloquaHook("eloqua_pg_test")
    source = InputSpec(rows=operator.query_rows)
    load = mapped_load(
        hook,
        Checkpoint(Store()),
        source,
        operator.mapped_definition(),
        upload=UploadSpec(chunk_bytes=1024 * 1024),
        poll_interval=0.1,
    )

    result = load.run()
    status = wait_for_sync(hook, result.sync_uri, poll_interval=0.1, deadline=time.time() + 900)

    assert status == "success"
    assert result.totals.rows == PG_ROWS and result.totals.chunks > 1
    assert [s["rows"] for s in emulator.control.state()["syncs"]] == [PG_ROWS]
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=postgres.port, user=DB_USER, dbname=DB_NAME) as conn:
        wanted = conn.execute("SELECT email, first_name, last_name, company, country FROM leads").fetchall()
    # The query ran once: the run that read its columns (for the mapping) is the one the load read.
    assert postgres.log.read_text(errors="replace").count('AS "Email Address"') == 1
    records = emulator.state.records("/contacts")
    fields = itemgetter(*(f"{{{{Contact.Field({s})}}}}" for s in STATEMENTS))
    got = [fields(r) for r in records]
    assert len(got) == PG_ROWS
    assert _differences(got, wanted) == {"missing": [], "extra": []}


@pytest.mark.postgres
@pytest.mark.timeout(1800)
def test_psycopg2_reads_a_named_cursor_in_batches(postgres):
    """psycopg2 (PostgresHook's driver without psycopg 3) reads through a named cursor: the server keeps the
    result and the reader fetches it ``fetch_size`` rows at a time."""
    import psycopg2

    from airflow_provider_eloqua.transfers.sql_rows import QueryRows

    def connect():
        return psycopg2.connect(host="127.0.0.1", port=postgres.port, user=DB_USER, dbname=DB_NAME)

    sql = "SELECT id, email FROM leads WHERE id <= %(last)s ORDER BY id"
    rows = QueryRows(connect, sql, {"last": 25_000}, 10_000, dt.UTC, "psycopg2 test")
    with rows.open() as it:
        got = [row["id"] for row in it]
    assert got == list(range(1, 25_001))
    server_log = postgres.log.read_text(errors="replace")
    assert 'DECLARE "eloqua_' in server_log and server_log.count("FETCH FORWARD 10000") == 4  # 10k, 10k, 5k, then none


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_a_reader_stopped_early_stops_the_query(postgres):
    """A load that fails part-way (a bad row, Eloqua refusing a chunk) stops reading: the query is
    cancelled on the server instead of streamed to its end, and the connection is closed."""
    import psycopg

    from airflow_provider_eloqua.transfers.sql_rows import QueryRows

    def connect():
        return psycopg.connect(host="127.0.0.1", port=postgres.port, user=DB_USER, dbname=DB_NAME)

    sql = "SELECT l.email, n FROM leads AS l, generate_series(1, 50) AS n"  # 50M rows, streamed as they come
    rows = QueryRows(connect, sql, None, 10_000, dt.UTC, "early stop")
    with rows.open() as it:
        assert next(it)["n"] == 1
    with psycopg.connect(host="127.0.0.1", port=postgres.port, user=DB_USER, dbname=DB_NAME) as conn:
        running = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query = %s AND pid <> pg_backend_pid()", (sql,)
        ).fetchone()
    assert running == (0,)  # cancelled, and its connection gone
