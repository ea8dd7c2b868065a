"""Yesterday's EmailSend activities, exported to an NDJSON file every day.

One activity type per export, as Oracle advises: each run exports the EmailSend activities created
in its data interval (yesterday, midnight to midnight UTC) to
ELOQUA_EXAMPLE_OUTPUT_DIR/email_sends/<date>.ndjson, one JSON object per line. It waits until
ELOQUA_EXAMPLE_EXPORT_LAG (an hour, Oracle's advice: activities can arrive late) after midnight
before it asks Eloqua, deferred. A day of more than 5,000,000 sends (Eloqua's limit for one activity
sync) is exported in halves of the day, into the same file.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag

from airflow_provider_eloqua.operators.eloqua import EloquaExportOperator

OUTPUT_DIR = os.environ.get("ELOQUA_EXAMPLE_OUTPUT_DIR", "/tmp/eloqua-example")


@dag(
    dag_id="eloqua_export_email_sends",
    # Each run's data interval is the day before it (Airflow 3's plain "@daily" gives runs no interval).
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["eloqua", "example", "export"],
)
def eloqua_export_email_sends():
    EloquaExportOperator(
        task_id="export_email_sends",
        entity="activities",
        activity_type="EmailSend",
        name="Airflow email sends",
        fields={
            "ActivityId": "{{Activity.Id}}",
            "ExternalId": "{{Activity.ExternalId}}",
            "SentAt": "{{Activity.CreatedAt}}",
            "EmailAddress": "{{Activity.Field(EmailAddress)}}",
            "ContactId": "{{Activity.Contact.Id}}",
            "EmailName": "{{Activity.Asset.Name}}",
            "CampaignId": "{{Activity.Campaign.Id}}",
        },
        since="{{ data_interval_start }}",
        until="{{ data_interval_end }}",
        lag=os.environ.get("ELOQUA_EXAMPLE_EXPORT_LAG", "PT1H"),
        path=OUTPUT_DIR + "/email_sends/{{ data_interval_start | ds }}.ndjson",
        deferrable=True,
        poll_interval=float(os.environ.get("ELOQUA_EXAMPLE_POLL_SECONDS", "2")),
        timeout=float(os.environ.get("ELOQUA_EXAMPLE_TIMEOUT_SECONDS", "600")),
    )


eloqua_export_email_sends()
