"""Inputs bigger than one sync takes, loaded in batches (one sync each), through the real operators
running in Airflow (``dag.test()``) against the emulator.

Oracle's limit is about 250 MB per sync; ``max_bytes_per_sync`` lowers it so that a few kilobytes
make several batches. Each case checks that Eloqua ends up with exactly the input's records, one
sync per batch with that batch's rows, and that restarts and retries never load a batch twice.
Activities never update, so a doubled batch would show as doubled records.
"""

from __future__ import annotations

import csv
import json

import pytest

from airflow_provider_eloqua.chunking import iter_row_chunks
from airflow_provider_eloqua.staging import iter_batches
from tests.system.dags.matrix import (
    ACTIVITY_FIELDS,
    CONTACT_FIELDS,
    Site,
    activities,
    api_requests,
    captured,
    contacts,
    data_posts,
    run_matrix,
    skip_first,
    staged_rows,
    syncs,
    write_csv,
)

CHUNK_BYTES = 1024
MAX_BYTES = 2 * CHUNK_BYTES  # two chunks per batch


@pytest.fixture
def env(airflow_db, eloqua_conn):
    return eloqua_conn


def _batch_rows(rows, fields, identifier) -> list[int]:
    """Rows per batch, cut the way the operators cut them."""
    chunks = iter_row_chunks(rows, list(fields), identifier, CHUNK_BYTES)
    per_batch: dict[int, int] = {}
    for index, chunk in iter_batches(chunks, MAX_BYTES):
        per_batch[index] = per_batch.get(index, 0) + chunk.rows
    return list(per_batch.values())


def _spec(rows, **spec):
    return {
        "mode": "import",
        "entity": "activities",
        "fields": ACTIVITY_FIELDS,
        "identifier": "ExternalId",
        "data": rows,
        "chunk_bytes": CHUNK_BYTES,
        "max_bytes_per_sync": MAX_BYTES,
        **spec,
    }


# Rows of text go as CSV (the smallest encoding that means the same): padded so that 60 rows
# still make six 1 KiB chunks, three batches of two.
ROWS = [dict(row, AssetName=f"{row['AssetName']} {'x' * 64}") for row in activities(60)]
EXPECTED = _batch_rows(ROWS, ACTIVITY_FIELDS, "ExternalId")


def test_the_input_cuts_into_three_batches():
    assert len(EXPECTED) == 3 and sum(EXPECTED) == 60


def test_big_input_is_loaded_in_batches_one_sync_each(env, monkeypatch):
    result = run_matrix(monkeypatch, **_spec(ROWS))

    assert result.state == "success", result.tasks
    assert [s["rows"] for s in syncs(env)] == EXPECTED
    assert [s["status"] for s in syncs(env)] == ["success"] * 3
    assert len(env.control.records("/activities")) == 60
    summary = result["import"].return_value
    assert summary["syncs"] == 3
    assert (summary["rows"], summary["chunks"]) == (60, 6)
    assert summary["bytes"] == sum(
        len(c.body) for c in iter_row_chunks(ROWS, list(ACTIVITY_FIELDS), "ExternalId", 1024)
    )
    # the counts add up over the three syncs; sync_uri is the last one
    assert (summary["rows_processed"], summary["created"], summary["rejected"]) == (60, 60, 0)
    assert summary["status"] == "success"
    assert summary["sync_uri"] == syncs(env)[-1]["uri"]
    assert result["import"].xcoms["sync_uri"] == summary["sync_uri"]


def test_split_upload_waits_for_earlier_batches_and_leaves_the_last_to_the_sensor(env, monkeypatch):
    result = run_matrix(monkeypatch, **_spec(ROWS, mode="split"))

    assert result.state == "success", result.tasks
    upload = result["upload"].return_value
    assert (upload["rows"], upload["syncs"]) == (60, 3)
    assert upload["sync_uri"] == syncs(env)[-1]["uri"] == result["upload"].xcoms["sync_uri"]
    waited = result["wait"].return_value
    assert waited["sync_uri"] == upload["sync_uri"]
    # the sensor reports the whole load: the earlier batches' syncs travel in the upload's staged_input
    assert (waited["rows_processed"], waited["created"]) == (60, 60)
    assert [s["rows"] for s in syncs(env)] == EXPECTED
    assert len(env.control.records("/activities")) == 60


