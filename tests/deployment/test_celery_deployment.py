"""The CeleryExecutor topology: two Celery workers, Redis as the broker, PostgreSQL as the result backend.

The deployment (tests/deployment/harness.py, conftest.py's ``celery_deployment``) gives the Eloqua
and S3 connections to the workers and the triggerer only, as environment variables, and sends every
file a task writes to S3 (moto on loopback): nothing depends on a worker's local disk or memory.
"""

from __future__ import annotations

import csv
import io
import json

import boto3
import pytest

from airflow_provider_eloqua.emulator import DEFAULT_PASSWORD
from tests.deployment.conftest import S3_BUCKET
from tests.deployment.harness import WORKERS, Deployment, process_tree, wait_until

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(3600)]

SPLIT_DAG, DIES_DAG = "eloqua_split_across_workers", "eloqua_worker_dies"
#: As tests/deployment/dags/eloqua_celery_checks.py has them.
SPLIT_ROWS, SPLIT_INVALID, DIES_ROWS = 20, 2, 300


def s3_objects(deployment: Deployment) -> dict[str, bytes]:
    s3 = boto3.client(
        "s3",
        endpoint_url=deployment.s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="loopback-access-key",
        aws_secret_access_key="loopback-secret-key",
    )
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=S3_BUCKET).get("Contents", [])]
    return {key: s3.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read() for key in keys}


def test_every_example_dag_and_the_split_path_across_two_workers(celery_deployment: Deployment):
    deployment = celery_deployment
    deployment.emulator.configure(pending_polls=3, active_polls=3)  # the deferrable sensors really wait

    with deployment.phase("examples"):
        runs = deployment.run_examples(also=(SPLIT_DAG,))
    report = {
        dag_id: [
            {task: (ti["state"], ti["try_number"], ti["hostname"]) for task, ti in run["tasks"].items()}
            for run in dag_runs
        ]
        for dag_id, dag_runs in runs.items()
    }
    print(json.dumps(report, indent=1))
    print(deployment.timeline(runs))
    states = {dag_id: [run["state"] for run in dag_runs] for dag_id, dag_runs in runs.items()}
    assert all(dag_states and set(dag_states) == {"success"} for dag_states in states.values()), report

    # Both workers took tasks of the examples (queue `default`), and only the workers ran tasks.
    hostnames = {ti["hostname"] for dag_runs in runs.values() for run in dag_runs for ti in run["tasks"].values()}
    assert hostnames <= set(WORKERS), hostnames

    # The split path crossed workers: upload on worker_a, the deferred sensor resumed on worker_b.
    split_run = runs[SPLIT_DAG][0]
    assert split_run["tasks"]["upload"]["hostname"] == "worker_a"
    assert split_run["tasks"]["wait"]["hostname"] == "worker_b"
    split_emails = {f"split{n}@example.com" for n in range(SPLIT_INVALID + 1, SPLIT_ROWS + 1)}
    assert split_emails <= {record["identifier"].lower() for record in deployment.emulator.records("/contacts")}

    # Every file went to S3, none to a local folder: the sensor's rejects (written on worker_b) and
    # the registrants CSV an upstream task wrote for the import task to read.
    objects = s3_objects(deployment)
    split_key = f"checks/{split_run['run_id'].replace(':', '_')}/split_rejects.csv"
    rejects = list(csv.DictReader(io.StringIO(objects[split_key].decode())))
    assert len(rejects) == SPLIT_INVALID, rejects
    assert any(key.endswith("/registrants.csv") for key in objects), sorted(objects)
    assert not any(deployment.output.iterdir())
    assert len(deployment.emulator.records("/events/12")) == 40
    assert len(deployment.emulator.records("/accounts")) == 4

    # No secret in any log of any process (the connection lives in the workers' environment).
    texts = deployment.every_log_text()
    assert texts, "no log files found"
    assert [str(path) for path, text in texts.items() if DEFAULT_PASSWORD in text] == []


def test_a_worker_dies_mid_load_and_the_retry_on_the_other_loads_every_row_once(celery_deployment: Deployment):
    deployment = celery_deployment
    emulator = deployment.emulator
    emulator.configure(pending_polls=1, active_polls=1)
    emulator.clear_faults()
    # Two data POSTs go through, the third is held: the worker dies with two chunks staged and one on the wire.
    data_posts = r"/imports/\d+/data$"
    emulator.add_fault(method="POST", path=data_posts, action="delay", delay=0, times=2)
    emulator.add_fault(method="POST", path=data_posts, action="hold", times=1)
    with deployment.phase("kill: until the third POST"):
        deployment.wait_for_dags({DIES_DAG})
        run_id = deployment.trigger(DIES_DAG)
        wait_until(lambda: emulator.held() == 1, "the load's third data POST reaching the emulator", 600)
    load = deployment.task_instances(DIES_DAG, run_id)["load"]
    assert (load["state"], load["try_number"]) == ("running", 1), load
    first, other = load["hostname"], next(worker for worker in WORKERS if worker != load["hostname"])
    # The task's process (psutil) is one of that worker's descendants.
    assert load["pid"] in {proc.pid for proc in process_tree(deployment.processes[first].pid)}
    (load_definition,) = [
        d for d in emulator.state()["definitions"] if d["name"].startswith("deployment test: worker dies [airflow-load")
    ]
    assert 0 < load_definition["staged_rows"] < DIES_ROWS, load_definition

    with deployment.phase("kill: until the retry ends"):
        deployment.kill(first)
        assert deployment.wait_for_run(DIES_DAG, run_id) == "success"
    load = deployment.task_instances(DIES_DAG, run_id)["load"]
    assert (load["state"], load["try_number"], load["hostname"]) == ("success", 2, other), load

    # Every row exactly once: each input row is a record, and the load's syncs processed each row once.
    expected = {f"dies{n}@example.com" for n in range(1, DIES_ROWS + 1)}

    def loaded() -> set[str]:
        return {r["identifier"].lower() for r in emulator.records("/contacts") if r["identifier"].startswith("dies")}

    assert loaded() == expected
    syncs = [s for s in emulator.state()["syncs"] if s["syncedInstanceUri"] == load_definition["uri"]]
    assert [s["status"] for s in syncs] == ["success"] and sum(s["rows"] for s in syncs) == DIES_ROWS, syncs

    # The dead try's held POST, let go now, adds nothing: its load definition is gone with the load.
    emulator.release_held()
    wait_until(lambda: emulator.held() == 0, "the held POST answered", 120)
    assert loaded() == expected
    assert [s for s in emulator.state()["syncs"] if s["syncedInstanceUri"] == load_definition["uri"]] == syncs
