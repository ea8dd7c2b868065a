"""Every example DAG, triggered through the REST API of a real deployment, must succeed.

The deployment (tests/deployment/harness.py): the provider pip-installed into a fresh venv, the
emulator as its own process, PostgreSQL as the metadata DB, and Airflow's scheduler (LocalExecutor),
triggerer, dag-processor and api-server as separate processes. Nothing here runs in-process. The
CeleryExecutor topology is test_celery_deployment.py's. The deferred-wait benchmark's smoke run
measures on this deployment too: its scheduler and triggerer are already up.
"""

from __future__ import annotations

import json
import time

import pytest

from airflow_provider_eloqua.emulator import DEFAULT_PASSWORD
from benchmarks.deferred_wait import AirflowApi, measure
from tests.deployment.harness import ADMIN_USER, Deployment

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(3600)]

#: The example whose sensor defers: its log must show the triggerer's part.
DEFERRING_DAG, DEFERRING_TASK = "eloqua_contacts_import", "wait_for_contact_sync"


#: The deferred-wait smoke's sync ends at its fifth status GET (pending, then active, then done): a
#: deferral of a few seconds, which the benchmark's 0.2 s look at the sensor's state cannot miss.
POLLS = 4


@pytest.fixture(scope="module")
def eloqua_default(deployment: Deployment) -> Deployment:
    """``eloqua_default`` created through the REST API, as a user creates it."""
    deployment.api("POST", "/connections", json=deployment.eloqua_connection(), expect=201)
    return deployment


def test_every_example_dag_succeeds_in_a_real_deployment(eloqua_default: Deployment):
    deployment = eloqua_default
    # Each sync takes several status polls to end, so the deferrable sensor really waits.
    deployment.emulator.configure(pending_polls=3, active_polls=3)

    with deployment.phase("examples"):
        runs = deployment.run_examples()  # every DAG of every file in example_dags/
    report = {
        dag_id: [{task: (ti["state"], ti["try_number"]) for task, ti in run["tasks"].items()} for run in dag_runs]
        for dag_id, dag_runs in runs.items()
    }
    print(json.dumps(report, indent=1))
    print(deployment.timeline(runs))
    states = {dag_id: [run["state"] for run in dag_runs] for dag_id, dag_runs in runs.items()}
    assert all(dag_states and set(dag_states) == {"success"} for dag_states in states.values()), report

    # What the DAGs loaded arrived, once.
    assert len(deployment.emulator.records("/contacts")) >= 25
    assert len(deployment.emulator.records("/events/12")) == 40
    assert len(deployment.emulator.records("/accounts")) == 4

    # The deferrable sensor was deferred and resumed by the triggerer: its log, fetched through the
    # REST API, merges the worker's and the triggerer's files, in this order.
    (run,) = runs[DEFERRING_DAG]
    for _ in range(2):
        if run["tasks"][DEFERRING_TASK]["try_number"] == 1:
            break
        # apache/airflow#67287: the LocalExecutor failed the try whose trigger fired before the executor
        # had reported the deferral, and the retry found the sync ended without deferring. Another run.
        run_id = deployment.trigger(DEFERRING_DAG)
        assert deployment.wait_for_run(DEFERRING_DAG, run_id) == "success"
        run = {"run_id": run_id, "tasks": deployment.task_instances(DEFERRING_DAG, run_id)}
    sensor = run["tasks"][DEFERRING_TASK]
    log = deployment.task_log(DEFERRING_DAG, run["run_id"], DEFERRING_TASK, sensor["try_number"])
    (deployment.artifacts / f"{DEFERRING_TASK}.log.jsonl").write_text(log)
    events = [str(entry.get("event")) for entry in map(json.loads, log.splitlines())]
    sources = [e for e in events if e.endswith(".log") and f"/task_id={DEFERRING_TASK}/" in e]
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


def test_the_deferred_wait_benchmark_runs_and_counts(eloqua_default: Deployment):
    """``benchmarks.deferred_wait.measure``, which ``make bench`` runs on `airflow standalone` with one worker
    slot, on this deployment: it triggers its DAG, follows the deferrable sensor and counts the status GETs.
    It proves the benchmark runs and counts, not that the machine was fast, nor where the probe ran (16
    slots here): those are ``make bench``'s to report."""
    deployment = eloqua_default
    api = AirflowApi(deployment.api_url, ADMIN_USER, deployment.admin_password)
    result = measure(api, deployment.emulator, polls=POLLS, poll_seconds=1.0, deadline=time.time() + 600)
    print(json.dumps(result, indent=1))

    assert result["dag_run"] == "success", result
    assert result["probe_state"] == "success", result
    assert "deferred" in result["sensor_states"], result
    # The emulated sync ends on its (POLLS + 1)th status GET: the benchmark saw every one of them.
    assert result["sync_gets_total"] >= POLLS + 1, result
    assert 0 <= result["sync_gets_in_deferral"] <= result["sync_gets_total"], result
    assert isinstance(result["probe_ran_inside_deferral"], bool), result