def test_big_input_without_start_sync_fails_and_stages_nothing(env, monkeypatch, capfd, caplog):
    uri = Site(env).create_import("/activities", ACTIVITY_FIELDS, "ExternalId")

    result = run_matrix(monkeypatch, **_spec(ROWS, mode="upload", definition_uri=uri, start_sync=False))

    assert result.state == "failed"
    assert "cannot be loaded in batches" in captured(capfd, caplog)
    assert set(staged_rows(env).values()) == {0}  # the template, and the load's copy it cleared
    assert syncs(env) == []


def test_dropped_post_in_batch_two_restarts_that_batch_only(env, monkeypatch):
    """The second POST of batch 2 stages its rows and then drops the connection: batch 2 is cleared
    and staged again from its first chunk; batch 1 (already synced) is not touched."""
    skip_first(env, "POST", r"/data$", count=3)  # batch 1's two chunks, batch 2's first
    env.control.add_fault(method="POST", path=r"/data$", times=1, action="drop_after")

    result = run_matrix(monkeypatch, **_spec(ROWS))

    assert result.state == "success", result.tasks
    assert result["import"].try_number == 1
    uploads = [u["rows"] for u in env.control.state()["uploads"]]
    # 2 (batch 1) + 2 (batch 2, the second dropped after staging) + 2 (batch 2 again) + 2 (batch 3)
    assert len(uploads) == 8
    assert len(api_requests(env, "DELETE", r"/data$")) == 1
    assert [s["rows"] for s in syncs(env)] == EXPECTED
    assert len(env.control.records("/activities")) == 60
    assert result["import"].return_value["created"] == 60


def test_errored_intermediate_sync_fails_the_try_and_the_retry_resumes_at_that_batch(env, monkeypatch, capfd, caplog):
    env.control.configure(force_status=["success", "error"])

    result = run_matrix(monkeypatch, **_spec(ROWS, retries=1))

    assert result.state == "success", result.tasks
    assert result["import"].try_number == 2
    output = captured(capfd, caplog)
    second = f"input rows {EXPECTED[0] + 1}-{EXPECTED[0] + EXPECTED[1]}"
    assert f"of batch 2 ({second}) ended with status 'error'" in output
    assert "Batches 1-1 are loaded (syncs /syncs/100), so they are skipped; resuming at batch 2" in output
    # batch 1 once; batch 2 errored, then again; batch 3
    assert [s["status"] for s in syncs(env)] == ["success", "error", "success", "success"]
    assert [s["rows"] for s in syncs(env)] == [EXPECTED[0], EXPECTED[1], EXPECTED[1], EXPECTED[2]]
    assert len(env.control.records("/activities")) == 60
    summary = result["import"].return_value
    assert (summary["rows"], summary["syncs"], summary["created"], summary["rows_processed"]) == (60, 3, 60, 60)


def test_retry_reattaches_to_an_intermediate_sync_still_running(env, monkeypatch, capfd, caplog):
    """The first try dies waiting for batch 2's sync (a 400 on its GET, not retried); the retry waits
    for that same sync instead of staging batch 2 again, then loads batch 3."""
    env.control.add_fault(method="GET", path=r"^/syncs/101$", times=1, status=400)

    result = run_matrix(monkeypatch, **_spec(ROWS, retries=1))

    assert result.state == "success", result.tasks
    assert result["import"].try_number == 2
    assert "Reattaching to sync /syncs/101" in captured(capfd, caplog)
    assert len(data_posts(env)) == 6  # nothing uploaded twice
    assert [s["rows"] for s in syncs(env)] == EXPECTED
    assert len(env.control.records("/activities")) == 60
    assert result["import"].return_value["syncs"] == 3


