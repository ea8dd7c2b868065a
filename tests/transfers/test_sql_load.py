"""A query's rows through the load engine into the emulator (no Airflow run: a dict is the task state store):
fields mapped from the site, batches per sync, a retry that resumes without doubling, rejects mapped back
to query rows."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from airflow_provider_eloqua.exceptions import EloquaApiError
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.load.checkpoint import Checkpoint
from airflow_provider_eloqua.load.engine import Load, report_load
from airflow_provider_eloqua.load.spec import InputSpec, UploadSpec
from airflow_provider_eloqua.sync.waiting import wait_for_sync
from tests.dag_runner import connection_json
from tests.load.test_checkpoint import Store
from tests.load.test_field_mapping import mapped_load
from tests.transfers.test_sql_rows import Database

ROWS = 300
BAD = (5, 250)  # query rows whose e-mail address Eloqua refuses
QUERY = 'SELECT email AS "Email Address", first AS "first name", country AS C_Country FROM people ORDER BY id'


@pytest.fixture
def hook(emulator, monkeypatch) -> EloquaHook:
    monkeypatch.setenv("AIRFLOW_CONN_ELOQUA_SQL_TEST", connection_json(emulator))
    return EloquaHook("eloqua_sql_test")


@pytest.fixture
def db(tmp_path) -> Database:
    with sqlite3.connect(tmp_path / "warehouse.db") as conn:
        conn.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, first TEXT, country TEXT)")
        conn.executemany(
            "INSERT INTO people VALUES (?, ?, ?, ?)",
            [(i, f"bad-{i}" if i in BAD else f"p{i}@example.com", f"F{i}", "DE") for i in range(1, ROWS + 1)],
        )
    return Database(tmp_path / "warehouse.db")


def _load(hook: EloquaHook, store: Store, db: Database) -> Load:
    source = InputSpec(rows=db.rows(QUERY, fetch_size=64))
    upload = UploadSpec(chunk_bytes=2048, max_bytes_per_sync=4096)  # several syncs
    return mapped_load(hook, Checkpoint(store), source, upload=upload, timeout=30)


def test_a_query_loads_in_batches_resumes_after_a_failure_and_maps_rejects(hook, emulator, db, tmp_path):
    store = Store()
    # The first try dies waiting for its first batch's sync (a refused look at it).
    emulator.control.add_fault(method="GET", path=r"^/syncs/\d+$", status=400, times=1)
    with pytest.raises(EloquaApiError):
        _load(hook, store, db).run()
    assert len(emulator.control.state()["syncs"]) == 1

    load = _load(hook, store, db)  # the retry: the query runs again, batch 1 is not staged again
    result = load.run()
    status = wait_for_sync(hook, result.sync_uri, poll_interval=0.05, deadline=time.time() + 30)
    rejects = tmp_path / "rejects.ndjson"
    report = report_load(hook, load.checkpoint, load.source, result.started(), status, rejects_path=str(rejects))

    syncs = emulator.control.state()["syncs"]
    assert result.totals.syncs == len(syncs) == 2  # batch 1 (169 rows) loaded by the first try
    assert sum(sync["rows"] for sync in syncs) == ROWS  # every row staged once, across both tries
    assert report.rejected == len(BAD)
    records = emulator.control.records("/contacts")
    assert sorted(r["identifier"] for r in records) == sorted(
        f"p{i}@example.com" for i in range(1, ROWS + 1) if i not in BAD
    )
    assert {r["{{Contact.Field(C_Country)}}"] for r in records} == {"DE"}
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert sorted(r["input_row"] for r in written) == list(BAD)  # query rows, across batches
    assert db.closed()


def test_columns_that_match_no_field_fail_before_anything_is_created(hook, emulator, db):
    source = InputSpec(rows=db.rows("SELECT email AS C_EmailAddress, id AS shoe_size FROM people"))
    load = mapped_load(hook, Checkpoint(Store()), source)
    with pytest.raises(Exception, match="column 'shoe_size' matches no contacts field"):
        load.run()
    source.rows.close()
    assert emulator.control.state()["definitions"] == []
    assert db.closed()
