"""Contacts modified in each run's data interval, exported to a file (local or object storage).

Every daily run exports the contacts whose modification time (C_DateModified, in UTC) falls in its
data interval, from data_interval_start (included) to data_interval_end (excluded), to
ELOQUA_EXAMPLE_OUTPUT_DIR/contacts/<date>.csv. Consecutive runs therefore never export a change twice
and never miss one: a contact modified exactly at midnight is in the next day's file. The export
waits until ELOQUA_EXAMPLE_EXPORT_LAG (an hour) after the interval's end before it asks Eloqua, so
that late changes are in, and it waits deferred, holding no worker slot. The file appears at its
path only once every row Eloqua exported is in it.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag

from airflow_provider_eloqua.operators.eloqua import EloquaExportOperator

OUTPUT_DIR = os.environ.get("ELOQUA_EXAMPLE_OUTPUT_DIR", "/tmp/eloqua-example")


@dag(
    dag_id="eloqua_export_contacts",
    # Each run's data interval is the day before it (Airflow 3's plain "@daily" gives runs no interval).
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    doc_md=__doc__,  # shown on the DAG's page in the UI
    # Why retries, and why a short delay: README, "3. First run: the example DAGs".
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["eloqua", "example", "export"],
)
def eloqua_export_contacts():
    EloquaExportOperator(
        task_id="export_changed_contacts",
        entity="contacts",
        name="Airflow changed contacts",
        fields={
            "ContactId": "{{Contact.Id}}",
            "Email": "{{Contact.Field(C_EmailAddress)}}",
            "FirstName": "{{Contact.Field(C_FirstName)}}",
            "LastName": "{{Contact.Field(C_LastName)}}",
            "Country": "{{Contact.Field(C_Country)}}",
            "ModifiedAt": "{{Contact.Field(C_DateModified)}}",
        },
        since="{{ data_interval_start }}",
        until="{{ data_interval_end }}",
        lag=os.environ.get("ELOQUA_EXAMPLE_EXPORT_LAG", "PT1H"),
        path=OUTPUT_DIR + "/contacts/{{ data_interval_start | ds }}.csv",
        deferrable=True,
        poll_interval=float(os.environ.get("ELOQUA_EXAMPLE_POLL_SECONDS", "2")),
        timeout=float(os.environ.get("ELOQUA_EXAMPLE_TIMEOUT_SECONDS", "600")),
    )


eloqua_export_contacts()
