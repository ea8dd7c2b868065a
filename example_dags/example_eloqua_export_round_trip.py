"""A round trip: contacts exported from Eloqua, cleaned in Python, and imported back.

``export_contacts`` writes every contact of the contact list ELOQUA_EXAMPLE_CONTACT_LIST_ID (every
contact when it is empty) to a CSV file; ``normalise_countries`` reads it and writes the contacts
whose country is not written in upper case, upper-cased; ``import_contacts`` loads that file back,
keyed on the e-mail address. Each step checks its rows: the export that the file holds every row
Eloqua exported, the import that Eloqua processed every row it was given.
"""

from __future__ import annotations

import csv
import os
from datetime import timedelta

import pendulum
from airflow.sdk import ObjectStoragePath, dag, task

from airflow_provider_eloqua.operators.eloqua import EloquaExportOperator, EloquaImportOperator

OUTPUT_DIR = os.environ.get("ELOQUA_EXAMPLE_OUTPUT_DIR", "/tmp/eloqua-example")
LIST_ID = os.environ.get("ELOQUA_EXAMPLE_CONTACT_LIST_ID", "")
RUN_DIR = OUTPUT_DIR + "/round_trip/{{ run_id | replace(':', '_') }}"
POLL = float(os.environ.get("ELOQUA_EXAMPLE_POLL_SECONDS", "2"))
TIMEOUT = float(os.environ.get("ELOQUA_EXAMPLE_TIMEOUT_SECONDS", "600"))


@dag(
    dag_id="eloqua_export_round_trip",
    schedule=None,
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["eloqua", "example", "export"],
)
def eloqua_export_round_trip():
    exported = EloquaExportOperator(
        task_id="export_contacts",
        entity="contacts",
        name="Airflow round trip",
        fields={"Email": "{{Contact.Field(C_EmailAddress)}}", "Country": "{{Contact.Field(C_Country)}}"},
        member_of=f"ContactList[{LIST_ID}]" if LIST_ID else None,
        path=RUN_DIR + "/contacts.csv",
        poll_interval=POLL,
        timeout=TIMEOUT,
    )

    @task
    def normalise_countries(export: dict) -> str:
        """The contacts whose country changes, upper-cased, in a file beside the export."""
        source = ObjectStoragePath(export["path"])
        target = source.parent / "countries.csv"
        with (
            source.open("r", newline="", encoding="utf-8") as rows,
            target.open("w", newline="", encoding="utf-8") as out,
        ):
            writer = csv.writer(out)
            writer.writerow(["Email", "Country"])
            for row in csv.DictReader(rows):
                if row["Country"] != row["Country"].upper():
                    writer.writerow([row["Email"], row["Country"].upper()])
        return str(target)

    EloquaImportOperator(
        task_id="import_contacts",
        entity="contacts",
        name="Airflow round trip",
        fields={"Email": "{{Contact.Field(C_EmailAddress)}}", "Country": "{{Contact.Field(C_Country)}}"},
        identifier_field_name="Email",
        path=normalise_countries(exported.output),
        poll_interval=POLL,
        timeout=TIMEOUT,
    )


eloqua_export_round_trip()
