"""The eloqua:// asset scheme: URIs built and checked, registered with Airflow through the provider info."""

from __future__ import annotations

import pytest
from airflow.sdk import DAG, Asset, AssetAlias, TaskGroup

from airflow_provider_eloqua.assets import alias_for, asset_for_definition, asset_uri, eloqua_asset, record_load


def test_uris_name_the_site_and_the_entity():
    assert asset_uri("AcmeCorp", "contacts") == "eloqua://AcmeCorp/contacts"
    assert eloqua_asset("AcmeCorp", "customObjects", 12).uri == "eloqua://AcmeCorp/customObjects/12"
    assert asset_for_definition("AcmeCorp", "/events/7/imports/3").uri == "eloqua://AcmeCorp/events/7"
    assert asset_for_definition("AcmeCorp", "/contacts/syncActions/5") is None
    assert asset_for_definition("AcmeCorp", "/opportunities/contacts/imports/4").uri == (
        "eloqua://AcmeCorp/opportunities/contacts"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "contacts"), "site"),
        (("Acme Corp", "contacts"), "site"),
        (("AcmeCorp", "nonsense"), "import entity"),
        (("AcmeCorp", "customObjects"), "parent id"),
        (("AcmeCorp", "contacts", 3), "no parent id"),
    ],
)
def test_bad_arguments_are_named(args, message):
    with pytest.raises(ValueError, match=message):
        asset_uri(*args)


def test_airflow_checks_eloqua_uris_with_the_registered_handler():
    """Airflow finds the handler through the installed provider's ``asset-uris``."""
    assert Asset("eloqua://AcmeCorp/contacts/").uri == "eloqua://AcmeCorp/contacts"
    assert Asset("eloqua://AcmeCorp/opportunities/contacts").uri == "eloqua://AcmeCorp/opportunities/contacts"
    assert Asset("eloqua://AcmeCorp/events/7").uri == "eloqua://AcmeCorp/events/7"
    with pytest.raises(ValueError, match="import entity"):
        Asset("eloqua://AcmeCorp/contactz")
    with pytest.raises(ValueError, match="parent id"):
        Asset("eloqua://AcmeCorp/customObjects/abc")
    with pytest.raises(ValueError, match="parent id"):
        Asset("eloqua://AcmeCorp/customObjects")
    with pytest.raises(ValueError, match="import entity"):
        Asset("eloqua://AcmeCorp/contacts/12/more")


def test_the_provider_registers_factory_and_openlineage_converter():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert manager.asset_factories["eloqua"](site="AcmeCorp", entity="accounts").uri == "eloqua://AcmeCorp/accounts"
    dataset = manager.asset_to_openlineage_converters["eloqua"](eloqua_asset("AcmeCorp", "customObjects", 12), None)
    assert (dataset.namespace, dataset.name) == ("eloqua://AcmeCorp", "customObjects/12")


# ------------------------------------------------------------------ which task attaches the Asset, and when
# The asset events of real DAG runs, the queued downstream DAG and its run: tests/system/test_assets.py.

EVENT_KEYS = ("sync_uri", "status", "rows_processed", "created", "updated", "rejected")


def _attached(run) -> list[tuple[str, str, dict]]:
    """What a task's run attached to its outlet aliases: (alias, asset URI, extra)."""
    return [
        (alias.name, asset.uri, extra)
        for alias, events in run.context["outlet_events"].items()
        for asset, extra in events.added
    ]


@pytest.mark.parametrize(
    ("status", "on_warning", "deferrable", "task_state"),
    [
        ("success", "succeed", False, "success"),
        ("error", "succeed", False, "failed"),
        ("error", "succeed", True, "failed"),
        ("warning", "skip", False, "skipped"),
        ("warning", "succeed", True, "success"),
    ],
    ids=["success-poke", "error-poke", "error-deferred", "warning-skipped", "warning-accepted-deferred"],
)
def test_the_sensor_attaches_the_asset_only_for_a_sync_it_accepts(
    eloqua_conn, status, on_warning, deferrable, task_state
):
    """On the split path the upload attaches nothing (its sync has only started); the sensor
    attaches the Asset once it accepts the ended sync, with the sync's counts."""
    from tests.operators.tasks import run_split
    from tests.system.dags.matrix import contacts

    eloqua_conn.control.configure(force_status=[status])

    runs = run_split(data=contacts(4), deferrable=deferrable, sensor={"on_warning": on_warning, "timeout": 120})

    assert runs["upload"].state == "success" and _attached(runs["upload"]) == []
    wait = runs["wait"]
    assert wait.state == task_state, wait.error
    if task_state != "success":
        assert _attached(wait) == []
        return
    ((alias, uri, extra),) = _attached(wait)
    assert (alias, uri) == ("eloqua:eloqua_default:tests.wait", "eloqua://AcmeCorp/contacts")
    assert extra["status"] == status
    assert extra == {key: wait.return_value[key] for key in EVENT_KEYS}


