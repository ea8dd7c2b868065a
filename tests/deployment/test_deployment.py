"""Every example DAG, triggered through the REST API of a real deployment, must succeed.

The deployment (tests/deployment/harness.py): the provider pip-installed into a fresh venv, the
emulator as its own process, PostgreSQL as the metadata DB, and Airflow's scheduler, triggerer,
dag-processor and api-server as separate processes. Nothing here runs in-process.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_eloqua.emulator import DEFAULT_PASSWORD
from tests.deployment.harness import Deployment

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(3600)]

#: dag_id -> the example's deferrable task (None: the example waits in its own task, polling)
EXAMPLES = {
    "eloqua_contacts_import": "wait_for_contact_sync",
    "eloqua_accounts_reuse": None,
    "eloqua_contact_list_sync_action": None,
    "eloqua_event_registrants_csv": None,
}


def test_every_example_dag_succeeds_in_a_real_deployment(deployment: Deployment):
    deployment.api("POST", "/connections", json=deployment.eloqua_connection(), expect=201)
    # Each sync takes several status polls to end, so the deferrable sensor really waits.
    deployment.emulator.configure(pending_polls=3, active_polls=3)
    deployment.wait_for_dags(set(EXAMPLES))

    runs = {dag_id: deployment.trigger(dag_id) for dag_id in EXAMPLES}
    states = {dag_id: deployment.wait_for_run(dag_id, run_id) for dag_id, run_id in runs.items()}
    tasks = {dag_id: deployment.task_instances(dag_id, run_id) for dag_id, run_id in runs.items()}
    report = {dag_id: {t: (ti["state"], ti["try_number"]) for t, ti in tis.items()} for dag_id, tis in tasks.items()}
    print(json.dumps(report, indent=1))
    assert states == dict.fromkeys(EXAMPLES, "success"), report

    # What the DAGs loaded arrived, once.
    assert len(deployment.emulator.records("/contacts")) >= 25
    assert len(deployment.emulator.records("/events/12")) == 40
    assert len(deployment.emulator.records("/accounts")) == 4

    # The deferrable sensor was deferred and resumed by the triggerer: its log, fetched through the
    # REST API, merges the worker's and the triggerer's files, in this order.
    dag_id = "eloqua_contacts_import"
    sensor = tasks[dag_id][EXAMPLES[dag_id]]
    log = deployment.task_log(dag_id, runs[dag_id], sensor["task_id"], sensor["try_number"])
    (deployment.artifacts / "wait_for_contact_sync.log.jsonl").write_text(log)
    events = [str(entry.get("event")) for entry in map(json.loads, log.splitlines())]
    sources = [e for e in events if e.endswith(".log") and "/task_id=wait_for_contact_sync/" in e]
    assert any(".log.trigger." in source for source in sources), sources  # the triggerer wrote to it
    deferred = next(i for i, e in enumerate(events) if e.startswith("Pausing task as DEFERRED"))
    started = next(i for i, e in enumerate(events) if e.startswith("trigger ") and e.endswith(" starting"))
    fired = events.index("Trigger fired event")
    resumed = next(i for i, e in enumerate(events) if e.startswith("Eloqua sync summary: "))
    assert deferred < started < fired < resumed, events
    assert json.loads(events[resumed].removeprefix("Eloqua sync summary: "))["status"] == "success"

    # No secret anywhere: every log file of every process and Airflow's log folder, and the REST log.
    texts = deployment.every_log_text()
    assert texts, "no log files found"
    leaked = [str(path) for path, text in texts.items() if DEFAULT_PASSWORD in text]
    assert leaked == []
    assert DEFAULT_PASSWORD not in log
