"""links.py: what a task records for its links. What each operator links while it fails, retries or waits:
tests/operators/test_eloqua.py and test_export.py. Each task's "Eloqua sync" and "Eloqua definition"
links resolved as Airflow's API resolves them in a real DAG run (the serialized task reads the link its
try stored from XCom), to URIs that answer on the site: tests/system/test_example_contacts.py and
tests/system/test_assets.py."""

from __future__ import annotations

from airflow_provider_eloqua.hooks.eloqua import EloquaHook
from airflow_provider_eloqua.links import EXTRA_LINKS, LINKS_XCOM_KEY, Links, TaskLinks, persist_links
from tests.task_runner import TaskInstance


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


def test_every_operator_and_the_sensor_offer_the_two_links():
    import airflow_provider_eloqua.operators.eloqua as operators
    from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor

    classes = [getattr(operators, name) for name in operators.__all__ if isinstance(getattr(operators, name), type)]
    assert len(classes) >= 6
    assert all(cls.operator_extra_links == EXTRA_LINKS for cls in [*classes, EloquaSyncSensor])
    assert sorted(link.name for link in EXTRA_LINKS) == ["Eloqua definition", "Eloqua sync"]