# ------------------------------------------------------------------ one alias per task (instance)
# Airflow adds an (alias, asset) pair to asset_alias_asset by reading, then inserting: two tasks recording
# their first event of one Asset through one alias at once make one fail on asset_alias_asset_pkey.


def _load(task_id: str, **kwargs):
    from airflow_provider_eloqua.operators.eloqua import EloquaImportOperator

    return EloquaImportOperator(task_id=task_id, definition_uri="/contacts/imports/1", data=[], **kwargs)


def _aliases(task) -> list[str]:
    return [outlet.name for outlet in task.outlets if isinstance(outlet, AssetAlias)]


def test_every_task_declares_an_alias_of_its_own():
    """Two tasks of one DAG (one in a task group), the same task id in two DAGs, a sensor and the export
    operators: no two declare one alias; a task's own outlets are kept."""
    from airflow_provider_eloqua.operators.export import EloquaDownloadSyncOperator, EloquaExportOperator
    from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor

    mine = Asset("s3://bucket/marker")
    with DAG("nightly", schedule=None):
        with TaskGroup("crm"):
            grouped = _load("load")
        load = _load("load", outlets=[mine])
        wait = EloquaSyncSensor(task_id="wait", sync_uri="/syncs/1")
        export = EloquaExportOperator(task_id="export", entity="contacts", name="n", fields={"a": "b"}, path="c.csv")
        download = EloquaDownloadSyncOperator(task_id="download", sync_uri="/syncs/2", path="c.csv")
    with DAG("hourly", schedule=None):
        other = _load("load")

    assert [_aliases(task) for task in (grouped, load, wait, export, download, other)] == [
        ["eloqua:eloqua_default:nightly.crm.load"],
        ["eloqua:eloqua_default:nightly.load"],
        ["eloqua:eloqua_default:nightly.wait"],
        ["eloqua-export:eloqua_default:nightly.export"],
        ["eloqua-export:eloqua_default:nightly.download"],
        ["eloqua:eloqua_default:hourly.load"],
    ]
    assert load.outlets[0] == mine
    assert _load("free", eloqua_conn_id="other").outlets == []  # no DAG yet: declared when it records


SUMMARY = {"sync_uri": "/syncs/9", "status": "success", "rows_processed": 2, "created": 2, "updated": 0}


def _record(task, dag_id: str, map_index: int = -1) -> list[tuple[str, str, dict]]:
    """Record a load of contacts as the task instance ``dag_id.<task id>[map_index]`` would; what it attached."""
    from tests.task_runner import task_context

    context = task_context(task.task_id, dag_id=dag_id, map_index=map_index)
    asset = record_load(context, task, site="AcmeCorp", definition_uri="/contacts/imports/30", summary=SUMMARY)
    assert asset is not None and asset.uri == "eloqua://AcmeCorp/contacts"
    return [
        (alias.name, asset.uri, extra)
        for alias, events in context["outlet_events"].items()
        for asset, extra in events.added
    ]


def test_a_task_records_the_asset_through_the_alias_it_declared():
    with DAG("nightly", schedule=None):
        load = _load("load")

    assert _record(load, "nightly") == [("eloqua:eloqua_default:nightly.load", "eloqua://AcmeCorp/contacts", SUMMARY)]
    assert _aliases(load) == ["eloqua:eloqua_default:nightly.load"]  # declared once, not added again


def test_each_instance_of_a_mapped_task_records_through_an_alias_of_its_own():
    """The worker unmaps the task (its ``__init__`` declares the task's alias); each instance adds its
    map index's alias to its outlets when it records, which Airflow reads from the running task."""
    from airflow_provider_eloqua.operators.eloqua import EloquaImportOperator

    with DAG("nightly", schedule=None):
        mapped = EloquaImportOperator.partial(task_id="load", definition_uri="/contacts/imports/1").expand(
            data=[[{"a": 1}], [{"a": 2}]]
        )
    first, second = (mapped.unmap({"data": [{"a": n}]}) for n in (1, 2))

    assert _record(first, "nightly", 0) == [
        ("eloqua:eloqua_default:nightly.load[0]", "eloqua://AcmeCorp/contacts", SUMMARY)
    ]
    assert _record(second, "nightly", 1)[0][0] == "eloqua:eloqua_default:nightly.load[1]"
    assert _aliases(first) == ["eloqua:eloqua_default:nightly.load", "eloqua:eloqua_default:nightly.load[0]"]
    assert _aliases(second) == ["eloqua:eloqua_default:nightly.load", "eloqua:eloqua_default:nightly.load[1]"]


