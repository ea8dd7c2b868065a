"""Airflow Assets end to end: a load run in Airflow (``dag.test()``) against the emulator records an
asset event for ``eloqua://AcmeCorp/contacts`` (through the task's ``eloqua:<conn id>:<dag id>.<task id>`` alias), the
event queues the DAG scheduled on that Asset, and Airflow's scheduler code creates its run.

The one-task path records it from EloquaImportOperator (here); the split path (upload, then
EloquaSyncSensor) from the sensor, the task that sees the sync end, after deferring or across
reschedules (tests/system/test_example_contacts.py); an import that does not wait leaves it to its
sensor (tests/system/test_waits.py).
Which syncs the sensor attaches the Asset for (not an error, not a skipped warning), in each
mode: tests/test_assets.py.
"""

from __future__ import annotations

import requests
from sqlalchemy import select

from airflow_provider_eloqua.emulator import DEFAULT_PASSWORD, DEFAULT_SITE, DEFAULT_USER
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from tests.dag_runner import EXAMPLE_DAGS, install_dag_file, resolved_links, run_dag, write_dag_file

DAG_FILE = EXAMPLE_DAGS / "example_eloqua_assets.py"
URI = "eloqua://AcmeCorp/contacts"
DOWNSTREAM = "eloqua_after_contacts_loaded"
EVENT_KEYS = ("sync_uri", "status", "rows_processed", "created", "updated", "rejected")


def unpause_downstream() -> None:
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
    sync's counts; the task's alias knows the Asset; the event queued the downstream DAG."""
    from airflow.models.asset import AssetAliasModel, AssetDagRunQueue, AssetModel
    from airflow.utils.session import create_session

    (event,) = run_events(result.run_id)
    with create_session() as session:
        assert session.get(AssetModel, event.asset_id).uri == URI
        alias = session.scalar(
            select(AssetAliasModel).where(AssetAliasModel.name == f"eloqua:eloqua_default:{dag_id}.{task_id}")
        )
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


def answers(url: str) -> int:
    """The status a URL answers on the site (basic auth)."""
    return requests.get(url, auth=(f"{DEFAULT_SITE}\\{DEFAULT_USER}", DEFAULT_PASSWORD), timeout=10).status_code


def test_a_contacts_load_triggers_the_dag_scheduled_on_its_asset(airflow_db, eloqua_conn):
    """The one-task import records the event; its links (Airflow's extra-links API) name its sync and
    the load definition it created, which it deleted once the sync was reported."""
    unpause_downstream()

    result = run_dag(DAG_FILE, "eloqua_contacts_asset_load")

    assert result.state == "success", result.tasks
    summary = result["load_contacts"].return_value
    assert summary["created"] == 5
    event = assert_one_event(result, "eloqua_contacts_asset_load", "load_contacts", summary)
    assert_downstream_consumed(event)
    base = EloquaHook().base_url  # the pod the emulator's /id names
    assert resolved_links("eloqua_contacts_asset_load", result.run_id, "load_contacts") == {
        "Eloqua definition": base + summary["definition_uri"],
        "Eloqua sync": base + summary["sync_uri"],
    }
    assert (answers(base + summary["sync_uri"]), answers(base + summary["definition_uri"])) == (200, 404)


MAPPED_DAG = """
import pendulum
from airflow.sdk import dag

from airflow_provider_eloqua.operators.eloqua import EloquaImportOperator


@dag(dag_id="eloqua_mapped_asset_load", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def eloqua_mapped_asset_load():
    EloquaImportOperator.partial(
        task_id="load",
        entity="contacts",
        name="mapped contacts",
        fields={"Email": "{{Contact.Field(C_EmailAddress)}}"},
        identifier_field_name="Email",
        poll_interval=0.1,
    ).expand(data=[[{"Email": "mapped0@example.com"}], [{"Email": "mapped1@example.com"}]])


eloqua_mapped_asset_load()
"""


def test_each_instance_of_a_mapped_load_records_the_asset_through_its_own_alias(airflow_db, eloqua_conn):
    """Airflow takes the alias an instance adds to its outlets at run time: one alias per map index, each
    knowing the Asset, one event per instance; the first queues the downstream DAG's run."""
    from airflow.models.asset import AssetAliasModel, AssetModel
    from airflow.utils.session import create_session

    unpause_downstream()
    result = run_dag(write_dag_file("eloqua_mapped_asset_load.py", MAPPED_DAG), "eloqua_mapped_asset_load")

    assert result.state == "success", result.tasks
    events = run_events(result.run_id)
    assert sorted((event.source_task_id, event.source_map_index) for event in events) == [("load", 0), ("load", 1)]
    with create_session() as session:
        assert {session.get(AssetModel, event.asset_id).uri for event in events} == {URI}
        aliases = session.scalars(
            select(AssetAliasModel).where(AssetAliasModel.name.like("eloqua:eloqua_default:eloqua_mapped_asset_load.%"))
        ).all()
        assert {alias.name: [a.uri for a in alias.assets] for alias in aliases if alias.assets} == {
            "eloqua:eloqua_default:eloqua_mapped_asset_load.load[0]": [URI],
            "eloqua:eloqua_default:eloqua_mapped_asset_load.load[1]": [URI],
        }
    # The first event queued the downstream DAG; the scheduler's run consumes the events up to then
    # (Airflow's window), and leaves no queue entry behind for the tests after this one.
    assert_downstream_consumed(min(events, key=lambda event: (event.timestamp, event.id)))
