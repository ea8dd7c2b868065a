"""The real deployments (tests/deployment/harness.py) the deployment tests run against.

One venv and one PostgreSQL server (Airflow's schema migrated once, copied into a database per
deployment) serve both topologies; each deployment is started once for the tests that use it and
always stopped. After a failure its folder (process logs, Airflow's logs) is kept and printed for CI
to show; the artifacts folder (the connection form's screenshots) is always kept.

Two deployments, not one: Airflow can run a LocalExecutor and a CeleryExecutor side by side, but a
task runs on one of them, so the examples would have to be copied under other DAG ids or routed
by a cluster policy to run on both, and neither deployment would be one a user runs. The
LocalExecutor one (every example, the deferral seen in the task log, the connection form) is the
common deployment; the CeleryExecutor one (every example, the split path, a worker's death) is the
distributed one; they share what costs time without changing what runs (the venv, the server,
the migration).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_eloqua.emulator import airflow_connection_json
from benchmarks.deferred_wait import DAG_FILE as DEFERRED_WAIT_DAG
from tests.deployment.harness import Deployment, install_venv, migrate
from tests.deployment.postgres import DB_NAME, PostgresServer
from tests.system.s3_loopback import aws_connection_json, moto_server

#: The Celery topology's object store: moto's S3 server on loopback, reached through this connection.
S3_CONN_ID = "aws_loopback"
S3_BUCKET = "eloqua-deployment"
CELERY_DAGS = Path(__file__).parent / "dags" / "eloqua_celery_checks.py"


@pytest.fixture(scope="package")
def deployment_venv() -> Iterator[Path]:
    """Installed once for every topology."""
    folder = Path(tempfile.mkdtemp(prefix="eloqua-deploy-venv-"))
    started = time.monotonic()
    install_venv(folder / "venv", folder / "pip.log")
    print(f"\ndeployment venv {folder / 'venv'} installed in {time.monotonic() - started:.1f} s")
    yield folder / "venv"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="package")
def deployment_postgres(deployment_venv: Path) -> Iterator[tuple[PostgresServer, str]]:
    """One PostgreSQL server for every topology, and the name of its database that Airflow's schema is
    migrated into once; each deployment's metadata database is a copy of it."""
    started = time.monotonic()
    server = PostgresServer(durable=False)
    try:
        server.start()
        with tempfile.TemporaryDirectory(prefix="eloqua-deploy-migrate-log-") as folder:
            log = Path(folder) / "db-migrate.log"
            try:
                migrate(deployment_venv, server, DB_NAME, log)
            except RuntimeError:
                print(log.read_text(errors="replace")[-5000:] if log.exists() else "no migrate log")
                raise
        print(f"\ndeployment PostgreSQL started and migrated in {time.monotonic() - started:.1f} s")
        yield server, DB_NAME
    finally:
        started = time.monotonic()
        server.stop()
        print(
            f"\ndeployment PostgreSQL stopped in {time.monotonic() - started:.1f} s ({server.removed_in:.1f} s deleting it)"
        )


def _run(deployment: Deployment, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    print(f"\ndeployment folder: {deployment.root}\ndeployment artifacts: {deployment.artifacts}")
    failed_before = request.session.testsfailed
    started = False
    try:
        deployment.start()
        started = True
        yield deployment
    finally:
        deployment.stop()
        if started and request.session.testsfailed == failed_before:
            with deployment.phase("cleanup"):
                deployment.cleanup()
        else:
            print(f"deployment kept for inspection: {deployment.root}")
        print(f"\ndeployment timings ({deployment.executor}): {deployment.timings}")
        print(f"deployment CPU seconds by process ({deployment.executor}): {deployment.cpu_seconds}")


@pytest.fixture(scope="package")
def deployment(
    deployment_venv: Path, deployment_postgres: tuple[PostgresServer, str], request: pytest.FixtureRequest
) -> Iterator[Deployment]:
    """LocalExecutor, with the deferred-wait benchmark's DAG beside the examples; the Eloqua connection is
    created through the REST API by the tests that need it."""
    yield from _run(Deployment(deployment_venv, *deployment_postgres, extra_dags=(DEFERRED_WAIT_DAG,)), request)


@pytest.fixture(scope="module")
def celery_deployment(
    deployment_venv: Path, deployment_postgres: tuple[PostgresServer, str], request: pytest.FixtureRequest
) -> Iterator[Deployment]:
    """CeleryExecutor, two workers. The connections (Eloqua's, and the S3 store's) are environment
    variables of the workers and the triggerer only; every file the tasks write goes to S3."""
    import boto3

    with moto_server() as s3_endpoint:
        boto3.client(
            "s3",
            endpoint_url=s3_endpoint,
            region_name="us-east-1",
            aws_access_key_id="loopback-access-key",
            aws_secret_access_key="loopback-secret-key",
        ).create_bucket(Bucket=S3_BUCKET)
        deployment = Deployment(
            deployment_venv,
            *deployment_postgres,
            executor="CeleryExecutor",
            settings={
                "ELOQUA_EXAMPLE_OUTPUT_DIR": f"s3://{S3_CONN_ID}@{S3_BUCKET}/examples",
                "ELOQUA_DEPLOY_OUTPUT_DIR": f"s3://{S3_CONN_ID}@{S3_BUCKET}/checks",
            },
            extra_dags=(CELERY_DAGS,),
        )
        deployment.s3_endpoint = s3_endpoint
        deployment.runner_env = {
            "AIRFLOW_CONN_ELOQUA_DEFAULT": airflow_connection_json(deployment.emulator_url),
            f"AIRFLOW_CONN_{S3_CONN_ID.upper()}": aws_connection_json(s3_endpoint),
        }
        yield from _run(deployment, request)
