"""Contacts extracted by an upstream task are loaded into Eloqua and waited for in the triggerer.

extract_contacts (XCom rows) -> create_contact_import -> upload_contacts -> wait_for_contact_sync

Once the sync has ended (success, or a warning), the sensor records the Airflow Asset
``eloqua://<site>/contacts`` (see example_eloqua_assets.py for a DAG scheduled on it).

Settings (the sensor's mode, where rejected rows go): the ELOQUA_EXAMPLE_* variables in the
README, "3. First run: the example DAGs".
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from airflow_provider_eloqua.operators.eloqua import EloquaCreateImportOperator, EloquaUploadDataOperator
from airflow_provider_eloqua.sensors.eloqua import EloquaSyncSensor

SENSOR_MODE = os.environ.get("ELOQUA_EXAMPLE_SENSOR_MODE", "deferrable")
OUTPUT_DIR = os.environ.get("ELOQUA_EXAMPLE_OUTPUT_DIR", "/tmp/eloqua-example")


@dag(
    dag_id="eloqua_contacts_import",
    schedule=None,
    doc_md=__doc__,  # shown on the DAG's page in the UI
    # Why retries, and why a short delay: README, "3. First run: the example DAGs".
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"rows": 25, "invalid_emails": 0},
    tags=["eloqua", "example"],
)
def eloqua_contacts_import():
    @task
    def extract_contacts(params=None) -> list[dict]:
        """Stands in for a warehouse query: returns rows keyed by the import's column names."""
        rows = []
        for n in range(1, int(params["rows"]) + 1):
            email = f"person{n}@example.com" if n > int(params["invalid_emails"]) else f"not-an-email-{n}"
            rows.append({"Email": email, "FirstName": f"First{n}", "LastName": f"Last{n}", "Company": "Example Co"})
        return rows

    definition = EloquaCreateImportOperator(
        task_id="create_contact_import",
        entity="contacts",
        name="Airflow contacts import",
        fields={
            "Email": "{{Contact.Field(C_EmailAddress)}}",
            "FirstName": "{{Contact.Field(C_FirstName)}}",
            "LastName": "{{Contact.Field(C_LastName)}}",
            "Company": "{{Contact.Field(C_Company)}}",
        },
        identifier_field_name="Email",
        reuse_existing=True,
    )
    upload = EloquaUploadDataOperator(
        task_id="upload_contacts",
        definition_uri=definition.output,
        data=extract_contacts(),
    )
    EloquaSyncSensor(
        task_id="wait_for_contact_sync",
        sync_uri=upload.output["sync_uri"],
        expected_rows=upload.output["sync_rows"],  # fail unless Eloqua processed exactly these rows
        deferrable=SENSOR_MODE == "deferrable",
        mode="reschedule" if SENSOR_MODE == "reschedule" else "poke",
        poke_interval=float(os.environ.get("ELOQUA_EXAMPLE_POLL_SECONDS", "2")),
        timeout=float(os.environ.get("ELOQUA_EXAMPLE_TIMEOUT_SECONDS", "600")),
        rejects_path=OUTPUT_DIR + "/{{ run_id | replace(':', '_') }}/contact_rejects.csv",
    )


eloqua_contacts_import()
