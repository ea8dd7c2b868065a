"""Airflow Assets end to end: a load run in Airflow (``dag.test()``) against the emulator records an
asset event for ``eloqua://AcmeCorp/contacts`` (through the task's ``eloqua:<conn id>`` alias), the
event queues the DAG scheduled on that Asset, and Airflow's scheduler code creates its run.

The one-task path records it from EloquaImportOperator; the split path (upload, then
EloquaSyncSensor) from the sensor, the task that sees the sync end, after deferring or across
reschedules; an import that does not wait leaves it to its sensor (tests/system/test_waits.py).
Which syncs the sensor attaches the Asset for (not an error, not a skipped warning), in each
mode: tests/test_assets.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.dag_runner import EXAMPLE_DAGS, install_dag_file, run_dag

DAG_FILE = EXAMPLE_DAGS / "example_eloqua_assets.py"
SPLIT_DAG_FILE = EXAMPLE_DAGS / "example_eloqua_contacts.py"
URI = "eloqua://AcmeCorp/contacts"
DOWNSTREAM = "eloqua_after_contacts_loaded"
EVENT_KEYS = ("sync_uri", "status", "rows_processed", "created", "updated", "rejected")


@pytest.fixture
def unpaused(airflow_db):
    """The downstream DAG exists unpaused before the run (a paused DAG is not queued by asset
    events, and [core] dags_are_paused_at_creation is baked into DagModel's column default). Its
    file is in the dags folder, so that ``dag.test()`` of any DAG there writes its schedule."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    install_dag_file(DAG_FILE)
    DagBundlesManager().sync_bundles_to_db()
    with create_session() as session:
        if (model := session.get(DagModel, DOWNSTREAM)) is not None:
            model.is_paused = False
        else:
            session.add(DagModel(dag_id=DOWNSTREAM, bundle_name="dags-folder", is_paused=False))


def run_events(run_id: str) -> list:
    """Every asset event a run's tasks recorded, whatever their asset."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.scalars(select(AssetEvent).where(AssetEvent.source_run_id == run_id)).all()
        session.expunge_all()
        return list(events)


def assert_one_event(result, dag_id: str, task_id: str, summary: dict):
    """The run recorded exactly one event, for the contacts Asset, from ``task_id``, carrying the
    sync's counts; the alias knows the Asset; the event queued the downstream DAG."""
    from airflow.models.asset import AssetAliasModel, AssetDagRunQueue, AssetModel
    from airflow.utils.session import create_session

    (event,) = run_events(result.run_id)
    with create_session() as session:
        assert session.get(AssetModel, event.asset_id).uri == URI
        alias = session.scalar(select(AssetAliasModel).where(AssetAliasModel.name == "eloqua:eloqua_default"))
        assert alias is not None and URI in [a.uri for a in alias.assets]
        assert session.scalars(select(AssetDagRunQueue.target_dag_id)).all() == [DOWNSTREAM]
    assert (event.source_dag_id, event.source_task_id, event.source_run_id) == (dag_id, task_id, result.run_id)
    assert event.extra == {key: summary[key] for key in EVENT_KEYS}
    return event


def assert_downstream_consumed(event) -> None:
    """The scheduler's own step: the queued DAG gets an asset-triggered run that consumed the event."""
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.sqlalchemy import prohibit_commit

    runner = SchedulerJobRunner(job=Job())
    with create_session() as session, prohibit_commit(session) as guard:
        runner._create_dagruns_for_dags(guard, session)
    with create_session() as session:
        runs = session.scalars(select(DagRun).where(DagRun.dag_id == DOWNSTREAM)).all()
        consumers = [run for run in runs if event.id in [e.id for e in run.consumed_asset_events]]
        assert [run.run_type for run in consumers] == ["asset_triggered"]


def test_a_contacts_load_triggers_the_dag_scheduled_on_its_asset(airflow_db, eloqua_conn, unpaused):
    result = run_dag(DAG_FILE, "eloqua_contacts_asset_load")

    assert result.state == "success", result.tasks
    summary = result["load_contacts"].return_value
    assert summary["created"] == 5
    event = assert_one_event(result, "eloqua_contacts_asset_load", "load_contacts", summary)
    assert_downstream_consumed(event)


@pytest.mark.parametrize("sensor_mode", ["deferrable", "reschedule"])
def test_the_split_path_records_the_asset_from_its_sensor(
    airflow_db, eloqua_conn, unpaused, monkeypatch, tmp_path, sensor_mode
):
    """example_eloqua_contacts.py: the upload records nothing (its sync has only started); the sensor
    records the event once the sync has ended, also when it resumes after deferring."""
    monkeypatch.setenv("ELOQUA_EXAMPLE_SENSOR_MODE", sensor_mode)
    monkeypatch.setenv("ELOQUA_EXAMPLE_OUTPUT_DIR", str(tmp_path))
    eloqua_conn.control.configure(pending_polls=2, active_polls=2)  # the sensor's first look sees it running

    result = run_dag(SPLIT_DAG_FILE, "eloqua_contacts_import")

    assert result.state == "success", result.tasks
    summary = result["wait_for_contact_sync"].return_value
    assert summary["status"] == "success" and summary["created"] == 25
    event = assert_one_event(result, "eloqua_contacts_import", "wait_for_contact_sync", summary)
    assert_downstream_consumed(event)