def test_a_task_given_its_dag_later_records_through_its_task_instances_alias():
    task = _load("load", eloqua_conn_id="crm")

    assert _record(task, "nightly")[0][0] == "eloqua:crm:nightly.load"
    assert _aliases(task) == ["eloqua:crm:nightly.load"]
    assert alias_for("crm", "nightly", "load", 3) == AssetAlias("eloqua:crm:nightly.load[3]")


# ------------------------------------------------------------------ the race, in Airflow's own code on PostgreSQL


@pytest.fixture(scope="module")
def asset_db():
    """Airflow's metadata tables on a private PostgreSQL (tests/deployment/postgres.py), with the contacts Asset
    (active): a sessionmaker and the engine."""
    import airflow.models
    from airflow.models.asset import AssetActive, AssetModel
    from airflow.models.base import Base
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from tests.deployment.postgres import PostgresServer

    server = PostgresServer(durable=False).start()
    engine = create_engine(server.url)
    try:
        airflow.models.import_all_models()
        Base.metadata.create_all(engine)
        sessions = sessionmaker(bind=engine, expire_on_commit=False)
        with sessions.begin() as session:
            asset = AssetModel(name="eloqua://AcmeCorp/contacts", uri="eloqua://AcmeCorp/contacts", group="asset")
            session.add(asset)
            session.flush()
            session.add(AssetActive.for_asset(asset))
        yield sessions, engine
    finally:
        engine.dispose()
        server.stop()


def _first_events_at_once(asset_db, first: AssetAlias, second: AssetAlias) -> BaseException | None:
    """Two task instances' transactions record the contacts Asset's event through ``first`` and ``second``,
    as Airflow's API server does on their success, at once: the second reads the Asset's aliases before the
    first commits. What the second's commit raised (the first's commits)."""
    import threading
    import time

    from airflow.assets.manager import AssetManager
    from airflow.models.asset import AssetAliasModel
    from airflow.serialization.definitions.assets import SerializedAssetUniqueKey
    from sqlalchemy import text

    sessions, engine = asset_db
    asset = SerializedAssetUniqueKey(name="eloqua://AcmeCorp/contacts", uri="eloqua://AcmeCorp/contacts")
    with sessions.begin() as session:  # declared by the DAGs' tasks: Airflow writes them when it parses
        session.add_all(AssetAliasModel(name=alias.name) for alias in {first, second})
    one, two = sessions(), sessions()
    two.execute(text("SET lock_timeout = '120s'"))  # a wait that never ends fails the test
    backend = two.execute(text("SELECT pg_backend_pid()")).scalar()
    registered, first_committed = threading.Event(), threading.Event()
    raised: list[BaseException] = []

    def second_task() -> None:
        try:
            AssetManager.register_asset_change(asset=asset, source_alias_names=[second.name], session=two)
            registered.set()
            first_committed.wait()
            two.commit()
        except Exception as exc:  # what the API server's request would end with
            raised.append(exc)
            two.rollback()

    try:
        AssetManager.register_asset_change(asset=asset, source_alias_names=[first.name], session=one)
        thread = threading.Thread(target=second_task)
        thread.start()
        with engine.connect() as watch:  # until the second has written, or waits for the first's row
            waits = text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid")
            while thread.is_alive() and not registered.is_set() and not watch.execute(waits, {"pid": backend}).scalar():
                time.sleep(0.01)
        one.commit()
        first_committed.set()
        thread.join()
    finally:
        one.close()
        two.close()
    return raised[0] if raised else None


def _aliases_of_contacts(asset_db) -> set[str]:
    from airflow.models.asset import AssetModel
    from sqlalchemy import select

    sessions, _ = asset_db
    with sessions() as session:
        asset = session.scalar(select(AssetModel).where(AssetModel.uri == "eloqua://AcmeCorp/contacts"))
        return {alias.name for alias in asset.aliases}


@pytest.mark.postgres
def test_two_tasks_recording_their_first_event_of_one_asset_at_once_both_succeed(asset_db):
    """The aliases two import tasks of two DAGs declare: both first events commit."""
    with DAG("eloqua_contacts_asset_load", schedule=None):
        contacts = _load("load_contacts")
    with DAG("eloqua_sql_to_contacts", schedule=None):
        scores = _load("load_lead_scores")
    (first,), (second,) = contacts.outlets, scores.outlets

    assert _first_events_at_once(asset_db, first, second) is None
    assert {first.name, second.name} <= _aliases_of_contacts(asset_db)


@pytest.mark.postgres
def test_one_alias_shared_by_two_tasks_fails_one_of_them_at_its_first_event(asset_db):
    """Why the alias is per task: through one alias, the second insert of the pair violates its primary key."""
    from sqlalchemy.exc import IntegrityError

    shared = AssetAlias("eloqua:eloqua_default")

    raised = _first_events_at_once(asset_db, shared, shared)

    assert isinstance(raised, IntegrityError) and "asset_alias_asset_pkey" in str(raised)
    assert shared.name in _aliases_of_contacts(asset_db)  # the first task's association, committed
