"""A million rows from a real PostgreSQL server (tests/deployment/postgres.py: a private cluster on a
free loopback port) through SqlToEloquaOperator's query source and the load engine into the emulator:
every record arrives exactly, read through a server-side cursor.

Marked ``postgres``; part of ``make test`` (it installs Debian's postgresql when missing and run as root).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterator

import pytest

from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.load.checkpoint import Checkpoint
from airflow_provider_eloqua.load.spec import InputSpec
from airflow_provider_eloqua.sync.waiting import wait_for_sync
from airflow_provider_eloqua.transfers.sql_to_eloqua import SqlToEloquaOperator
from tests.dag_runner import connection_json
from tests.deployment.postgres import DB_NAME, DB_USER, PostgresServer
from tests.load.test_checkpoint import Store
from tests.load.test_field_mapping import mapped_load

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(1800)]

ROWS = 1_000_000
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
QUERY = """
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
            conn.execute(SEED.replace("{rows}", str(ROWS)))  # type: ignore[call-overload]
            # Every statement in the server's log from now on.
            conn.execute("ALTER SYSTEM SET log_statement = 'all'")
            conn.execute("SELECT pg_reload_conf()")
        yield server
    finally:
        server.stop()


def _digest(rows) -> str:
    digest = hashlib.sha256()
    for row in sorted(rows):
        digest.update(json.dumps(row, ensure_ascii=False).encode())
    return digest.hexdigest()


def test_a_million_rows_from_postgres_arrive_exactly(postgres, emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_PG_TEST", connection_json(emulator))
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE_PG",
        json.dumps(
            {"conn_type": "postgres", "host": "127.0.0.1", "port": postgres.port, "login": DB_USER, "schema": DB_NAME}
        ),
    )
    operator = SqlToEloquaOperator(
        task_id="load", sql=QUERY, sql_conn_id="warehouse_pg", entity="contacts", name="pg leads", fetch_size=20_000
    )
    hook = EloquaHook("eloqua_pg_test")
    source = InputSpec(rows=operator.query_rows)
    load = mapped_load(hook, Checkpoint(Store()), source, operator.mapped_definition(), poll_interval=0.1)

    result = load.run()
    status = wait_for_sync(hook, result.sync_uri, poll_interval=0.1, deadline=time.time() + 900)

    assert status == "success"
    assert result.totals.rows == ROWS and result.totals.chunks > 1
    assert [s["rows"] for s in emulator.control.state()["syncs"]] == [ROWS]
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=postgres.port, user=DB_USER, dbname=DB_NAME) as conn:
        wanted = conn.execute("SELECT email, first_name, last_name, company, country FROM leads").fetchall()
    # The query ran once: the run that read its columns (for the mapping) is the one the load read.
    assert postgres.log.read_text(errors="replace").count('AS "Email Address"') == 1
    records = emulator.state.records("/contacts")
    got = [tuple(r[f"{{{{Contact.Field({s})}}}}"] for s in STATEMENTS) for r in records]
    assert len(got) == ROWS
    assert _digest(got) == _digest(wanted)


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
