"""Airflow Assets end to end: an import run in Airflow (``dag.test()``) against the emulator records an
asset event for ``eloqua://AcmeCorp/contacts`` (through the task's ``eloqua:<conn id>`` alias), the
event queues the DAG scheduled on that Asset, and Airflow's scheduler code creates its run.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.dag_runner import EXAMPLE_DAGS, run_dag

DAG_FILE = EXAMPLE_DAGS / "example_eloqua_assets.py"
URI = "eloqua://AcmeCorp/contacts"
DOWNSTREAM = "eloqua_after_contacts_loaded"


@pytest.fixture
def unpaused(airflow_db):
    """The downstream DAG exists unpaused before the run (a paused DAG is not queued by asset
    events, and [core] dags_are_paused_at_creation is baked into DagModel's column default)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    DagBundlesManager().sync_bundles_to_db()
    with create_session() as session:
        session.add(DagModel(dag_id=DOWNSTREAM, bundle_name="dags-folder", is_paused=False))


def test_a_contacts_load_triggers_the_dag_scheduled_on_its_asset(airflow_db, eloqua_conn, unpaused):
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.asset import AssetAliasModel, AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.sqlalchemy import prohibit_commit

    result = run_dag(DAG_FILE, "eloqua_contacts_asset_load")

    assert result.state == "success", result.tasks
    summary = result["load_contacts"].return_value
    assert summary["created"] == 5
    with create_session() as session:
        # (other tests of the session load contacts through the same alias too)
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == URI, AssetEvent.source_run_id == result.run_id)
        ).all()
        assert len(events) == 1
        event = events[0]
        assert (event.source_dag_id, event.source_task_id, event.source_run_id) == (
            "eloqua_contacts_asset_load",
            "load_contacts",
            result.run_id,
        )
        assert event.extra == {
            key: summary[key] for key in ("sync_uri", "status", "rows_processed", "created", "updated", "rejected")
        }
        alias = session.scalar(select(AssetAliasModel).where(AssetAliasModel.name == "eloqua:eloqua_default"))
        assert alias is not None and URI in [a.uri for a in alias.assets]
        assert session.scalars(select(AssetDagRunQueue.target_dag_id)).all() == [DOWNSTREAM]

    # The scheduler's own step: the queued DAG gets an asset-triggered run that consumed the event.
    runner = SchedulerJobRunner(job=Job())
    with create_session() as session, prohibit_commit(session) as guard:
        runner._create_dagruns_for_dags(guard, session)
    with create_session() as session:
        runs = session.scalars(select(DagRun).where(DagRun.dag_id == DOWNSTREAM)).all()
        assert [run.run_type for run in runs] == ["asset_triggered"]
        assert event.id in [e.id for e in runs[0].consumed_asset_events]
