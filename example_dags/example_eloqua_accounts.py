"""Accounts are loaded nightly from one long-lived import definition, found again by name.

reuse_existing=True: the first run creates the definition, every later run finds it again instead
of piling up one definition per run. Each load stages into a copy of its own, so overlapping runs
never mix their rows (README, "Nothing lost, nothing doubled: the guarantees").
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
    # Why retries, and why a short delay: README, "3. First run: the example DAGs".
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
