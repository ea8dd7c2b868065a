"""Accounts are loaded nightly from one long-lived import definition, found again by name.

reuse_existing=True means the first run creates the definition and every later run finds it again,
instead of piling up one definition per run. It is a template: each load copies it into a
definition of its own, stages and syncs there, and deletes the copy once its sync is reported, so
overlapping runs, backfills or another DAG using the same definition never mix their rows.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import dag

from airflow_provider_eloqua.operators.eloqua import EloquaCreateImportOperator, EloquaImportOperator

ACCOUNTS = [
    {"CompanyName": "Acme Corp", "Country": "US", "City": "Springfield"},
    {"CompanyName": "Globex", "Country": "US", "City": "Cypress Creek"},
    {"CompanyName": "Initech", "Country": "US", "City": "Austin"},
    {"CompanyName": "Umbrella", "Country": "UK", "City": "London"},
]


@dag(
    dag_id="eloqua_accounts_reuse",
    schedule=None,
    doc_md=__doc__,  # shown on the DAG's page in the UI
    # Retries are safe: a retried load or wait reattaches to the sync its first try started instead
    # of uploading again. They also recover Airflow 3.3's LocalExecutor race that can fail a
    # deferred task whose trigger fired within seconds (apache/airflow#67287); the short delay
    # keeps that recovery quick.
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["eloqua", "example"],
)
def eloqua_accounts_reuse():
    definition = EloquaCreateImportOperator(
        task_id="account_import_definition",
        entity="accounts",
        name="Airflow nightly accounts",
        fields={
            "CompanyName": "{{Account.Field(M_CompanyName)}}",
            "Country": "{{Account.Field(M_Country)}}",
            "City": "{{Account.Field(M_City)}}",
        },
        identifier_field_name="CompanyName",
        update_rule="ifNewIsNotNull",
        reuse_existing=True,
    )
    EloquaImportOperator(
        task_id="load_accounts",
        definition_uri=definition.output,
        data=ACCOUNTS,
        poll_interval=float(os.environ.get("ELOQUA_EXAMPLE_POLL_SECONDS", "2")),
        timeout=float(os.environ.get("ELOQUA_EXAMPLE_TIMEOUT_SECONDS", "600")),
    )


eloqua_accounts_reuse()