def test_summary_and_rejects_add_up_over_all_batches(env, monkeypatch, tmp_path):
    rows = [dict(row, LastName=f"{row['LastName']} {'x' * 60}") for row in contacts(60)]  # three batches as CSV
    first_batch = _batch_rows(rows, CONTACT_FIELDS, "Email")[0]
    bad = [5, first_batch + 3]  # one in batch 1, one in batch 2: the last batch is clean
    for row in bad:
        rows[row - 1]["Email"] = f"not-an-email-{row}"
    expected = _batch_rows(rows, CONTACT_FIELDS, "Email")
    assert len(expected) >= 3 and sum(expected[:2]) > bad[1]
    rejects = tmp_path / "rejects.ndjson"

    result = run_matrix(
        monkeypatch,
        mode="import",
        data=rows,
        chunk_bytes=CHUNK_BYTES,
        max_bytes_per_sync=MAX_BYTES,
        rejects_path=str(rejects),
    )

    assert result.state == "success", result.tasks
    assert [s["rows"] for s in syncs(env)] == expected
    summary = result["import"].return_value
    assert summary["syncs"] == len(expected)
    assert (summary["rows_processed"], summary["created"], summary["rejected"]) == (60, 58, 2)
    assert syncs(env)[-1]["status"] == "success"
    assert summary["status"] == "warning"  # earlier batches warned, so the load did
    assert summary["log_warnings"] >= 2  # warning entries of the sync logs, not rows
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [r["input_row"] for r in written] == bad
    assert len(env.control.records("/contacts")) == 58


def test_a_files_rejects_are_listed_once_per_sync_and_the_definition_never_read_back(env, monkeypatch, tmp_path):
    rows = contacts(60)
    first_batch = _batch_rows(rows, CONTACT_FIELDS, "Email")[0]
    bad = [5, first_batch + 3]
    for row in bad:
        rows[row - 1]["Email"] = f"not-an-email-{row}"
    source = write_csv(tmp_path / "contacts.csv", rows)
    rejects = tmp_path / "rejects.csv"

    result = run_matrix(
        monkeypatch,
        mode="import",
        path=str(source),
        chunk_bytes=CHUNK_BYTES,
        max_bytes_per_sync=MAX_BYTES,
        rejects_path=str(rejects),
    )

    assert result.state == "success", result.tasks
    with rejects.open(newline="") as handle:
        assert [int(r["input_row"]) for r in csv.DictReader(handle)] == bad
    sync_uris = [s["uri"] for s in syncs(env)]
    assert len(sync_uris) >= 2
    listings = {uri: len(api_requests(env, "GET", rf"{uri}/rejects$")) for uri in sync_uris}
    # An earlier batch's rejects: once when its sync is reported, once more into the rejects file
    # (with the input rows found the first time); the last sync's: once.
    assert listings == {**{uri: 2 for uri in sync_uris[:-1]}, sync_uris[-1]: 1}
    # The definition the task created is never read back: the spec already says what it holds.
    assert api_requests(env, "GET", r"/contacts/imports/\d+$") == []


def test_lost_answer_to_a_middle_batchs_sync_resumes_after_that_batch(env, monkeypatch):
    """POST /syncs of batch 2 creates the sync but its answer is lost. The retry finds that sync,
    waits for it as batch 2 (checking its rows) and then loads batch 3: the lost answer must not
    make the found sync look like the load's last."""
    skip_first(env, "POST", r"^/syncs$", count=1)  # batch 1's sync
    env.control.add_fault(method="POST", path=r"^/syncs$", times=1, action="drop_after")

    result = run_matrix(monkeypatch, **_spec(ROWS, retries=1))

    assert result.state == "success", result.tasks
    assert result["import"].try_number == 2
    assert [s["rows"] for s in syncs(env)] == EXPECTED
    assert len(env.control.records("/activities")) == 60
    summary = result["import"].return_value
    assert (summary["syncs"], summary["rows"], summary["rows_processed"]) == (3, 60, 60)
    assert summary["sync_rows"] == EXPECTED[-1]
