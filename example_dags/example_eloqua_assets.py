"""Airflow Assets: a downstream DAG runs whenever Eloqua contacts were loaded.

``eloqua_contacts_asset_load`` loads contacts with EloquaImportOperator, which records the Asset
``eloqua://<site>/contacts`` with the sync's counts once the load has ended without error.
``eloqua_after_contacts_loaded`` is scheduled on that Asset and reads the counts from
``triggering_asset_events``. The site is ``ELOQUA_EXAMPLE_SITE`` (the emulator's is ``AcmeCorp``).
How the Asset is recorded, and when it is not: README, "Assets and lineage".
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task

from airflow_provider_eloqua.assets import eloqua_asset
from airflow_provider_eloqua.operators.eloqua import EloquaImportOperator

SITE = os.environ.get("ELOQUA_EXAMPLE_SITE", "AcmeCorp")
CONTACTS_LOADED = eloqua_asset(SITE, "contacts")
COMMON = {
    "start_date": pendulum.datetime(2026, 1, 1, tz="UTC"),
    "catchup": False,
    "tags": ["eloqua", "example", "assets"],
    "doc_md": __doc__,
    # Why retries, and why a short delay: README, "3. First run: the example DAGs".
    "default_args": {"retries": 2, "retry_delay": timedelta(seconds=10)},
}


@dag(dag_id="eloqua_contacts_asset_load", schedule=None, **COMMON)
def eloqua_contacts_asset_load():
    @task
    def new_contacts() -> list[dict[str, str]]:
        """Stands in for an extract: a few contacts as row dicts."""
        return [{"Email": f"asset{n}@example.com", "FirstName": f"Asset {n}"} for n in range(1, 6)]

    EloquaImportOperator(
        task_id="load_contacts",
        entity="contacts",
        name="contacts (assets example)",
        fields={"Email": "{{Contact.Field(C_EmailAddress)}}", "FirstName": "{{Contact.Field(C_FirstName)}}"},
        identifier_field_name="Email",
        data=new_contacts(),
        poll_interval=float(os.environ.get("ELOQUA_EXAMPLE_POLL_SECONDS", "2")),
        timeout=float(os.environ.get("ELOQUA_EXAMPLE_TIMEOUT_SECONDS", "600")),
    )


@dag(dag_id="eloqua_after_contacts_loaded", schedule=[CONTACTS_LOADED], **COMMON)
def eloqua_after_contacts_loaded():
    @task
    def report(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        """What each triggering load did (empty when the DAG is run by hand)."""
        loads = [dict(event.extra) for event in (triggering_asset_events or {}).get(CONTACTS_LOADED, [])]
        for load in loads:
            print(f"Eloqua sync {load.get('sync_uri')}: {load.get('created')} created, {load.get('updated')} updated")
        return loads

    report()


eloqua_contacts_asset_load()
eloqua_after_contacts_loaded()
