"""Event registrants exported to a CSV file are imported into an Eloqua event in one task.

An upstream task writes the file into ELOQUA_EXAMPLE_OUTPUT_DIR (a local folder, or an object-storage
URL such as s3://... where tasks run on several machines), and EloquaImportOperator creates an
events/{id} import definition for this load alone, uploads, syncs, waits, checks that Eloqua
processed every row, and deletes the definition.
"""

from __future__ import annotations

import csv
import os
from datetime import timedelta

import pendulum
from airflow.sdk import ObjectStoragePath, dag, task

from airflow_provider_eloqua.operators.eloqua import EloquaImportOperator

EVENT_ID = int(os.environ.get("ELOQUA_EXAMPLE_EVENT_ID", "12"))
OUTPUT_DIR = os.environ.get("ELOQUA_EXAMPLE_OUTPUT_DIR", "/tmp/eloqua-example")


@dag(
    dag_id="eloqua_event_registrants_csv",
    schedule=None,
    doc_md=__doc__,  # shown on the DAG's page in the UI
    # Why retries, and why a short delay: README, "3. First run: the example DAGs".
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"rows": 40},
    tags=["eloqua", "example"],
)
def eloqua_event_registrants_csv():
    @task
    def export_registrants(run_id=None, params=None) -> str:
        """Stands in for an export job: writes registrants to a CSV file and returns its path."""
        path = ObjectStoragePath(OUTPUT_DIR) / run_id.replace(":", "_") / "registrants.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["emailAddress", "firstName", "lastName"])
            for n in range(1, int(params["rows"]) + 1):
                writer.writerow([f"guest{n}@example.com", f"Guest {n}", 'Müller, "Jr."'])
        return str(path)

    EloquaImportOperator(
        task_id="import_registrants",
        entity="events",
        parent_id=EVENT_ID,
        name="Airflow event registrants",
        fields={
            "emailAddress": "{{Event[%d].Field[1]}}" % EVENT_ID,
            "firstName": "{{Event[%d].Field[2]}}" % EVENT_ID,
            "lastName": "{{Event[%d].Field[3]}}" % EVENT_ID,
        },
        identifier_field_name="emailAddress",
        path=export_registrants(),
        poll_interval=float(os.environ.get("ELOQUA_EXAMPLE_POLL_SECONDS", "2")),
        timeout=float(os.environ.get("ELOQUA_EXAMPLE_TIMEOUT_SECONDS", "600")),
        rejects_path=OUTPUT_DIR + "/{{ run_id | replace(':', '_') }}/registrant_rejects.ndjson",
    )


eloqua_event_registrants_csv()
