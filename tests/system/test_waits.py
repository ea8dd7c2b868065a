"""Waiting for a sync where Airflow does part of the waiting, through real DAG runs against the emulator.

The sensor in reschedule mode (Airflow counts its wait across reschedules) rides out a transient
outage of ``GET /syncs/{id}`` longer than the hook's own retries, and at its deadline names the
sync and the status it was last seen in; an import that does not wait hands its sync to the
sensor through XCom. The operator's and the sensor's other modes: tests/operators/test_eloqua.py.
"""

from __future__ import annotations

import pytest

from tests.system.dags.matrix import api_requests, captured, contacts, run_matrix, syncs
from tests.system.test_assets import EVENT_KEYS, run_events

SYNC_GET = r"/syncs/\d+$"  # request-log paths are full (/api/bulk/2.0/syncs/100)
FAULT_SYNC_GET = r"^/syncs/\d+$"  # fault paths are relative to the Bulk base
#: More failed answers in a row than the hook's retry policy takes in one look (5 attempts), so
#: the outage outlasts two whole looks. ``Retry-After: 0`` keeps the hook's own retries instant.
OUTAGE = 12


@pytest.fixture
def env(airflow_db, eloqua_conn):
    return eloqua_conn


def test_a_transient_outage_is_waited_out_by_a_rescheduled_sensor(env, monkeypatch):
    env.control.add_fault(method="GET", path=FAULT_SYNC_GET, times=OUTAGE, status=503, headers={"Retry-After": "0"})

    result = run_matrix(
        monkeypatch, mode="split", sensor_mode="reschedule", data=contacts(10), timeout=120, poll_interval=0.05
    )

    assert result.state == "success", result.tasks
    waiting = result["wait"]
    assert waiting.try_number == 1  # waited out inside the task, not by an Airflow retry
    assert (waiting.return_value["status"], waiting.return_value["created"]) == ("success", 10)
    statuses = [r["status"] for r in api_requests(env, "GET", SYNC_GET)]
    assert statuses.count(503) == OUTAGE
    assert statuses[-1] == 200
    assert len(syncs(env)) == 1
    assert len(env.control.records("/contacts")) == 10


def test_a_rescheduled_sensors_timeout_names_the_sync_and_its_last_status(env, monkeypatch, capfd, caplog):
    env.control.configure(pending_polls=1_000_000)

    result = run_matrix(
        monkeypatch, mode="split", sensor_mode="reschedule", data=contacts(5), timeout=0.1, poll_interval=0.05
    )

    assert result.state == "failed"
    assert result["upload"].state == "success"
    assert result["wait"].state == "failed"
    sync_uri = syncs(env)[0]["uri"]
    assert f"Eloqua sync {sync_uri} (last seen 'pending') had not ended when the wait timed out after 0.1s" in (
        captured(capfd, caplog)
    )


def test_an_import_that_does_not_wait_starts_the_sync_and_its_sensor_completes_it(env, monkeypatch, airflow_db):
    """``EloquaImportOperator(wait=False)`` stages, starts the sync and returns at once, its load
    forgotten (a manual clear loads again instead of reattaching); the sensor its
    docstring names waits for that sync, checks its rows, records the Asset and deletes the load definition."""
    from airflow.models.task_state_store import TaskStateStoreModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    env.control.configure(pending_polls=2, active_polls=2)  # still running when the import task returns

    result = run_matrix(monkeypatch, mode="detached", data=contacts(7))

    assert result.state == "success", result.tasks
    started = result["import"].return_value
    (sync,) = syncs(env)
    assert started == {
        "definition_uri": sync["syncedInstanceUri"],
        "rows": 7,
        "chunks": 1,
        "bytes": started["bytes"],
        "syncs": 1,
        "sync_uri": sync["uri"],
        "sync_rows": 7,
        "status": "pending",  # not waited for: nothing checked, nothing reported
    }
    assert started["bytes"] > 0
    assert result["import"].xcoms["sync_uri"] == sync["uri"]
    assert result["import"].xcoms["sync_rows"] == 7
    done = result["wait"].return_value
    assert (done["sync_uri"], done["status"], done["rows_processed"], done["created"]) == (sync["uri"], "success", 7, 7)
    assert len(env.control.records("/contacts")) == 7
    assert len(api_requests(env, "POST", r"/syncs$")) == 1
    # The sensor, which saw the sync end, recorded the Asset event; the import task did not.
    (event,) = run_events(result.run_id)
    assert event.source_task_id == "wait"
    assert event.extra == {key: done[key] for key in EVENT_KEYS}
    # The sensor deleted the load definition once the sync was reported.
    assert sync["syncedInstanceUri"] not in [d["uri"] for d in env.control.state()["definitions"]]
    # The import task forgot its load: of it, its task state store keeps only the note that it loaded
    # (a Clear then says it loads again) and the max_tries a Clear would raise.
    with create_session() as session:
        kept = session.scalars(
            select(TaskStateStoreModel.key).where(
                TaskStateStoreModel.run_id == result.run_id, TaskStateStoreModel.task_id == "import"
            )
        ).all()
    assert sorted(kept) == ["eloqua_loaded", "eloqua_max_tries"]
