"""A warehouse query loaded into Eloqua contacts in one task, its columns mapped to the site's fields.

seed_warehouse -> load_lead_scores

The query's column names are the Eloqua fields' own display or internal names (``Email Address``,
``C_FirstName``, ...), so ``fields`` is left out: the task reads the site's contact fields, maps each
column (case and surrounding spaces ignored), keys the records on the e-mail address and logs the
mapping it chose. An unknown column fails the task before anything is sent, naming the closest fields.

The warehouse here is a SQLite file (``apache-airflow-providers-sqlite``) seeded by the first task;
point ELOQUA_EXAMPLE_SQL_CONN_ID at any connection whose hook is a common.sql DbApiHook (PostgreSQL,
Snowflake, ...) and change the query. Settings: the ELOQUA_EXAMPLE_* variables in the README,
"3. First run: the example DAGs".
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import BaseHook, dag, task

from airflow_provider_eloqua.transfers.sql_to_eloqua import SqlToEloquaOperator

SQL_CONN_ID = os.environ.get("ELOQUA_EXAMPLE_SQL_CONN_ID", "eloqua_example_warehouse")
OUTPUT_DIR = os.environ.get("ELOQUA_EXAMPLE_OUTPUT_DIR", "/tmp/eloqua-example")


@dag(
    dag_id="eloqua_sql_to_contacts",
    schedule=None,
    doc_md=__doc__,  # shown on the DAG's page in the UI
    # Why retries, and why a short delay: README, "3. First run: the example DAGs".
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"rows": 50, "min_score": 40},
    tags=["eloqua", "example"],
)
def eloqua_sql_to_contacts():
    @task
    def seed_warehouse(params=None) -> None:
        """Stands in for the warehouse: a lead-score table (run against the connection's own database)."""
        hook = BaseHook.get_connection(SQL_CONN_ID).get_hook()
        hook.run(
            [
                "DROP TABLE IF EXISTS lead_scores",
                "CREATE TABLE lead_scores (email TEXT, first_name TEXT, last_name TEXT, company TEXT, score INTEGER)",
            ]
        )
        rows = [
            (f"lead{n}@example.com", f"First{n}", f"Last{n}", f"Company {n % 7}", n * 97 % 100)
            for n in range(1, int(params["rows"]) + 1)
        ]
        hook.insert_rows("lead_scores", rows, target_fields=["email", "first_name", "last_name", "company", "score"])

    load = SqlToEloquaOperator(
        task_id="load_lead_scores",
        sql_conn_id=SQL_CONN_ID,
        # Column names are the fields' display or internal names: no fields mapping to write.
        sql="""
            SELECT email      AS "Email Address",
                   first_name AS C_FirstName,
                   last_name  AS "last name",
                   company    AS Company
            FROM lead_scores
            WHERE score >= {{ params.min_score }}
            ORDER BY email
        """,
        entity="contacts",
        name="Airflow lead scores",
        update_rule="ifNewIsNotNull",
        rejects_path=OUTPUT_DIR + "/{{ run_id | replace(':', '_') }}/lead_score_rejects.csv",
        poll_interval=float(os.environ.get("ELOQUA_EXAMPLE_POLL_SECONDS", "2")),
        timeout=float(os.environ.get("ELOQUA_EXAMPLE_TIMEOUT_SECONDS", "600")),
    )
    seed_warehouse() >> load


eloqua_sql_to_contacts()
