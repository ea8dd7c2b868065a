"""Rejected rows in a real DAG run: every path numbers them by input row, the log shows the refused
value, and a threshold fails the task naming the count.

On the split path the sensor sees only the sync: it reads the upload's XCom ``staged_input`` by
itself (its ``sync_uri`` is the upload's) and finds the input rows there, a file read again, rows
given as ``data`` by their identifier values. Loaded in batches, the sensor's sync is the last
batch's, so its rejects are numbered from that batch's first row.
"""

from __future__ import annotations

import csv
import json

from tests.dag_runner import run_dag, write_dag_file

DAG = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_eloqua.operators.eloqua import *
from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor

FIELDS = {"Email": "{{Contact.Field(C_EmailAddress)}}", "FirstName": "{{Contact.Field(C_FirstName)}}"}
ROWS = ROWS_LITERAL

with DAG("rejects", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    template = EloquaCreateImportOperator(
        task_id="define", entity="contacts", name="rejects", fields=FIELDS, identifier_field_name="Email"
    )
    from_file = EloquaUploadDataOperator(
        task_id="upload_file", definition_uri=template.output, path="FILE", chunk_bytes=1024, max_bytes_per_sync=1024,
        poll_interval=0.2, timeout=60,
    )
    EloquaSyncSensor(
        task_id="wait_file", sync_uri=from_file.output["sync_uri"], expected_rows=from_file.output["sync_rows"],
        rejects_path="REJECTS_CSV", poke_interval=0.2, timeout=60, deferrable=True,
    )
    from_rows = EloquaUploadDataOperator(task_id="upload_rows", definition_uri=template.output, data=ROWS[:4])
    EloquaSyncSensor(
        task_id="wait_rows", sync_uri=from_rows.output["sync_uri"], rejects_path="REJECTS_NDJSON",
        poke_interval=0.2, timeout=60, mode="reschedule", max_rejected_rows=0,
    )
    EloquaImportOperator(
        task_id="load", entity="contacts", name="rejects one task", fields=FIELDS, identifier_field_name="Email",
        data=ROWS[:5], poll_interval=0.2, timeout=60, max_rejected_ratio=0.1,
    )
"""


def test_rejects_are_numbered_logged_and_counted_against_a_threshold(airflow_db, eloqua_conn, tmp_path, capfd, caplog):
    rows = [{"Email": f"bad-{i}" if i in (3, 57) else f"p{i}@example.com", "FirstName": f"F{i}"} for i in range(1, 61)]
    source = tmp_path / "contacts.csv"
    source.write_text("Email,FirstName\n" + "".join(f"{r['Email']},{r['FirstName']}\n" for r in rows))
    rejects_csv, rejects_ndjson = tmp_path / "file-rejects.csv", tmp_path / "rows-rejects.ndjson"
    code = (
        DAG.replace("ROWS_LITERAL", repr(rows))
        .replace("FILE", str(source))
        .replace("REJECTS_CSV", str(rejects_csv))
        .replace("REJECTS_NDJSON", str(rejects_ndjson))
    )

    result = run_dag(write_dag_file("rejects.py", code), "rejects")
    out, err = capfd.readouterr()
    log = out + err + caplog.text  # the task logs reach one or the other, depending on the runtime

    # The file went in batches (60 rows of ~20 bytes, 1 KB per sync): the sensor's sync is the last
    # batch's (rows 53-60), and its reject (input row 57) is numbered from that batch's first row.
    upload = result["upload_file"].return_value
    assert upload["syncs"] > 1 and result["wait_file"].state == "success"
    with rejects_csv.open() as handle:
        written = list(csv.DictReader(handle))
    assert [(r["input_row"], json.loads(r["field_values"])["Email"]) for r in written] == [("57", "bad-57")]
    assert "Rejected input row 57: ELQ-00002" in log and "(Email='bad-57')" in log

    # Rows given as data: numbered from their identifier values; any reject fails max_rejected_rows=0.
    assert result["wait_rows"].state == "failed"
    assert [json.loads(line)["input_row"] for line in rejects_ndjson.read_text().splitlines()] == [3]
    assert "Eloqua rejected 1 of the 4 row(s) it processed (25.0%" in log
    assert "more than max_rejected_rows=0 allows; the rejects are logged above and written to" in log

    # The one-task path: 1 of 5 rejected is 20%, past max_rejected_ratio=0.1.
    assert result["load"].state == "failed"
    assert "Eloqua rejected 1 of the 5 row(s) it processed (20.0%" in log and "max_rejected_ratio=0.1" in log
