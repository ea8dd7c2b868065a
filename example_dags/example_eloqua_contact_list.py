"""Contacts are added to a contact list with a sync-action definition.

create_list_sync_action -> upload_list_members -> wait_for_list_sync
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import dag

from airflow_provider_eloqua.operators.eloqua import EloquaCreateSyncActionOperator, EloquaUploadDataOperator
from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor

CONTACT_LIST_ID = int(os.environ.get("ELOQUA_EXAMPLE_CONTACT_LIST_ID", "123"))


@dag(
    dag_id="eloqua_contact_list_sync_action",
    schedule=None,
    doc_md=__doc__,  # shown on the DAG's page in the UI
    # Why retries, and why a short delay: README, "3. First run: the example DAGs".
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["eloqua", "example"],
)
def eloqua_contact_list_sync_action():
    sync_action = EloquaCreateSyncActionOperator(
        task_id="create_list_sync_action",
        name="Airflow: add to webinar list",
        fields={"Email": "{{Contact.Field(C_EmailAddress)}}"},
        identifier_field_name="Email",
        sync_actions=[{"action": "add", "destination": "{{ContactList[%d]}}" % CONTACT_LIST_ID}],
        reuse_existing=True,
    )
    upload = EloquaUploadDataOperator(
        task_id="upload_list_members",
        definition_uri=sync_action.output,
        data=[{"Email": f"person{n}@example.com"} for n in range(1, 11)],
    )
    EloquaSyncSensor(
        task_id="wait_for_list_sync",
        sync_uri=upload.output["sync_uri"],
        expected_rows=upload.output["sync_rows"],
        poke_interval=float(os.environ.get("ELOQUA_EXAMPLE_POLL_SECONDS", "2")),
        timeout=float(os.environ.get("ELOQUA_EXAMPLE_TIMEOUT_SECONDS", "600")),
    )


eloqua_contact_list_sync_action()
