"""An input bigger than one sync takes, loaded in batches on the split path of a real DAG run
(``dag.test()``) against the emulator: the upload waits for the earlier batches' syncs and hands the
last one to the sensor through XCom. Batches through the one-task import (restarts, retries,
rejects over every batch): tests/operators/test_eloqua.py.
"""

from __future__ import annotations

from tests.operators.test_eloqua import BATCHED_LOAD, BATCHES
from tests.system.dags.matrix import run_matrix, syncs


def test_split_upload_waits_for_earlier_batches_and_leaves_the_last_to_the_sensor(airflow_db, eloqua_conn, monkeypatch):
    result = run_matrix(monkeypatch, mode="split", **BATCHED_LOAD)

    assert result.state == "success", result.tasks
    upload = result["upload"].return_value
    assert (upload["rows"], upload["syncs"], upload["sync_rows"]) == (60, 3, BATCHES[-1])
    assert upload["sync_uri"] == syncs(eloqua_conn)[-1]["uri"] == result["upload"].xcoms["sync_uri"]
    done = result["wait"].return_value
    assert done["sync_uri"] == upload["sync_uri"]
    # the sensor reports the whole load: the earlier batches' syncs travel in the upload's staged_input
    assert (done["rows_processed"], done["created"]) == (60, 60)
    assert [s["rows"] for s in syncs(eloqua_conn)] == BATCHES
    assert len(eloqua_conn.control.records("/activities")) == 60
