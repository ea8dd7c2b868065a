"""links.py: what a task records for its links, and, in a real DAG run, each task's "Eloqua sync" and
"Eloqua definition" links resolved as Airflow's API resolves them (the serialized task reads the link its
try stored from XCom) to Bulk API URIs that answer on the site."""

from __future__ import annotations

import requests

from airflow_provider_eloqua.emulator import DEFAULT_PASSWORD, DEFAULT_SITE, DEFAULT_USER
from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.links import EXTRA_LINKS, LINKS_XCOM_KEY, Links, TaskLinks, persist_links
from tests.dag_runner import run_dag, write_dag_file
from tests.task_runner import TaskInstance

DAG = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_eloqua.operators.eloqua import *
from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor

FIELDS = {"Email": "{{Contact.Field(C_EmailAddress)}}"}
ROWS = [{"Email": "ann@example.com"}, {"Email": "bob@example.com"}]

with DAG("links", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    define = EloquaCreateImportOperator(
        task_id="define", entity="contacts", name="links", fields=FIELDS, identifier_field_name="Email"
    )
    stage = EloquaUploadDataOperator(task_id="stage", definition_uri=define.output, data=ROWS)
    wait = EloquaSyncSensor(
        task_id="wait", sync_uri=stage.output["sync_uri"], poke_interval=0.05, timeout=60, deferrable=True,
        delete_load_definition=False,
    )
    EloquaImportOperator(
        task_id="load", entity="contacts", name="links one task", fields=FIELDS, identifier_field_name="Email",
        data=ROWS, poll_interval=0.05, timeout=60, deferrable=True, retries=2,
    )
"""


def resolved_links(dag_id: str, run_id: str, task_id: str) -> dict[str, str | None]:
    """What Airflow's extra-links API answers for the task: each link of the serialized task, resolved
    (an empty link is None, as the API gives it)."""
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dag = SerializedDagModel.get_dag(dag_id)
    assert dag is not None
    task = dag.get_task(task_id)
    with create_session() as session:
        ti = session.scalar(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id
            )
        )
        return {name: task.get_extra_links(ti, name) or None for name in task.extra_links}


def answers(url: str) -> int:
    return requests.get(url, auth=(f"{DEFAULT_SITE}\\{DEFAULT_USER}", DEFAULT_PASSWORD), timeout=10).status_code


def test_every_task_links_to_its_sync_and_definition(airflow_db, eloqua_conn):
    result = run_dag(write_dag_file("links.py", DAG), "links")

    assert result.state == "success", result.tasks
    base = EloquaHook().base_url  # the pod the emulator's /id names
    template = result["define"].return_value
    stage, load = result["stage"].return_value, result["load"].return_value
    expected = {
        "define": {"Eloqua definition": base + template, "Eloqua sync": None},
        # the upload was given a template: its link is that, not the copy it staged into
        "stage": {"Eloqua definition": base + template, "Eloqua sync": base + stage["sync_uri"]},
        # the sensor links the definition the sync synced: the upload's copy
        "wait": {"Eloqua definition": base + stage["definition_uri"], "Eloqua sync": base + stage["sync_uri"]},
        # no template: the load definition the task created (deleted once reported)
        "load": {"Eloqua definition": base + load["definition_uri"], "Eloqua sync": base + load["sync_uri"]},
    }
    for task_id, links in expected.items():
        assert resolved_links("links", result.run_id, task_id) == links, task_id
    assert sorted(link.name for link in EXTRA_LINKS) == ["Eloqua definition", "Eloqua sync"]

    # The links open what they name: the syncs, the template and the sensor's copy still exist.
    for url in (
        base + template,
        base + stage["definition_uri"],
        base + stage["sync_uri"],
        base + load["sync_uri"],
    ):
        assert answers(url) == 200, url
    assert answers(base + load["definition_uri"]) == 404  # the import deleted its load definition


def test_a_task_records_the_urls_of_what_it_knows(eloqua_conn):
    hook = EloquaHook()
    ti = TaskInstance("load")
    persist_links({"ti": ti}, hook, sync_uri="/syncs/5", definition_uri="/contacts/imports/3")
    base = hook.base_url
    assert ti.xcoms == {LINKS_XCOM_KEY: {"sync": base + "/syncs/5", "definition": base + "/contacts/imports/3"}}
    persist_links({"ti": ti}, hook, definition_uri="/contacts/imports/4")  # each call replaces the last
    assert ti.xcoms == {LINKS_XCOM_KEY: {"definition": base + "/contacts/imports/4"}}


def test_no_links_without_a_uri_or_a_base_url_and_the_task_goes_on(eloqua_conn, caplog):
    ti = TaskInstance("load")
    persist_links({"ti": ti}, EloquaHook())
    assert ti.xcoms == {}
    eloqua_conn.control.add_fault(method="GET", path="^/id$", status=401, times=None)
    persist_links({"ti": ti}, EloquaHook(retry_policy={"max_attempts": 1}), sync_uri="/syncs/5")
    assert ti.xcoms == {}
    assert "No links to Eloqua for this task: the Bulk API base URL is unknown" in caplog.text


def test_links_are_recorded_as_each_uri_becomes_known_and_a_template_stands_for_its_copies(eloqua_conn):
    hook = EloquaHook()
    base = hook.base_url
    ti = TaskInstance("load")
    links = TaskLinks({"ti": ti}, hook, template="/contacts/imports/3")
    links.definition("/contacts/imports/9")  # the copy made of the template: the template is linked
    assert ti.xcoms == {LINKS_XCOM_KEY: {"definition": base + "/contacts/imports/3"}}
    links.sync("/syncs/5")
    assert ti.xcoms == {LINKS_XCOM_KEY: {"sync": base + "/syncs/5", "definition": base + "/contacts/imports/3"}}
    ti.xcoms.clear()
    links.sync("/syncs/5")  # nothing new: nothing written
    links.sync(None)
    assert ti.xcoms == {}
    links.sync("/syncs/6")  # the next batch's sync replaces the last
    assert ti.xcoms[LINKS_XCOM_KEY]["sync"] == base + "/syncs/6"


def test_plain_links_only_keep_what_they_are_told():
    links = Links()
    links.definition("/contacts/exports/4")
    links.sync("/syncs/7")
    assert links.uris == {"sync": "/syncs/7", "definition": "/contacts/exports/4"}
